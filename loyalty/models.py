"""The points engine: accounts and their append-only ledger, what earns, purchases and refunds,
bonus actions, tiers, campaigns and expiry reminders. Points and money are integers."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from patients.models import Patient


def default_reminder_days() -> list[int]:
    return [180, 30, 7, 1]


class ProgramSettings(models.Model):
    """The practice's program (one row per practice schema)."""

    points_per_dollar = models.PositiveIntegerField(default=1, help_text="Default points for each dollar spent.")
    point_value_cents = models.PositiveIntegerField(
        default=5, help_text="What one point is worth to the practice, to show the liability in dollars."
    )
    expiry_days = models.PositiveIntegerField(default=365, help_text="Points expire this long after the last purchase.")
    reminder_days = ArrayField(models.PositiveIntegerField(), default=default_reminder_days, size=8)
    invite_unknown_pos_patients = models.BooleanField(
        default=True, help_text="A POS purchase for an unknown phone creates a patient and texts them an invite."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "program settings"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="loyalty_programsettings_singleton")]

    def __str__(self) -> str:
        return "Program settings"


class Tier(models.Model):
    """A level unlocked by points earned in the rolling last 12 months; it multiplies earning."""

    name = models.CharField(max_length=60)
    threshold_points = models.PositiveIntegerField(help_text="Points earned in the last 12 months to reach it.")
    multiplier_percent = models.PositiveIntegerField(default=100, help_text="100 = ×1, 125 = ×1.25, 200 = ×2.")
    perks = models.TextField(blank=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["threshold_points", "sort_order"]
        constraints = [
            models.UniqueConstraint(fields=["threshold_points"], name="loyalty_tier_threshold_unique"),
            models.CheckConstraint(condition=Q(multiplier_percent__gte=100), name="loyalty_tier_multiplier_min"),
        ]

    def __str__(self) -> str:
        return self.name


class PointsAccount(models.Model):
    """A patient's points. Changed only by loyalty.services.post_points, under a row lock."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="points_account")
    balance = models.IntegerField(default=0)
    lifetime_earned = models.IntegerField(default=0)
    last_purchase_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="loyalty_account_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.patient}: {self.balance} points"


class CatalogItem(models.Model):
    """A service or product the practice sells, and whether and how it earns points."""

    class Kind(models.TextChoices):
        SERVICE = "service", "Service"
        PRODUCT = "product", "Product"

    class Earning(models.TextChoices):
        PER_DOLLAR = "per_dollar", "Points per dollar"
        FIXED = "fixed", "Fixed points per item"
        NONE = "none", "Does not earn"

    name = models.CharField(max_length=120)
    category = models.CharField(max_length=60, help_text="e.g. Injectables, Facials, Skincare.")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SERVICE)
    price_cents = models.PositiveIntegerField()
    external_id = models.CharField(max_length=64, null=True, blank=True, unique=True, help_text="The POS's item id.")
    earning = models.CharField(max_length=10, choices=Earning.choices, default=Earning.PER_DOLLAR)
    points_per_dollar = models.PositiveIntegerField(
        null=True, blank=True, help_text="Leave empty to use the program's default."
    )
    fixed_points = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["category", "name"]
        indexes = [models.Index(fields=["category"])]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    """A time-limited earning boost ("double points this weekend"), optionally for one category."""

    name = models.CharField(max_length=120)
    multiplier_percent = models.PositiveIntegerField(default=200)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    category = models.CharField(max_length=60, blank=True, help_text="Empty: every category.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="loyalty_campaign_window"),
            models.CheckConstraint(condition=Q(multiplier_percent__gte=100), name="loyalty_campaign_multiplier_min"),
        ]

    def __str__(self) -> str:
        return self.name


class Purchase(models.Model):
    """What a patient paid for, from the desk, the POS or an import; earns one ledger entry."""

    class Source(models.TextChoices):
        DESK = "desk", "Checkout"
        POS = "pos", "Point of sale"
        IMPORT = "import", "Import"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="purchases")
    source = models.CharField(max_length=10, choices=Source.choices)
    external_id = models.CharField(
        max_length=100, null=True, blank=True, unique=True, help_text="The POS's transaction id (idempotency)."
    )
    total_cents = models.PositiveIntegerField()
    points = models.PositiveIntegerField(default=0)
    tier_multiplier_percent = models.PositiveIntegerField(default=100)
    purchased_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payment_method = models.CharField(max_length=30, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-purchased_at", "-id"]
        indexes = [models.Index(fields=["patient", "-purchased_at"]), models.Index(fields=["-purchased_at"])]

    def __str__(self) -> str:
        return f"Purchase {self.pk} ({self.total_cents / 100:.2f})"


class PurchaseLine(models.Model):
    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(CatalogItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=60, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    unit_price_cents = models.PositiveIntegerField()
    total_cents = models.PositiveIntegerField()
    base_points = models.PositiveIntegerField(default=0, help_text="Before tier and campaign multipliers.")
    # base_points × tier% × campaign% (so ten-thousandths of a point): lets refunds of some lines
    # take back exactly their share of the purchase's rounded-down points.
    weighted_points = models.PositiveBigIntegerField(default=0)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    refunded_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(refunded_quantity__lte=F("quantity")), name="loyalty_line_refund_qty"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"


class Refund(models.Model):
    """Money given back on a purchase (all of it or some lines) and the points taken back."""

    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="refunds")
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    amount_cents = models.PositiveIntegerField()
    points = models.PositiveIntegerField(help_text="Points the refunded lines had earned.")
    points_taken = models.PositiveIntegerField(help_text="Points actually taken back (never more than the balance).")
    shortfall_points = models.PositiveIntegerField(default=0, help_text="Already spent, so not taken back.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    # Asked for as "the whole purchase" (no lines named), which tells a repeated request from a new one.
    is_whole = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Refund {self.pk} of purchase {self.purchase_id}"


class RefundLine(models.Model):
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(PurchaseLine, on_delete=models.PROTECT, related_name="refund_lines")
    quantity = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.quantity} of line {self.line_id}"


class EarningAction(models.Model):
    """A bonus the practice gives: automatic (birthday, cross-booking) or awarded by staff."""

    class Kind(models.TextChoices):
        BIRTHDAY = "birthday", "Birthday"
        CROSS_BOOKING = "cross_booking", "Cross-booking (first purchase in a new category)"
        GOOGLE_REVIEW = "google_review", "Google review"
        OPEN_HOUSE = "open_house", "Open house"
        CHARITY = "charity", "Charity event"
        CUSTOM = "custom", "Custom"

    class Limit(models.TextChoices):
        ONCE = "once", "Once ever"
        YEARLY = "yearly", "Once per calendar year"
        UNLIMITED = "unlimited", "Unlimited"

    AUTOMATIC_KINDS = (Kind.BIRTHDAY, Kind.CROSS_BOOKING)

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=120)
    points = models.PositiveIntegerField()
    limit = models.CharField(max_length=10, choices=Limit.choices, default=Limit.ONCE)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # One birthday and one cross-booking action: the automatic jobs look them up by kind.
            models.UniqueConstraint(
                fields=["kind"], condition=Q(kind__in=["birthday", "cross_booking"]), name="loyalty_action_auto_unique"
            ),
            models.CheckConstraint(condition=Q(points__gt=0), name="loyalty_action_points_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_automatic(self) -> bool:
        return self.kind in self.AUTOMATIC_KINDS


class ActionAward(models.Model):
    """An action awarded to a patient. `limit_key` makes the database enforce the action's limit."""

    action = models.ForeignKey(EarningAction, on_delete=models.PROTECT, related_name="awards")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="action_awards")
    # "ever" (once), the year ("2026", yearly), or NULL (unlimited; NULLs never collide).
    limit_key = models.CharField(max_length=20, null=True, blank=True)
    points = models.PositiveIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    awarded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-awarded_at"]
        constraints = [
            models.UniqueConstraint(fields=["action", "patient", "limit_key"], name="loyalty_award_limit"),
        ]

    def __str__(self) -> str:
        return f"{self.action} → {self.patient}"


class LedgerEntry(models.Model):
    """One change of a balance. Append-only: a database trigger refuses UPDATE and DELETE."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        BONUS = "bonus", "Bonus"
        REFERRAL = "referral", "Referral"
        REDEMPTION = "redemption", "Redemption"
        REDEMPTION_CANCEL = "redemption_cancel", "Redemption cancelled"
        ADJUSTMENT = "adjustment", "Adjustment"
        REFUND = "refund", "Refund"
        EXPIRY = "expiry", "Expiry"
        # A merge of two records moves the balance: out of the merged account, into the kept one.
        MERGE = "merge", "Records merged"
        # A patient closed their account: what was left of the balance is gone with it.
        CLOSURE = "closure", "Account closed"

    # Kinds that count as points earned (lifetime and for tiers).
    EARNING_KINDS = (Kind.PURCHASE, Kind.BONUS, Kind.REFERRAL)

    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    delta = models.IntegerField()
    balance_after = models.IntegerField()
    purchase = models.ForeignKey(Purchase, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    refund = models.ForeignKey(Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    award = models.ForeignKey(ActionAward, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # What caused it in another app (e.g. "rewards.redemption", 12), which this app cannot reference directly.
    source_type = models.CharField(max_length=40, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=120, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"]),
            models.Index(fields=["kind", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="loyalty_entry_balance_not_negative"),
            models.CheckConstraint(condition=~Q(delta=0), name="loyalty_entry_delta_not_zero"),
        ]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.delta:+d} → {self.balance_after}"


class ExpiryReminder(models.Model):
    """Proof that the reminder N days before an expiry date was sent (at most once)."""

    account = models.ForeignKey(PointsAccount, on_delete=models.CASCADE, related_name="expiry_reminders")
    expires_at = models.DateTimeField()
    days_before = models.PositiveIntegerField()
    points = models.PositiveIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "expires_at", "days_before"], name="loyalty_expiry_reminder_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Reminder {self.days_before} days before {self.expires_at:%Y-%m-%d}"
