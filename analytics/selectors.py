"""The dashboard's figures, one function per metric. Each takes a period (whole days of the practice's
calendar, `period.start` to `period.end` as aware datetimes) and returns plain data: counts, points, and
money as integer cents. Summed figures come from the daily rollups plus the raw rows after them
(analytics.rollups); lists and current states (at-risk patients, vouchers outstanding) are read raw.

Money (liability in dollars, revenue, spend) is only computed with `with_money=True`: the view passes it
for managers and owners only, so the front desk's pages and exports never hold it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from loyalty.models import LedgerEntry, PointsAccount, ProgramSettings
from patients.models import Activity, Patient
from referrals.models import ReferralCode, Visit
from rewards.models import Redemption, Reward

from . import rollups
from .models import VISITOR_CHUNK_BITS, EarnerRanking
from .periods import ONE_DAY, Bucket, Period, start_of_day
from .rollups import Coverage, fetch

Kind = LedgerEntry.Kind
ISSUING_KINDS = [Kind.PURCHASE, Kind.BONUS, Kind.REFERRAL, Kind.ADJUSTMENT]
OWNER_KINDS = list(ReferralCode.OwnerKind)
SOURCES = list(Visit.Source)
# Patients at risk: points expiring this soon, or no purchase for this long.
EXPIRING_WITHIN = timedelta(days=30)
LAPSED_AFTER = timedelta(days=183)
# How many top earners a stored ranking keeps (the dashboard shows fewer; the export all of them).
RANKING_DEPTH = 50
TOP_EARNERS_SHOWN = 10
ACTIVITY_SHOWN = 15


def ratio(part: int, whole: int) -> float | None:
    """part ÷ whole as a fraction, None when there is nothing to divide by."""
    return part / whole if whole else None


def change(current: int, previous: int) -> float | None:
    """The relative change from the previous period (0.25 = +25 %), None when it started at zero."""
    return (current - previous) / previous if previous else None


def _in(day: date, period: Period | Bucket) -> bool:
    return period.first_day <= day <= period.last_day


@dataclass
class Scope:
    """What every metric needs to know once per request: the period, the one before it, and where the
    rollups end."""

    period: Period
    previous: Period
    cover: Coverage
    now: datetime
    # Rows several metrics share, read once.
    _memo: dict = field(default_factory=dict)

    def once(self, key: str, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def grouping(self, *, per_bucket: bool) -> rollups.Grouping:
        """Rolled-up rows summed per bucket of the period (or for the whole period), the previous period as one."""
        size = self.period.bucket_size if per_bucket else None
        return rollups.Grouping(split=self.period.first_day, before=self.previous.first_day, size=size)

    def points_rows(self) -> list[tuple]:
        return self.once(
            "points",
            lambda: rollups.points_days(self.cover, self.first_day, self.last_day, self.grouping(per_bucket=True)),
        )

    def purchase_rows(self) -> list[tuple]:
        return self.once(
            "purchases",
            lambda: rollups.purchase_days(self.cover, self.first_day, self.last_day, self.grouping(per_bucket=False)),
        )

    def bucket_of(self, day: date) -> int:
        """The index of the period's bucket holding `day` (a day of the period)."""
        if "buckets" not in self._memo:
            size = self.period.bucket_size
            self._memo["buckets"] = {bucket_start(b.first_day, size): i for i, b in enumerate(self.period.buckets())}
        return self._memo["buckets"][bucket_start(day, self.period.bucket_size)]

    def raw_purchaser_rows(self) -> list[tuple]:
        return self.once("raw purchasers", lambda: rollups.raw_purchasers(self.cover, self.first_day, self.last_day))

    def purchasers(self, span: Period, *, repeat: bool = True) -> Purchasers:
        """Distinct purchasers of the period or the previous one; the repeat counts only with `repeat`
        (a result with them serves a call without)."""
        with_repeats = f"purchasers {span.first_day} {span.last_day}"
        key = with_repeats if repeat or with_repeats in self._memo else f"{with_repeats} distinct"
        return self.once(
            key,
            lambda: purchasers(
                self.cover, span.first_day, span.last_day, raw_rows=self.raw_purchaser_rows(), repeat=repeat
            ),
        )

    @property
    def first_day(self) -> date:
        return self.previous.first_day

    @property
    def last_day(self) -> date:
        return self.period.last_day


def scope(period: Period, *, now: datetime | None = None) -> Scope:
    cover = rollups.coverage(period.zone)
    return Scope(period=period, previous=period.previous(), cover=cover, now=now or timezone.now())


def as_scope(period: Period | Scope) -> Scope:
    return period if isinstance(period, Scope) else scope(period)


# ---------------------------------------------------------------- distinct patients (bitmaps)

# Distinct purchasers over a range of days, and how many purchased at least twice: a patient purchased
# twice when they did on a day after an earlier day of the range (their bit was already set: `seen`, the
# OR of the days before) or twice on one day.
REPEAT_SQL = """
    WITH days AS (
        SELECT chunk, member_once, member_twice, before_once, before_twice,
               bit_or(member_once) OVER earlier AS member_seen, bit_or(before_once) OVER earlier AS before_seen
        FROM analytics_dailyvisitors
        WHERE day >= %(first_day)s AND day <= %(last_day)s
        WINDOW earlier AS (PARTITION BY chunk ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ), folded AS (
        SELECT chunk,
               bit_or(member_once) AS m1,
               COALESCE(bit_or(member_once & member_seen), {zero}) | COALESCE(bit_or(member_twice), {zero}) AS m2,
               bit_or(before_once) AS b1,
               COALESCE(bit_or(before_once & before_seen), {zero}) | COALESCE(bit_or(before_twice), {zero}) AS b2
        FROM days GROUP BY chunk
    )
    SELECT chunk, COALESCE(bit_count(m1), 0), bit_count(m2), COALESCE(bit_count(b1), 0), bit_count(b2),
           CASE WHEN chunk = ANY(%(chunks)s) THEN m1::text END, CASE WHEN chunk = ANY(%(chunks)s) THEN m2::text END,
           CASE WHEN chunk = ANY(%(chunks)s) THEN b1::text END, CASE WHEN chunk = ANY(%(chunks)s) THEN b2::text END
    FROM folded
""".format(zero=f"B'0'::bit({VISITOR_CHUNK_BITS})")  # noqa: S608 (constants only)

# Distinct purchasers only (no repeat counts).
DISTINCT_SQL = """
    SELECT chunk, COALESCE(bit_count(bit_or(member_once)), 0), COALESCE(bit_count(bit_or(before_once)), 0),
           CASE WHEN chunk = ANY(%(chunks)s) THEN bit_or(member_once)::text END,
           CASE WHEN chunk = ANY(%(chunks)s) THEN bit_or(before_once)::text END
    FROM analytics_dailyvisitors
    WHERE day >= %(first_day)s AND day <= %(last_day)s
    GROUP BY chunk
"""

# Distinct members who purchased, per bucket of days (a day, a week from Monday or a month, as the
# period's buckets; date_trunc gives each day its bucket's first day).
BUCKET_SQL = """
    SELECT bucket, chunk, COALESCE(bit_count(bits), 0),
           CASE WHEN bucket = ANY(%(buckets)s) AND chunk = ANY(%(chunks)s) THEN bits::text END
    FROM (
        SELECT date_trunc(%(size)s, day)::date AS bucket, chunk, bit_or(member_once) AS bits
        FROM analytics_dailyvisitors
        WHERE day >= %(first_day)s AND day <= %(last_day)s
        GROUP BY 1, 2
    ) b
"""


def bucket_start(day: date, size: str) -> date:
    """The first day of the day, week (from Monday) or month `day` is in, as date_trunc gives it."""
    if size == "week":
        return day - timedelta(days=day.weekday())
    if size == "month":
        return day.replace(day=1)
    return day


def _bit(bits: str | None, patient_id: int) -> bool:
    return bits is not None and bits[patient_id % VISITOR_CHUNK_BITS] == "1"


@dataclass
class Purchasers:
    """Distinct patients who purchased in a period, as members and before joining."""

    members: int = 0
    members_repeat: int = 0  # of them, purchased at least twice in the period
    before: int = 0
    before_repeat: int = 0


def purchasers(cover: Coverage, first_day: date, last_day: date, *, raw_rows=None, repeat: bool = True) -> Purchasers:
    """Distinct purchasers of [first_day, last_day]: the rollup's bitmaps, plus the raw purchases after them.

    `repeat=False` leaves the repeat counts at zero and skips their (dearer) query. `raw_rows` are the
    raw purchasers (rollups.raw_purchasers) of a range holding this one, when already read."""
    if raw_rows is None:
        raw_rows = rollups.raw_purchasers(cover, first_day, last_day)
    live: dict[tuple[int, bool], int] = defaultdict(int)
    for day, patient_id, before_joining, count in raw_rows:
        if first_day <= day <= last_day:
            live[patient_id, before_joining] += count
    result = Purchasers()
    bits: dict[int, tuple] = {}
    if span := cover.rolled_days(first_day, last_day):
        chunks = sorted({patient_id // VISITOR_CHUNK_BITS for patient_id, _ in live})
        params = {"first_day": span[0], "last_day": span[1], "chunks": chunks}
        if repeat:
            for chunk, m1, m2, b1, b2, *texts in fetch(REPEAT_SQL, params):
                result.members += m1
                result.members_repeat += m2
                result.before += b1
                result.before_repeat += b2
                bits[chunk] = texts
        else:
            for chunk, m1, b1, m1_text, b1_text in fetch(DISTINCT_SQL, params):
                result.members += m1
                result.before += b1
                bits[chunk] = (m1_text, None, b1_text, None)
    for (patient_id, before_joining), count in live.items():
        m1, m2, b1, b2 = bits.get(patient_id // VISITOR_CHUNK_BITS, (None, None, None, None))
        once, twice = (b1, b2) if before_joining else (m1, m2)
        seen, seen_twice = _bit(once, patient_id), _bit(twice, patient_id)
        new_repeat = repeat and not seen_twice and (count >= 2 or seen)
        if before_joining:
            result.before += not seen
            result.before_repeat += new_repeat
        else:
            result.members += not seen
            result.members_repeat += new_repeat
    return result


def active_members_by_bucket(cover: Coverage, period: Period, *, raw_rows=None) -> list[int]:
    """Distinct members who purchased, in each of the period's buckets."""
    buckets = period.buckets()
    size = period.bucket_size
    index_of = {bucket_start(bucket.first_day, size): index for index, bucket in enumerate(buckets)}
    counts = [0] * len(buckets)
    live: set[tuple[date, int]] = set()
    if raw_rows is None:
        raw_rows = rollups.raw_purchasers(cover, period.first_day, period.last_day)
    for day, patient_id, before_joining, _count in raw_rows:
        if not before_joining and period.first_day <= day <= period.last_day:
            live.add((bucket_start(day, size), patient_id))
    bits: dict[tuple[date, int], str | None] = {}
    if span := cover.rolled_days(period.first_day, period.last_day):
        params = {
            "size": size,
            "first_day": span[0],
            "last_day": span[1],
            "buckets": sorted({bucket for bucket, _ in live}),
            "chunks": sorted({patient_id // VISITOR_CHUNK_BITS for _, patient_id in live}),
        }
        for bucket, chunk, count, text in fetch(BUCKET_SQL, params):
            counts[index_of[bucket]] += count
            bits[bucket, chunk] = text
    for bucket, patient_id in live:
        counts[index_of[bucket]] += not _bit(bits.get((bucket, patient_id // VISITOR_CHUNK_BITS)), patient_id)
    return counts


# ---------------------------------------------------------------- members


def members(period: Period | Scope) -> dict:
    """Members now, joined in the period and the previous one, active (purchased as members) in each,
    and a series over the period's buckets (new, active, members by then)."""
    s = as_scope(period)
    joined_by_day: dict[date, int] = defaultdict(int)
    for day, count in rollups.member_days(s.cover, s.first_day, s.last_day, s.grouping(per_bucket=True)):
        joined_by_day[day] += count
    new = sum(n for day, n in joined_by_day.items() if _in(day, s.period))
    new_previous = sum(n for day, n in joined_by_day.items() if _in(day, s.previous))
    active = s.purchasers(s.period).members
    active_previous = s.purchasers(s.previous, repeat=False).members

    buckets = s.period.buckets()
    active_series = active_members_by_bucket(s.cover, s.period, raw_rows=s.raw_purchaser_rows())
    joined_series = [0] * len(buckets)
    for day, count in joined_by_day.items():
        if _in(day, s.period):
            joined_series[s.bucket_of(day)] += count
    members_by_then = rollups.members_joined_before(s.cover, s.period.first_day)
    series = []
    for bucket, joined, active_count in zip(buckets, joined_series, active_series, strict=True):
        members_by_then += joined
        series.append({"label": bucket.label, "new": joined, "active": active_count, "members": members_by_then})
    return {
        "total": Patient.objects.filter(status=Patient.Status.ACTIVE).count(),
        "new": new,
        "new_previous": new_previous,
        "new_change": change(new, new_previous),
        "active": active,
        "active_previous": active_previous,
        "active_change": change(active, active_previous),
        "series": series,
    }


# ---------------------------------------------------------------- points


@dataclass
class PointsTotals:
    by_kind_in: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_kind_out: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, kind: str, points_in: int, points_out: int) -> None:
        self.by_kind_in[kind] += points_in
        self.by_kind_out[kind] += points_out

    @property
    def issued(self) -> int:
        return sum(self.by_kind_in[kind] for kind in ISSUING_KINDS)

    @property
    def redeemed(self) -> int:
        """Points spent on rewards, less the points of vouchers cancelled or expired and given back."""
        return self.by_kind_out[Kind.REDEMPTION] - self.by_kind_in[Kind.REDEMPTION_CANCEL]

    @property
    def expired(self) -> int:
        return self.by_kind_out[Kind.EXPIRY]

    @property
    def taken_back(self) -> int:
        """Refunds, negative adjustments and referral rewards reversed."""
        return self.by_kind_out[Kind.REFUND] + self.by_kind_out[Kind.ADJUSTMENT] + self.by_kind_out[Kind.REFERRAL]

    @property
    def net(self) -> int:
        return sum(self.by_kind_in.values()) - sum(self.by_kind_out.values())

    def summary(self) -> dict:
        return {
            "issued": self.issued,
            "issued_by_kind": {kind.value: self.by_kind_in[kind] for kind in ISSUING_KINDS},
            "redeemed": self.redeemed,
            "expired": self.expired,
            "taken_back": self.taken_back,
            "net": self.net,
            "redemption_rate": ratio(self.redeemed, self.issued),
            "breakage": ratio(self.expired, self.issued),
        }


def _points_totals(rows, span: Period | Bucket) -> PointsTotals:
    totals = PointsTotals()
    for day, kind, points_in, points_out in rows:
        if _in(day, span):
            totals.add(kind, points_in, points_out)
    return totals


def points(period: Period | Scope) -> dict:
    """Points issued (purchases, bonuses, referrals, positive adjustments), redeemed net of cancellations,
    expired and taken back, in the period and the previous one; redemption rate (redeemed ÷ issued) and
    breakage (expired ÷ issued); issued and redeemed per bucket for the chart."""
    s = as_scope(period)
    buckets = s.period.buckets()
    current_totals, previous_totals = PointsTotals(), PointsTotals()
    per_bucket = [PointsTotals() for _ in buckets]
    for day, kind, points_in, points_out in s.points_rows():
        if _in(day, s.period):
            current_totals.add(kind, points_in, points_out)
            per_bucket[s.bucket_of(day)].add(kind, points_in, points_out)
        elif _in(day, s.previous):
            previous_totals.add(kind, points_in, points_out)
    current, previous = current_totals.summary(), previous_totals.summary()
    series = [
        {"label": bucket.label, "issued": totals.issued, "redeemed": totals.redeemed}
        for bucket, totals in zip(buckets, per_bucket, strict=True)
    ]
    return {
        **current,
        "previous": previous,
        "issued_change": change(current["issued"], previous["issued"]),
        "redeemed_change": change(current["redeemed"], previous["redeemed"]),
        "series": series,
    }


def _point_value_cents() -> int:
    # The settings row as stored, or its defaults (program_settings() would create it: a read writes nothing).
    return (ProgramSettings.objects.filter(pk=1).first() or ProgramSettings()).point_value_cents


def liability(period: Period | Scope) -> dict:
    """Points not spent yet at the end of the period (now, for a period ending today) and at its start,
    in points and in cents at the program's point value. Money: managers and owners only."""
    s = as_scope(period)
    at_start = rollups.net_points_before(s.cover, s.period.first_day)
    at_end = at_start + _points_totals(s.points_rows(), s.period).net
    value = _point_value_cents()
    return {
        "points": at_end,
        "cents": at_end * value,
        "points_at_start": at_start,
        "cents_at_start": at_start * value,
        "point_value_cents": value,
        "change": change(at_end, at_start),
    }


# ---------------------------------------------------------------- purchases: revenue and retention


@dataclass
class PurchaseTotals:
    purchases: int = 0
    spend_cents: int = 0
    refunds: int = 0
    refund_cents: int = 0

    @property
    def net_cents(self) -> int:
        return self.spend_cents - self.refund_cents

    def add(self, purchases: int, spend: int, refunds: int, refunded: int) -> None:
        self.purchases += purchases
        self.spend_cents += spend
        self.refunds += refunds
        self.refund_cents += refunded


def _purchase_totals(rows, span: Period, key=lambda row: None) -> dict:
    totals: dict = defaultdict(PurchaseTotals)
    for row in rows:
        if _in(row[0], span):
            totals[key(row)].add(*row[4:8])
    return totals


def revenue(period: Period | Scope) -> dict:
    """Purchases and refunds in the period and the previous one: every patient's, and referred patients'
    (those who joined with a referral code), net of refunds. Money: managers and owners only."""
    s = as_scope(period)
    rows = s.purchase_rows()

    def summary(span: Period) -> dict:
        by_referral = _purchase_totals(rows, span, key=lambda row: bool(row[2]))
        everyone, referred = PurchaseTotals(), by_referral[True]
        for totals in by_referral.values():
            everyone.add(totals.purchases, totals.spend_cents, totals.refunds, totals.refund_cents)
        return {"all": everyone, "referred": referred}

    current, previous = summary(s.period), summary(s.previous)
    return {
        **current,
        "previous": previous,
        "net_change": change(current["all"].net_cents, previous["all"].net_cents),
        "referred_change": change(current["referred"].net_cents, previous["referred"].net_cents),
    }


def retention(period: Period | Scope, *, with_money: bool) -> dict:
    """Members' visits (purchases) in the period before they joined and as members: how many patients,
    how many visits, the repeat-visit rate (share who came at least twice) and, with money, the average
    spend per visit."""
    s = as_scope(period)
    totals = _purchase_totals(s.purchase_rows(), s.period, key=lambda row: row[1])
    distinct = s.purchasers(s.period)
    result = {}
    for name, before_joining, patients, repeat in [
        ("before", True, distinct.before, distinct.before_repeat),
        ("member", False, distinct.members, distinct.members_repeat),
    ]:
        group = totals[before_joining]
        result[name] = {
            "patients": patients,
            "repeat_patients": repeat,
            "visits": group.purchases,
            "repeat_rate": ratio(repeat, patients),
            "visits_per_patient": ratio(group.purchases, patients),
        }
        if with_money:
            result[name]["spend_cents"] = group.spend_cents
            result[name]["spend_per_visit_cents"] = group.spend_cents // group.purchases if group.purchases else None
    return result


# ---------------------------------------------------------------- rewards


def rewards(period: Period | Scope) -> dict:
    """Vouchers per reward: redeemed in the period (and the previous one) with the points they cost, used,
    cancelled and expired in the period, and outstanding now. Gift vouchers (referral credits, which cost
    no points) are listed apart."""
    s = as_scope(period)
    per_reward: dict[int, dict] = defaultdict(
        lambda: dict.fromkeys(["issued", "issued_previous", "points", "used", "cancelled", "expired", "outstanding"], 0)
    )
    days = rollups.reward_days(s.cover, s.first_day, s.last_day, s.grouping(per_bucket=False))
    for day, reward_id, issued, points_spent, used, cancelled in days:
        row = per_reward[reward_id]
        if _in(day, s.period):
            row["issued"] += issued
            row["points"] += points_spent
            row["used"] += used
            row["cancelled"] += cancelled
        elif _in(day, s.previous):
            row["issued_previous"] += issued
    # An unused voucher past its date is expired, whether or not the daily job has marked it yet.
    unused = Redemption.objects.filter(status__in=[Redemption.Status.ISSUED, Redemption.Status.EXPIRED])
    expired_until = min(s.period.end, s.now)
    for reward_id, count in (
        unused.filter(expires_at__gte=s.period.start, expires_at__lt=expired_until)
        .values_list("reward_id")
        .annotate(n=Count("id"))
    ):
        per_reward[reward_id]["expired"] += count
    for reward_id, count in (
        Redemption.objects.filter(status=Redemption.Status.ISSUED, expires_at__gt=s.now)
        .values_list("reward_id")
        .annotate(n=Count("id"))
    ):
        per_reward[reward_id]["outstanding"] += count

    found = Reward.objects.in_bulk(list(per_reward))
    rows, gifts = [], []
    for reward_id, figures in per_reward.items():
        reward = found.get(reward_id)
        if reward is None or not any(figures.values()):
            continue
        row = {"reward_id": reward_id, "name": reward.name, **figures}
        (gifts if reward.is_gift else rows).append(row)
    rows.sort(key=lambda row: (-row["issued"], -row["outstanding"], row["name"]))
    gifts.sort(key=lambda row: row["name"])
    totals = {key: sum(row[key] for row in rows) for key in ["issued", "issued_previous", "points", "used",
                                                             "cancelled", "expired", "outstanding"]}  # fmt: skip
    return {
        "rows": rows,
        "gifts": gifts,
        "totals": totals,
        "issued_change": change(totals["issued"], totals["issued_previous"]),
    }


# ---------------------------------------------------------------- referrals


FUNNEL_SQL = """
    SELECT created_at >= %(start)s AS in_period, owner_kind, source,
           COUNT(*) FILTER (WHERE status <> 'rejected') AS signups,
           COUNT(*) FILTER (WHERE status <> 'rejected' AND qualified_at IS NOT NULL) AS qualified,
           COUNT(*) FILTER (WHERE status <> 'rejected' AND rewarded_at IS NOT NULL) AS rewarded,
           COUNT(*) FILTER (WHERE status = 'rejected') AS rejected
    FROM referrals_referral
    WHERE created_at >= %(previous_start)s AND created_at < %(end)s
    GROUP BY 1, 2, 3
"""

FUNNEL_STEPS = ["visits", "signups", "qualified", "rewarded", "rejected"]


def referrals(period: Period | Scope, *, with_money: bool) -> dict:
    """The referral funnel by code owner (patient, staff, partner) and by source (link, QR, SMS, code typed):
    share-link visits in the period → sign-ups in the period → of those, qualified → rewarded so far; with
    money, what referred patients spent in the period, net of refunds."""
    s = as_scope(period)
    empty = lambda: dict.fromkeys(FUNNEL_STEPS, 0)  # noqa: E731
    by_owner = {kind.value: empty() for kind in OWNER_KINDS}
    by_source = {source.value: empty() for source in SOURCES}
    signups_previous = 0
    visits = rollups.visit_days(s.cover, s.period.first_day, s.period.last_day, s.grouping(per_bucket=False))
    for _day, owner_kind, source, count in visits:
        if owner_kind in by_owner and source in by_source:
            by_owner[owner_kind]["visits"] += count
            by_source[source]["visits"] += count
    params = {"start": s.period.start, "previous_start": s.previous.start, "end": s.period.end}
    for in_period, owner_kind, source, signups, qualified, rewarded, rejected in fetch(FUNNEL_SQL, params):
        if not in_period:
            signups_previous += signups
            continue
        for group, key in [(by_owner, owner_kind), (by_source, source)]:
            row = group.get(key)
            if row is None:
                continue  # a rejected unknown code has no owner
            row["signups"] += signups
            row["qualified"] += qualified
            row["rewarded"] += rewarded
            row["rejected"] += rejected
    if with_money:
        rows = s.purchase_rows()
        for group, index in [(by_owner, 2), (by_source, 3)]:
            spent = _purchase_totals(rows, s.period, key=lambda row, index=index: row[index])
            for key, row in group.items():
                row["revenue_cents"] = spent[key].net_cents
    total = {step: sum(row[step] for row in by_owner.values()) for step in FUNNEL_STEPS}
    if with_money:
        total["revenue_cents"] = sum(row["revenue_cents"] for row in by_owner.values())
    return {
        "by_owner": [{"key": k, "label": ReferralCode.OwnerKind(k).label, **v} for k, v in by_owner.items()],
        "by_source": [{"key": k, "label": Visit.Source(k).label, **v} for k, v in by_source.items()],
        "total": total,
        "signups_previous": signups_previous,
        "signups_change": change(total["signups"], signups_previous),
    }


# ---------------------------------------------------------------- lists


def at_risk_accounts(*, now: datetime | None = None):
    """Points accounts with points left whose points expire within 30 days (or are overdue), or whose patient
    has not purchased for six months (or never did, on an account that old), soonest expiry first."""
    now = now or timezone.now()
    lapsed = now - LAPSED_AFTER
    return (
        PointsAccount.objects.filter(balance__gt=0)
        .exclude(patient__status=Patient.Status.ARCHIVED)
        .filter(
            Q(expires_at__lt=now + EXPIRING_WITHIN)
            | Q(last_purchase_at__lt=lapsed)
            | Q(last_purchase_at__isnull=True, created_at__lt=lapsed)
        )
        .select_related("patient__user")
        .order_by("expires_at", "pk")
    )


def at_risk_row(account: PointsAccount, *, now: datetime) -> dict:
    reasons = []
    if account.expires_at is not None and account.expires_at < now + EXPIRING_WITHIN:
        reasons.append("expiring")
    if account.last_purchase_at is None or account.last_purchase_at < now - LAPSED_AFTER:
        reasons.append("lapsed")
    return {
        "patient_id": account.patient_id,
        "name": str(account.patient),
        "phone": account.patient.phone,
        "balance": account.balance,
        "expires_at": account.expires_at,
        "last_purchase_at": account.last_purchase_at,
        "is_expiring": "expiring" in reasons,
        "is_lapsed": "lapsed" in reasons,
    }


def at_risk(*, now: datetime | None = None, limit: int | None = 10, offset: int = 0) -> dict:
    """Patients at risk of losing their points (see at_risk_accounts): how many, and a page of them."""
    now = now or timezone.now()
    accounts = at_risk_accounts(now=now)
    window = accounts[offset : offset + limit] if limit is not None else accounts[offset:]
    totals = accounts.order_by().aggregate(count=Count("id"), points=Sum("balance"))
    return {
        "count": totals["count"],
        "points": totals["points"] or 0,
        "rows": [at_risk_row(account, now=now) for account in window],
    }


def _earners_sql(accounts: list[int] | None) -> str:
    return rollups.EARNERS_SQL.format(accounts="AND e.account_id = ANY(%(accounts)s)" if accounts is not None else "")


def stored_ranking(first_day: date, last_day: date) -> list[list[int]] | None:
    """The stored top earners of these whole past days ([[account_id, points], ...]), or None when not kept."""
    found = EarnerRanking.objects.filter(first_day=first_day, last_day=last_day).first()
    return found.rows if found is not None else None


def compute_ranking(first_day: date, last_day: date, zone) -> list[list[int]]:
    """The top RANKING_DEPTH earners of whole past days, from the ledger (analytics.services keeps them)."""
    params = {
        "kinds": rollups.EARNING_KINDS,
        "start": start_of_day(first_day, zone),
        "end": start_of_day(last_day + ONE_DAY, zone),
    }
    ranked = sorted(fetch(_earners_sql(None), params), key=lambda row: (-row[1], row[0]))[:RANKING_DEPTH]
    return [[account_id, points] for account_id, points in ranked]


def ranking(first_day: date, last_day: date, zone) -> list[list[int]]:
    """The top earners of whole past days: stored by the daily job (or analytics.services.keep_ranking), else
    computed now. A read: nothing is stored here."""
    found = stored_ranking(first_day, last_day)
    return found if found is not None else compute_ranking(first_day, last_day, zone)


def top_earners(period: Period | Scope, *, limit: int = TOP_EARNERS_SHOWN) -> list[dict]:
    """The patients who earned the most points (purchases, bonuses, referrals) in the period, best first.

    Whole past days come from a stored ranking of the best RANKING_DEPTH; the raw entries after them are
    added. Anyone outside the stored ranking earned at most its last figure on those days, so only patients
    earning now who could still reach the list have their earlier points looked up: the order is exact."""
    s = as_scope(period)
    limit = min(limit, RANKING_DEPTH)
    cover, p = s.cover, s.period
    totals: dict[int, int] = defaultdict(int)
    stored: list[list[int]] = []
    if span := cover.rolled_days(p.first_day, p.last_day):
        stored = ranking(span[0], span[1], p.zone)
        for account_id, points_earned in stored:
            totals[account_id] += points_earned
    if (raw_start := cover.raw_start(p.first_day, p.last_day)) is not None:
        params = {"kinds": rollups.EARNING_KINDS, "start": raw_start, "end": p.end}
        live = dict(fetch(_earners_sql(None), params))
        ranked = set(totals)
        for account_id, points_earned in live.items():
            totals[account_id] += points_earned
        # What an account outside the stored ranking earned before now is at most the ranking's last figure
        # (zero when the ranking holds everyone who earned); only those who could beat the current
        # last place are looked up.
        ceiling = stored[-1][1] if len(stored) == RANKING_DEPTH else 0
        best_so_far = sorted(totals.values(), reverse=True)
        last_place = best_so_far[limit - 1] if len(best_so_far) >= limit else 0
        unranked = [a for a, earned in live.items() if a not in ranked and ceiling and earned + ceiling >= last_place]
        if unranked:
            params = {"kinds": rollups.EARNING_KINDS, "start": p.start, "end": raw_start, "accounts": unranked}
            for account_id, points_earned in fetch(_earners_sql(unranked), params):
                totals[account_id] += points_earned
    best = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:limit]
    accounts = PointsAccount.objects.select_related("patient__user", "tier").in_bulk([a for a, _ in best])
    return [
        {
            "patient_id": accounts[account_id].patient_id,
            "name": str(accounts[account_id].patient),
            "points": points_earned,
            "balance": accounts[account_id].balance,
            "tier": accounts[account_id].tier.name if accounts[account_id].tier else "",
        }
        for account_id, points_earned in best
        if account_id in accounts
    ]


def recent_activity(*, limit: int = ACTIVITY_SHOWN, period: Period | None = None) -> list[Activity]:
    """The latest lines of every patient's timeline (within the period, when given)."""
    activities = Activity.objects.select_related("patient__user", "actor").order_by("-created_at", "-id")
    if period is not None:
        activities = activities.filter(created_at__gte=period.start, created_at__lt=period.end)
    return list(activities[:limit])


# ---------------------------------------------------------------- the whole dashboard


def dashboard(period: Period, *, with_money: bool, now: datetime | None = None) -> dict:
    """Every figure of the dashboard for the period. Without money (the front desk), no liability,
    revenue or spend is computed at all."""
    s = scope(period, now=now)
    figures = {
        "period": s.period,
        "previous": s.previous,
        "with_money": with_money,
        "rolled_through": s.cover.rolled_through,
        "members": members(s),
        "points": points(s),
        "rewards": rewards(s),
        "referrals": referrals(s, with_money=with_money),
        "retention": retention(s, with_money=with_money),
        "at_risk": at_risk(now=s.now),
        "top_earners": top_earners(s),
        "activity": recent_activity(),
    }
    if with_money:
        figures["liability"] = liability(s)
        figures["revenue"] = revenue(s)
    return figures
