"""The daily rollups: the same grouped queries build the tables (for whole past days) and give the dashboard
the days after them (today, usually) straight from the raw rows, so both always agree.

Days are the practice's calendar days. A day is rolled up once it ended at least `MARGIN` ago, so no
transaction still open can add a row dated that day. Ledger entries, refunds, vouchers, joins and share-link
visits are dated when they are written, so a rolled-up day never changes; a purchase can be dated in the
past (an import, a POS sending an old sale), so purchases are also tracked by id: rows above the watermark
are read raw whatever their date, and the next build re-rolls the days they fell on.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from loyalty.models import LedgerEntry
from rewards.models import Redemption

from .models import (
    VISITOR_CHUNK_BITS,
    DailyMembers,
    DailyPoints,
    DailyPurchases,
    DailyRewards,
    DailyVisitors,
    DailyVisits,
    EarnerRanking,
    RollupState,
)
from .periods import ONE_DAY, start_of_day

logger = logging.getLogger(__name__)

MARGIN = timedelta(hours=1)
ALL_KINDS = [kind.value for kind in LedgerEntry.Kind]
EARNING_KINDS = [kind.value for kind in LedgerEntry.EARNING_KINDS]
ROLLUP_MODELS = [DailyPoints, DailyMembers, DailyPurchases, DailyVisitors, DailyRewards, DailyVisits]

# ---------------------------------------------------------------- the grouped queries
# Each takes %(zone)s and a range; the day is the row's date on the practice's calendar.

# Every kind is listed so the (kind, created_at) index serves the date range.
POINTS_SQL = """
    SELECT (e.created_at AT TIME ZONE %(zone)s)::date AS day, e.kind,
           COALESCE(SUM(e.delta) FILTER (WHERE e.delta > 0), 0) AS points_in,
           COALESCE(-SUM(e.delta) FILTER (WHERE e.delta < 0), 0) AS points_out,
           COUNT(*) AS entry_count
    FROM loyalty_ledgerentry e
    WHERE e.kind = ANY(%(kinds)s) AND e.created_at >= %(start)s AND e.created_at < %(end)s
    GROUP BY 1, 2
"""

MEMBERS_SQL = """
    SELECT (p.joined_at AT TIME ZONE %(zone)s)::date AS day, COUNT(*) AS joined_count
    FROM patients_patient p
    WHERE p.joined_at >= %(start)s AND p.joined_at < %(end)s
    GROUP BY 1
"""

# Which purchases a query reads: by date up to the watermark (a build), or everything dated from the
# cutoff plus what was recorded after the watermark, whatever its date (the dashboard's raw part).
ROLLED_PURCHASES = "p.purchased_at >= %(start)s AND p.purchased_at < %(end)s AND p.id <= %(watermark)s"
RAW_PURCHASES = """(
    (p.purchased_at >= %(cutoff)s AND p.purchased_at < %(end)s)
    OR (p.id > %(watermark)s AND p.purchased_at >= %(start)s AND p.purchased_at < %(cutoff)s)
)"""

# A purchase is "before joining" when the patient had not joined (yet) when it was made; the referral
# is the one that brought the patient (a rejected code brought no one). Both never change afterwards.
# The patient and the referral are looked up per row (OFFSET 0 keeps the planner from turning the
# lookups into a scan of every patient): a day's purchases are few next to the patients.
PATIENT_OF_PURCHASE = """
    JOIN LATERAL (SELECT joined_at FROM patients_patient WHERE id = p.patient_id OFFSET 0) pt ON true
"""
REFERRAL_OF_PURCHASE = """
    LEFT JOIN LATERAL (
        SELECT owner_kind, source FROM referrals_referral
        WHERE referred_id = p.patient_id AND status <> 'rejected' OFFSET 0
    ) r ON true
"""

PURCHASES_SQL = f"""
    SELECT x.day, x.before_joining, x.referred_by, x.referral_source,
           SUM(x.purchases) AS purchase_count, SUM(x.spend) AS spend_cents,
           SUM(x.refunds) AS refund_count, SUM(x.refunded) AS refund_cents
    FROM (
        SELECT (p.purchased_at AT TIME ZONE %(zone)s)::date AS day,
               (pt.joined_at IS NULL OR p.purchased_at < pt.joined_at) AS before_joining,
               COALESCE(r.owner_kind, '') AS referred_by, COALESCE(r.source, '') AS referral_source,
               1 AS purchases, p.total_cents AS spend, 0 AS refunds, 0 AS refunded
        FROM loyalty_purchase p {PATIENT_OF_PURCHASE} {REFERRAL_OF_PURCHASE}
        WHERE {{purchases}}
        UNION ALL
        SELECT (f.created_at AT TIME ZONE %(zone)s)::date,
               (pt.joined_at IS NULL OR p.purchased_at < pt.joined_at),
               COALESCE(r.owner_kind, ''), COALESCE(r.source, ''),
               0, 0, 1, f.amount_cents
        FROM loyalty_refund f
        JOIN loyalty_purchase p ON p.id = f.purchase_id {PATIENT_OF_PURCHASE} {REFERRAL_OF_PURCHASE}
        WHERE f.created_at >= %(refunds_from)s AND f.created_at < %(end)s
    ) x
    GROUP BY 1, 2, 3, 4
"""  # noqa: S608 (constants only)

# Purchases per patient and day (the dashboard's raw part of the distinct-patient counts).
PURCHASERS_SQL = f"""
    SELECT (p.purchased_at AT TIME ZONE %(zone)s)::date AS day, p.patient_id,
           (pt.joined_at IS NULL OR p.purchased_at < pt.joined_at) AS before_joining, COUNT(*) AS purchases
    FROM loyalty_purchase p {PATIENT_OF_PURCHASE}
    WHERE {{purchases}}
    GROUP BY 1, 2, 3
"""  # noqa: S608 (constants only)

# The same, folded into one bitmap per day and chunk of patient ids.
VISITORS_SQL = f"""
    SELECT v.day, v.patient_id / {VISITOR_CHUNK_BITS} AS chunk,
           bit_or(v.bit) FILTER (WHERE NOT v.before_joining) AS member_once,
           bit_or(v.bit) FILTER (WHERE NOT v.before_joining AND v.purchases >= 2) AS member_twice,
           bit_or(v.bit) FILTER (WHERE v.before_joining) AS before_once,
           bit_or(v.bit) FILTER (WHERE v.before_joining AND v.purchases >= 2) AS before_twice
    FROM (
        SELECT b.*, set_bit(B'0'::bit({VISITOR_CHUNK_BITS}), (b.patient_id %% {VISITOR_CHUNK_BITS})::int, 1) AS bit
        FROM ({PURCHASERS_SQL}) b
    ) v
    GROUP BY 1, 2
"""  # noqa: S608 (constants only)

# Vouchers: redeemed (with their cost), used and cancelled, each on its own day; one pass over the table.
REWARDS_SQL = """
    SELECT (ev.at AT TIME ZONE %(zone)s)::date AS day, r.reward_id,
           COUNT(*) FILTER (WHERE ev.what = 'issued') AS issued_count,
           COALESCE(SUM(r.points_cost) FILTER (WHERE ev.what = 'issued'), 0) AS points_spent,
           COUNT(*) FILTER (WHERE ev.what = 'used') AS used_count,
           COUNT(*) FILTER (WHERE ev.what = 'cancelled') AS cancelled_count
    FROM rewards_redemption r
    CROSS JOIN LATERAL (
        VALUES ('issued', r.created_at), ('used', r.used_at), ('cancelled', r.cancelled_at)
    ) AS ev(what, at)
    WHERE ev.at >= %(start)s AND ev.at < %(end)s AND {vouchers}
    GROUP BY 1, 2
"""
# The vouchers the raw part can concern, found through the (status, expires_at) index: one redeemed or
# used since `start` expires after it; a cancelled one may have been cancelled after its date had passed.
RECENT_VOUCHERS = """(
    (r.status = ANY(%(statuses)s) AND r.expires_at >= %(start)s)
    OR (r.status = 'cancelled' AND r.cancelled_at >= %(start)s)
)"""
VOUCHER_STATUSES = [status.value for status in Redemption.Status]

VISITS_SQL = """
    SELECT v.day, c.owner_kind, v.source, SUM(v.count) AS visit_count
    FROM referrals_visit v
    JOIN referrals_referralcode c ON c.id = v.code_id
    WHERE v.day >= %(first_day)s AND v.day <= %(last_day)s
    GROUP BY 1, 2, 3
"""

EARNERS_SQL = """
    SELECT e.account_id, SUM(e.delta) AS points
    FROM loyalty_ledgerentry e
    WHERE e.kind = ANY(%(kinds)s) AND e.delta > 0 AND e.created_at >= %(start)s AND e.created_at < %(end)s
    {accounts}
    GROUP BY 1
"""


@contextmanager
def custom_plans():
    """A transaction in which PostgreSQL plans each query for its own dates and ids. Statements the
    connection prepares (settings: prepare_threshold) otherwise switch to a generic plan after a few runs,
    and a generic plan cannot see that a date range holds one day of rows: it scans the purchases."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield


def fetch(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# ---------------------------------------------------------------- what the rollups cover


@dataclass(frozen=True)
class Coverage:
    """Where the rollups end for the dashboard: whole days through `rolled_through` come from the tables;
    the days after, and purchases above `watermark`, from the raw rows."""

    zone: ZoneInfo
    rolled_through: date | None
    watermark: int

    def rolled_days(self, first_day: date, last_day: date) -> tuple[date, date] | None:
        """The part of [first_day, last_day] the rollups hold, if any."""
        if self.rolled_through is None or first_day > self.rolled_through:
            return None
        return first_day, min(last_day, self.rolled_through)

    def raw_start(self, first_day: date, last_day: date) -> datetime | None:
        """Where the raw part of [first_day, last_day] starts, or None when the rollups hold all of it."""
        if self.rolled_through is not None and last_day <= self.rolled_through:
            return None
        if self.rolled_through is None or first_day > self.rolled_through:
            return start_of_day(first_day, self.zone)
        return start_of_day(self.rolled_through + ONE_DAY, self.zone)


def coverage(zone: ZoneInfo) -> Coverage:
    state = RollupState.objects.filter(pk=1).first()
    if state is None or state.time_zone != zone.key:
        return Coverage(zone=zone, rolled_through=None, watermark=0)
    return Coverage(zone=zone, rolled_through=state.rolled_through, watermark=state.purchase_watermark)


def purchase_params(cover: Coverage, first_day: date, last_day: date) -> dict:
    """Parameters for RAW_PURCHASES over [first_day, last_day]: the days after the rollups, and purchases
    recorded after the build (id above the watermark) even when dated on rolled-up days."""
    start = start_of_day(first_day, cover.zone)
    end = start_of_day(last_day + ONE_DAY, cover.zone)
    raw_start = cover.raw_start(first_day, last_day)
    cutoff = raw_start if raw_start is not None else end
    return {"zone": cover.zone.key, "start": start, "end": end, "cutoff": cutoff, "watermark": cover.watermark}


# ---------------------------------------------------------------- rows per day, rolled up or raw


@dataclass(frozen=True)
class Grouping:
    """Rolled-up days summed per bucket of a period (a day, a week or a month; `size=None`: the whole
    period), and the days before the period as one. Each row keeps a day: the first day of its bucket
    within the period, or `before`, so callers handle them like day rows, only fewer."""

    split: date
    before: date
    size: str | None

    def sql(self) -> str:
        bucket = "GREATEST(date_trunc(%(size)s, day)::date, %(split)s)" if self.size else "%(split)s"
        return f"CASE WHEN day >= %(split)s THEN {bucket} ELSE %(before)s END"

    def params(self) -> dict:
        return {"split": self.split, "before": self.before, "size": self.size}


def _rolled(table: str, keys: list[str], sums: list[str], span: tuple[date, date], grouping: Grouping | None):
    """(day, *keys, *sums) of a rollup table over `span`, per day or summed per `grouping`."""
    day = grouping.sql() if grouping else "day"
    columns = ", ".join([f"{day} AS day", *keys, *(f"SUM({column})::bigint" for column in sums)])
    group_by = ", ".join(str(position) for position in range(1, len(keys) + 2))
    where = "day >= %(first)s AND day <= %(last)s"
    sql = f"SELECT {columns} FROM {table} WHERE {where} GROUP BY {group_by}"  # noqa: S608 (names from this module)
    return fetch(sql, {"first": span[0], "last": span[1], **(grouping.params() if grouping else {})})


def points_days(cover: Coverage, first_day: date, last_day: date, grouping: Grouping | None = None) -> list[tuple]:
    """(day, kind, points_in, points_out) for every day of the range."""
    rows = []
    if span := cover.rolled_days(first_day, last_day):
        rows += _rolled("analytics_dailypoints", ["kind"], ["points_in", "points_out"], span, grouping)
    if (raw_start := cover.raw_start(first_day, last_day)) is not None:
        end = start_of_day(last_day + ONE_DAY, cover.zone)
        params = {"zone": cover.zone.key, "kinds": ALL_KINDS, "start": raw_start, "end": end}
        rows += [row[:4] for row in fetch(POINTS_SQL, params)]
    return rows


def _raw_before(cover: Coverage, day: date) -> tuple[datetime | None, datetime] | None:
    """The raw part of "everything before `day`": (from, to), from None meaning the beginning."""
    end = start_of_day(day, cover.zone)
    if cover.rolled_through is None:
        return None, end
    raw_from = start_of_day(cover.rolled_through + ONE_DAY, cover.zone)
    return (raw_from, end) if raw_from < end else None


def net_points_before(cover: Coverage, day: date) -> int:
    """The sum of every ledger entry dated before `day`: what all balances added up to then."""
    total = 0
    if cover.rolled_through is not None:
        rolled = DailyPoints.objects.filter(day__lt=day, day__lte=cover.rolled_through)
        total += rolled.aggregate(net=Sum(F("points_in") - F("points_out")))["net"] or 0
    if raw := _raw_before(cover, day):
        raw_from, end = raw
        sql = "SELECT COALESCE(SUM(delta), 0) FROM loyalty_ledgerentry WHERE created_at < %(end)s"
        if raw_from is not None:
            sql += " AND kind = ANY(%(kinds)s) AND created_at >= %(start)s"
        total += fetch(sql, {"end": end, "kinds": ALL_KINDS, "start": raw_from})[0][0]
    return total


def members_joined_before(cover: Coverage, day: date) -> int:
    """Patients who had joined before `day` (whatever they did since)."""
    total = 0
    if cover.rolled_through is not None:
        rolled = DailyMembers.objects.filter(day__lt=day, day__lte=cover.rolled_through)
        total += rolled.aggregate(joined=Sum("joined_count"))["joined"] or 0
    if raw := _raw_before(cover, day):
        raw_from, end = raw
        sql = "SELECT COUNT(*) FROM patients_patient WHERE joined_at < %(end)s"
        if raw_from is not None:
            sql += " AND joined_at >= %(start)s"
        total += fetch(sql, {"end": end, "start": raw_from})[0][0]
    return total


def member_days(cover: Coverage, first_day: date, last_day: date, grouping: Grouping | None = None) -> list[tuple]:
    """(day, joined_count)."""
    rows = []
    if span := cover.rolled_days(first_day, last_day):
        rows += _rolled("analytics_dailymembers", [], ["joined_count"], span, grouping)
    if (raw_start := cover.raw_start(first_day, last_day)) is not None:
        end = start_of_day(last_day + ONE_DAY, cover.zone)
        rows += fetch(MEMBERS_SQL, {"zone": cover.zone.key, "start": raw_start, "end": end})
    return rows


def purchase_days(cover: Coverage, first_day: date, last_day: date, grouping: Grouping | None = None) -> list[tuple]:
    """(day, before_joining, referred_by, referral_source, purchase_count, spend_cents, refund_count, refund_cents)."""
    rows = []
    if span := cover.rolled_days(first_day, last_day):
        keys = ["before_joining", "referred_by", "referral_source"]
        sums = ["purchase_count", "spend_cents", "refund_count", "refund_cents"]
        rows += _rolled("analytics_dailypurchases", keys, sums, span, grouping)
    params = purchase_params(cover, first_day, last_day)
    late = fetch("SELECT 1 FROM loyalty_purchase WHERE id > %s LIMIT 1", [cover.watermark])
    if params["cutoff"] < params["end"] or late:
        # Refunds are dated when written: only the raw days have new ones.
        params["refunds_from"] = params["cutoff"]
        rows += fetch(PURCHASES_SQL.format(purchases=RAW_PURCHASES), params)
    return rows


def raw_purchasers(cover: Coverage, first_day: date, last_day: date) -> list[tuple]:
    """(day, patient_id, before_joining, purchases) for the purchases the rollups do not hold yet."""
    params = purchase_params(cover, first_day, last_day)
    return fetch(PURCHASERS_SQL.format(purchases=RAW_PURCHASES), params)


def reward_days(cover: Coverage, first_day: date, last_day: date, grouping: Grouping | None = None) -> list[tuple]:
    """(day, reward_id, issued_count, points_spent, used_count, cancelled_count)."""
    rows = []
    if span := cover.rolled_days(first_day, last_day):
        sums = ["issued_count", "points_spent", "used_count", "cancelled_count"]
        rows += _rolled("analytics_dailyrewards", ["reward_id"], sums, span, grouping)
    if (raw_start := cover.raw_start(first_day, last_day)) is not None:
        end = start_of_day(last_day + ONE_DAY, cover.zone)
        params = {"zone": cover.zone.key, "start": raw_start, "end": end, "statuses": VOUCHER_STATUSES}
        rows += fetch(REWARDS_SQL.format(vouchers=RECENT_VOUCHERS), params)
    return rows


def visit_days(cover: Coverage, first_day: date, last_day: date, grouping: Grouping | None = None) -> list[tuple]:
    """(day, owner_kind, source, visit_count)."""
    rows = []
    if span := cover.rolled_days(first_day, last_day):
        rows += _rolled("analytics_dailyvisits", ["owner_kind", "source"], ["visit_count"], span, grouping)
    if (raw_start := cover.raw_start(first_day, last_day)) is not None:
        raw_first = raw_start.astimezone(cover.zone).date()
        rows += fetch(VISITS_SQL, {"first_day": raw_first, "last_day": last_day})
    return rows


# ---------------------------------------------------------------- the daily build


def earliest_day(zone: ZoneInfo) -> date | None:
    """The first day anything happened in the practice (where a first build starts)."""
    sql = """
        SELECT LEAST(
            (SELECT MIN(created_at) FROM loyalty_ledgerentry),
            (SELECT MIN(purchased_at) FROM loyalty_purchase),
            (SELECT MIN(joined_at) FROM patients_patient),
            (SELECT MIN(created_at) FROM rewards_redemption),
            (SELECT MIN(day)::timestamp AT TIME ZONE %(zone)s FROM referrals_visit)
        )
    """
    first = fetch(sql, {"zone": zone.key})[0][0]
    return first.astimezone(zone).date() if first else None


def _build_days(zone: ZoneInfo, first_day: date, last_day: date, watermark: int, *, purchases_only=False) -> None:
    """Replace the rollup rows of [first_day, last_day] with what the raw rows say."""
    day_range = {"day__gte": first_day, "day__lte": last_day}
    params = {
        "zone": zone.key,
        "kinds": ALL_KINDS,
        "start": start_of_day(first_day, zone),
        "end": start_of_day(last_day + ONE_DAY, zone),
        "refunds_from": start_of_day(first_day, zone),
        "watermark": watermark,
        "first_day": first_day,
        "last_day": last_day,
    }
    tables = [
        (DailyPurchases, "day, before_joining, referred_by, referral_source, purchase_count, spend_cents, "
         "refund_count, refund_cents", PURCHASES_SQL.format(purchases=ROLLED_PURCHASES)),
        (DailyVisitors, "day, chunk, member_once, member_twice, before_once, before_twice",
         VISITORS_SQL.replace("{purchases}", ROLLED_PURCHASES)),
    ]  # fmt: skip
    if not purchases_only:
        tables += [
            (DailyPoints, "day, kind, points_in, points_out, entry_count", POINTS_SQL),
            (DailyMembers, "day, joined_count", MEMBERS_SQL),
            (
                DailyRewards,
                "day, reward_id, issued_count, points_spent, used_count, cancelled_count",
                REWARDS_SQL.format(vouchers="true"),
            ),
            (DailyVisits, "day, owner_kind, source, visit_count", VISITS_SQL),
        ]
    with connection.cursor() as cursor:
        for model, columns, select in tables:
            model.objects.filter(**day_range).delete()
            cursor.execute(f"INSERT INTO {model._meta.db_table} ({columns}) {select}", params)


@dataclass(frozen=True)
class BuildResult:
    rolled_through: date
    days_built: int
    days_rebuilt: int
    rebuilt_everything: bool


def build(*, now: datetime | None = None) -> BuildResult:
    """Bring the rollups up to the day before yesterday or yesterday (whichever ended `MARGIN` ago).

    Builds every missing day (all of them on the first run, or after the practice's time zone changed), and
    rebuilds the days that purchases recorded since the last build were dated on. Running it again changes
    nothing. One transaction: the dashboard sees the old rollups or the new ones, never half of them.
    """
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    target = (now - MARGIN).astimezone(zone).date() - ONE_DAY
    with transaction.atomic():
        # One build at a time per practice (a second one waits, then finds nothing left to do).
        fetch("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"analytics-rollups:{connection.schema_name}"])
        state = RollupState.objects.filter(pk=1).first()
        rebuilt_everything = state is None or state.time_zone != zone.key
        if rebuilt_everything:
            for model in ROLLUP_MODELS:
                model.objects.all().delete()
            EarnerRanking.objects.all().delete()
            state = None
        # Purchases recorded before this (with a margin for transactions still open) are rolled in now.
        new_watermark = fetch(
            "SELECT COALESCE(MAX(id), 0) FROM loyalty_purchase WHERE created_at < %s", [now - MARGIN]
        )[0][0]
        if state is None:
            first = earliest_day(zone) or target + ONE_DAY
            old_watermark, rolled_through = 0, None
        else:
            first = state.rolled_through + ONE_DAY
            old_watermark, rolled_through = state.purchase_watermark, state.rolled_through
        new_watermark = max(new_watermark, old_watermark)

        rebuilt = []
        if rolled_through is not None and new_watermark > old_watermark:
            # Days already rolled up that purchases recorded since then were dated on.
            rebuilt = [
                row[0]
                for row in fetch(
                    "SELECT DISTINCT (purchased_at AT TIME ZONE %(zone)s)::date FROM loyalty_purchase "
                    "WHERE id > %(old)s AND id <= %(new)s AND purchased_at < %(cutoff)s ORDER BY 1",
                    {
                        "zone": zone.key,
                        "old": old_watermark,
                        "new": new_watermark,
                        "cutoff": start_of_day(rolled_through + ONE_DAY, zone),
                    },
                )
            ]
            for day in rebuilt:
                _build_days(zone, day, day, new_watermark, purchases_only=True)
        built = 0
        if first <= target:
            _build_days(zone, first, target, new_watermark)
            built = (target - first).days + 1
        if built or rebuilt:
            # Fresh statistics, or the planner would take a backfilled table for an empty one.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {', '.join(model._meta.db_table for model in ROLLUP_MODELS)}")
        rolled_through = max(target, rolled_through) if rolled_through else target
        RollupState.objects.update_or_create(
            pk=1,
            defaults={
                "time_zone": zone.key,
                "rolled_through": rolled_through,
                "purchase_watermark": new_watermark,
                "built_at": now,
            },
        )
    logger.info("Analytics rollups for %s: through %s, %s days built, %s rebuilt", connection.schema_name,
                rolled_through, built, len(rebuilt))  # fmt: skip
    return BuildResult(
        rolled_through=rolled_through,
        days_built=built,
        days_rebuilt=len(rebuilt),
        rebuilt_everything=rebuilt_everything,
    )
