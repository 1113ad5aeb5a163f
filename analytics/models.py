"""Daily rollups the dashboard reads instead of scanning every ledger entry and purchase.

Each table holds one row per day of the practice's calendar (and a few keys) for the days up to
`RollupState.rolled_through`; the dashboard adds the days after it (today, usually) from the raw rows,
so the figures stay real time. The daily job (analytics.jobs) builds the missing days, and rebuilds
the days a purchase was recorded for after the fact (an import of past purchases). Nothing here is
written by a staff action: every row can be rebuilt from the other apps' tables (analytics/README.md).
"""

from django.db import models

# Patients are grouped in chunks of this many ids, one bitmap of who purchased per day and chunk.
VISITOR_CHUNK_BITS = 8192


class BitmapField(models.Field):
    """A fixed-length PostgreSQL bit string (bit(8192)): bit n set = patient chunk*8192+n purchased.

    Only written and read by SQL in analytics.rollups; Python never sees the bits."""

    description = "A fixed-length bit string"

    def db_type(self, connection) -> str:
        return f"bit({VISITOR_CHUNK_BITS})"


class RollupState(models.Model):
    """How far the rollups reach (one row per practice schema)."""

    # Days are the practice's calendar days in this zone; a change of zone rebuilds everything.
    time_zone = models.CharField(max_length=64)
    # Every table below holds every day up to and including this one.
    rolled_through = models.DateField()
    # Purchases with a larger id were recorded after the build: the dashboard reads them raw whatever
    # their date (a purchase can be dated in the past), and the next build rolls them in.
    purchase_watermark = models.BigIntegerField(default=0)
    built_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="analytics_rollupstate_singleton")]

    def __str__(self) -> str:
        return f"Rolled up through {self.rolled_through} ({self.time_zone})"


class DailyPoints(models.Model):
    """Ledger entries per day and kind: points added (positive deltas) and removed (negative deltas)."""

    day = models.DateField()
    kind = models.CharField(max_length=20)
    points_in = models.BigIntegerField(default=0)
    points_out = models.BigIntegerField(default=0)
    entry_count = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "kind"], name="analytics_dailypoints_day_kind")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: +{self.points_in} -{self.points_out}"


class DailyMembers(models.Model):
    """Patients who joined the program each day."""

    day = models.DateField(unique=True)
    joined_count = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.joined_count} joined"


class DailyPurchases(models.Model):
    """Purchases (by purchase date) and refunds (by refund date) per day, split by whether the patient was
    a member yet and by the referral that brought them ("" when none)."""

    day = models.DateField()
    # True: bought before joining (or never joined); False: bought as a member.
    before_joining = models.BooleanField()
    referred_by = models.CharField(max_length=8, blank=True)  # the code owner's kind: patient, staff, partner
    referral_source = models.CharField(max_length=8, blank=True)  # link, qr, sms, code
    purchase_count = models.IntegerField(default=0)
    spend_cents = models.BigIntegerField(default=0)
    refund_count = models.IntegerField(default=0)
    refund_cents = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "before_joining", "referred_by", "referral_source"], name="analytics_dailypurchases_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.purchase_count} purchases"


class DailyVisitors(models.Model):
    """Who purchased each day, as bitmaps of patient ids (one row per day and chunk of ids): distinct
    patients over any period are a bitwise OR and a bit count, without reading the purchases."""

    day = models.DateField()
    chunk = models.IntegerField()
    # Purchased as a member / at least twice that day as a member; the same before joining.
    member_once = BitmapField(null=True)
    member_twice = BitmapField(null=True)
    before_once = BitmapField(null=True)
    before_twice = BitmapField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "chunk"], name="analytics_dailyvisitors_day_chunk")]

    def __str__(self) -> str:
        return f"{self.day} chunk {self.chunk}"


class DailyRewards(models.Model):
    """Vouchers per day and reward: redeemed (with the points they cost), used and cancelled that day."""

    day = models.DateField()
    reward_id = models.BigIntegerField()
    issued_count = models.IntegerField(default=0)
    points_spent = models.BigIntegerField(default=0)
    used_count = models.IntegerField(default=0)
    cancelled_count = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "reward_id"], name="analytics_dailyrewards_day_reward")]

    def __str__(self) -> str:
        return f"{self.day} reward {self.reward_id}"


class DailyVisits(models.Model):
    """Share-link visits per day, code owner kind and source (the referral funnel's first step)."""

    day = models.DateField()
    owner_kind = models.CharField(max_length=8)
    source = models.CharField(max_length=8)
    visit_count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "owner_kind", "source"], name="analytics_dailyvisits_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_kind}/{self.source}: {self.visit_count}"


class EarnerRanking(models.Model):
    """The top earners of a span of whole past days (points earned, best first), kept so the dashboard
    only adds the days after it. Ledger entries are dated when written, so a past day never changes."""

    first_day = models.DateField()
    last_day = models.DateField()
    # [[account_id, points], ...], at most analytics.selectors.RANKING_DEPTH, ordered by points then id.
    rows = models.JSONField(default=list)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["first_day", "last_day"], name="analytics_earnerranking_span")]

    def __str__(self) -> str:
        return f"Top earners {self.first_day} to {self.last_day}"
