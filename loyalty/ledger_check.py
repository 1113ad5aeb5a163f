"""Proof that balances and the ledger agree, for the practice the connection is in (read-only).

Used by `manage.py check_ledger` and by the tests. A few set-based queries, whatever the size of the
ledger: the balance_after chain is checked with a window function, the totals with one aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from .models import LedgerEntry, PointsAccount


@dataclass(frozen=True)
class Discrepancy:
    account_id: int
    patient_id: int
    problem: str

    def __str__(self) -> str:
        return f"account {self.account_id} (patient {self.patient_id}): {self.problem}"


@dataclass(frozen=True)
class LedgerReport:
    schema_name: str
    account_count: int
    entry_count: int
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def is_consistent(self) -> bool:
        return not self.discrepancies

    def summary(self) -> str:
        return (
            f"{self.schema_name}: {self.account_count:,} accounts, {self.entry_count:,} entries, "
            f"{len(self.discrepancies):,} discrepancies"
        )


# Per account: its totals from the ledger, the first entry whose balance_after does not follow from
# the one before (ordered by id, the order they were written under the account's lock), and the
# lowest balance_after. Only accounts with something wrong come back.
CHECK_SQL = """
WITH chain AS (
    SELECT id, account_id, balance_after,
           COALESCE(LAG(balance_after) OVER (PARTITION BY account_id ORDER BY id), 0) + delta AS expected
    FROM {entries}
),
first_break AS (
    SELECT DISTINCT ON (account_id) account_id, id, balance_after, expected
    FROM chain
    WHERE balance_after <> expected
    ORDER BY account_id, id
),
totals AS (
    SELECT account_id,
           SUM(delta) AS total,
           COALESCE(SUM(delta) FILTER (WHERE kind = ANY(%(earning_kinds)s) AND delta > 0), 0) AS earned,
           MIN(balance_after) AS lowest,
           MIN(id) FILTER (WHERE balance_after < 0) AS first_negative
    FROM {entries}
    GROUP BY account_id
)
SELECT a.id, a.patient_id, a.balance, COALESCE(t.total, 0), a.lifetime_earned, COALESCE(t.earned, 0),
       b.id, b.balance_after, b.expected, t.first_negative, t.lowest
FROM {accounts} a
LEFT JOIN totals t ON t.account_id = a.id
LEFT JOIN first_break b ON b.account_id = a.id
WHERE a.balance <> COALESCE(t.total, 0)
   OR a.lifetime_earned <> COALESCE(t.earned, 0)
   OR b.id IS NOT NULL
   OR t.first_negative IS NOT NULL
ORDER BY a.id
"""


def check_ledger() -> LedgerReport:
    """Check every account of the current practice against its entries; reads only, returns what disagrees."""
    entries = connection.ops.quote_name(LedgerEntry._meta.db_table)
    accounts = connection.ops.quote_name(PointsAccount._meta.db_table)
    discrepancies: list[Discrepancy] = []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT COUNT(*) FROM {accounts}), (SELECT COUNT(*) FROM {entries})")  # noqa: S608
        account_count, entry_count = cursor.fetchone()
        cursor.execute(
            CHECK_SQL.format(entries=entries, accounts=accounts),
            {"earning_kinds": [str(kind) for kind in LedgerEntry.EARNING_KINDS]},
        )
        for row in cursor.fetchall():
            discrepancies.extend(_problems(*row))
    return LedgerReport(
        schema_name=connection.schema_name,
        account_count=account_count,
        entry_count=entry_count,
        discrepancies=discrepancies,
    )


def _problems(
    account_id: int,
    patient_id: int,
    balance: int,
    total: int,
    lifetime_earned: int,
    earned: int,
    break_id: int | None,
    break_balance_after: int | None,
    break_expected: int | None,
    negative_id: int | None,
    lowest: int | None,
) -> list[Discrepancy]:
    problems = []
    if balance != total:
        problems.append(f"balance is {balance:,} but its entries add up to {total:,}")
    if break_id is not None:
        problems.append(
            f"entry {break_id} has balance_after {break_balance_after:,}, expected {break_expected:,} "
            "(the previous balance_after plus its delta)"
        )
    if negative_id is not None:
        problems.append(f"entry {negative_id} leaves a negative balance (lowest balance_after {lowest:,})")
    if lifetime_earned != earned:
        problems.append(f"lifetime earned is {lifetime_earned:,} but its earning entries add up to {earned:,}")
    return [Discrepancy(account_id=account_id, patient_id=patient_id, problem=problem) for problem in problems]
