"""Referral codes (patients, staff, partners), the referrals made with them at sign-up, the rewards
they earned, share-link visits, and the practice's referral program settings."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from loyalty.models import LedgerEntry, Purchase
from patients.models import Patient
from practices.formatting import format_money, format_points
from practices.models import StaffMember
from rewards.models import Redemption


class RewardKind(models.TextChoices):
    NONE = "none", "Nothing"
    POINTS = "points", "Points"
    CREDIT = "credit", "Service credit (voucher)"
    PERCENT = "percent", "Percent discount (voucher)"


class ReferralSettings(models.Model):
    """The practice's referral program (one row per practice schema).

    The referrer and referee rewards are each points, a service credit or a discount; credits and
    discounts are issued as vouchers through the rewards app."""

    enabled = models.BooleanField(default=True, help_text="Patients, staff and partners can refer new patients.")
    referrer_reward_kind = models.CharField(max_length=10, choices=RewardKind.choices, default=RewardKind.POINTS)
    referrer_points = models.PositiveIntegerField(default=500)
    referrer_credit_cents = models.PositiveIntegerField(default=0)
    referrer_percent_off = models.PositiveIntegerField(default=0)
    referee_reward_kind = models.CharField(max_length=10, choices=RewardKind.choices, default=RewardKind.POINTS)
    referee_points = models.PositiveIntegerField(default=250)
    referee_credit_cents = models.PositiveIntegerField(default=0)
    referee_percent_off = models.PositiveIntegerField(default=0)
    min_purchase_cents = models.PositiveIntegerField(
        default=5_000, help_text="The friend's first purchase of at least this amount qualifies the referral."
    )
    yearly_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Referrals one person may make per calendar year; empty = no limit."
    )
    reward_staff_referrals = models.BooleanField(
        default=True,
        help_text="New patients referred by staff get the new-patient reward (staff referrals always count "
        "on the leaderboard).",
    )
    clawback_days = models.PositiveIntegerField(
        default=30, help_text="A refund of the qualifying purchase within this many days takes the rewards back."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "referral settings"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="referrals_settings_singleton")]

    def __str__(self) -> str:
        return "Referral settings"


class Milestone(models.Model):
    """A bonus for the referrer's Nth qualified referral (e.g. 3rd, 5th, 10th)."""

    count = models.PositiveIntegerField(unique=True, help_text="Qualified referrals needed.")
    points = models.PositiveIntegerField()

    class Meta:
        ordering = ["count"]
        constraints = [models.CheckConstraint(condition=Q(count__gte=1, points__gte=1), name="referrals_milestone_pos")]

    def __str__(self) -> str:
        return f"{self.count} referrals: {self.points} points"


class Partner(models.Model):
    """An influencer or community partner who refers patients with their own code."""

    class Kind(models.TextChoices):
        INFLUENCER = "influencer", "Influencer"
        COMMUNITY = "community", "Community partner"
        BUSINESS = "business", "Local business"
        OTHER = "other", "Other"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INFLUENCER)
    contact_name = models.CharField(max_length=120, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +15551234567.")
    notes = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    # Their own reward for the new patients they bring; "default" follows the program settings.
    referee_reward_kind = models.CharField(
        max_length=10, choices=[("default", "Program default"), *RewardKind.choices], default="default"
    )
    referee_points = models.PositiveIntegerField(default=0)
    referee_credit_cents = models.PositiveIntegerField(default=0)
    referee_percent_off = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ReferralCode(models.Model):
    """A system-assigned code (e.g. JANE4K7) that belongs to a patient, a staff member or a partner."""

    class OwnerKind(models.TextChoices):
        PATIENT = "patient", "Patient"
        STAFF = "staff", "Staff"
        PARTNER = "partner", "Partner"

    code = models.CharField(max_length=16, unique=True)
    owner_kind = models.CharField(max_length=8, choices=OwnerKind.choices)
    patient = models.OneToOneField(
        Patient, null=True, blank=True, on_delete=models.CASCADE, related_name="referral_code"
    )
    staff = models.OneToOneField(
        StaffMember, null=True, blank=True, on_delete=models.CASCADE, related_name="referral_code"
    )
    partner = models.OneToOneField(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="referral_code"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(owner_kind="patient", patient__isnull=False, staff__isnull=True, partner__isnull=True)
                    | Q(owner_kind="staff", patient__isnull=True, staff__isnull=False, partner__isnull=True)
                    | Q(owner_kind="partner", patient__isnull=True, staff__isnull=True, partner__isnull=False)
                ),
                name="referrals_code_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def owner_name(self) -> str:
        if self.patient_id:
            return self.patient.full_name or self.patient.phone
        if self.staff_id:
            return self.staff.user.get_full_name() or self.staff.user.email or "Staff member"
        return self.partner.name

    @property
    def owner_first_name(self) -> str:
        if self.patient_id:
            return self.patient.user.first_name
        if self.staff_id:
            return self.staff.user.first_name
        return self.partner.name


class Visit(models.Model):
    """Share-link visits per code, source and day: a counter, no personal data."""

    class Source(models.TextChoices):
        LINK = "link", "Link"
        QR = "qr", "QR code"
        SMS = "sms", "Text message"
        CODE = "code", "Code typed at sign-up"

    code = models.ForeignKey(ReferralCode, on_delete=models.CASCADE, related_name="visits")
    source = models.CharField(max_length=8, choices=Source.choices)
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["code", "source", "day"], name="referrals_visit_day")]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.code_id} {self.source} {self.day}: {self.count}"


class Referral(models.Model):
    """A code used at sign-up: one per referred patient, kept even when it was rejected."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a first purchase"
        QUALIFIED = "qualified", "Qualified (rewards on the way)"
        REWARDED = "rewarded", "Rewarded"
        REJECTED = "rejected", "Not counted"
        REVERSED = "reversed", "Reversed (purchase refunded)"

    class Reason(models.TextChoices):
        UNKNOWN_CODE = "unknown_code", "The code is unknown"
        INACTIVE_CODE = "inactive_code", "The code is no longer active"
        DISABLED = "disabled", "Referrals are turned off"
        SELF_REFERRAL = "self_referral", "A patient cannot refer themselves"
        LIMIT_REACHED = "limit_reached", "The referrer reached this year's referral limit"

    # Null only when the code was unknown; `code_used` keeps what was typed.
    code = models.ForeignKey(ReferralCode, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals")
    code_used = models.CharField(max_length=32)
    owner_kind = models.CharField(max_length=8, choices=ReferralCode.OwnerKind.choices, blank=True)
    source = models.CharField(max_length=8, choices=Visit.Source.choices, default=Visit.Source.LINK)
    referred = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="referral")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True)
    qualifying_purchase = models.ForeignKey(Purchase, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    qualified_at = models.DateTimeField(null=True, blank=True)
    rewarded_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["code", "status", "created_at"]),
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["qualified_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.code_used} → {self.referred}"

    @property
    def counts(self) -> bool:
        return self.status not in (self.Status.REJECTED,)


class ReferralReward(models.Model):
    """A reward given for a referral: to the referrer, the referee, or a referrer's milestone.

    Unique per (referral, role), so a task that runs twice gives it once."""

    class Role(models.TextChoices):
        REFERRER = "referrer", "Referrer"
        REFEREE = "referee", "New patient"
        MILESTONE = "milestone", "Milestone bonus"

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="rewards")
    role = models.CharField(max_length=10, choices=Role.choices)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="referral_rewards")
    kind = models.CharField(max_length=10, choices=RewardKind.choices)
    points = models.PositiveIntegerField(default=0)
    credit_cents = models.PositiveIntegerField(default=0)
    percent_off = models.PositiveIntegerField(default=0)
    milestone_count = models.PositiveIntegerField(null=True, blank=True)
    ledger_entry = models.ForeignKey(LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # A credit or discount is a voucher of the rewards app.
    voucher = models.ForeignKey(Redemption, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    points_taken_back = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["referral", "role"], name="referrals_reward_once"),
            models.UniqueConstraint(
                fields=["patient", "milestone_count"],
                condition=Q(role="milestone", reversed_at__isnull=True),
                name="referrals_milestone_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.label}"

    @property
    def label(self) -> str:
        if self.kind == RewardKind.POINTS:
            return format_points(self.points)
        if self.kind == RewardKind.CREDIT:
            return f"{format_money(self.credit_cents)} credit"
        if self.kind == RewardKind.PERCENT:
            return f"{self.percent_off}% off"
        return "Nothing"


class TextInvite(models.Model):
    """A "text a friend" SMS a patient sent: kept to rate-limit, with the friend's number hashed."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="referral_invites")
    phone_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "created_at"]), models.Index(fields=["phone_hash", "created_at"])]

    def __str__(self) -> str:
        return f"Invite by {self.patient_id} at {self.created_at:%Y-%m-%d %H:%M}"


class LeaderboardScreen(models.Model):
    """The secret link of the public TV leaderboard (`/tv/<token>/`): one row per practice, made by the owner.

    Anyone holding the link sees the board without signing in, so the owner can replace it (the old link stops
    working at once) or turn it off (no row). See referrals.tv."""

    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="referrals_leaderboard_screen_singleton")]

    def __str__(self) -> str:
        return "TV leaderboard link"
