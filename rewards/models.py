"""The rewards catalog, redemptions and the vouchers patients show at the desk."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from loyalty.models import CatalogItem, Tier
from patients.models import Patient
from practices.formatting import format_money

# Read aloud and typed at the desk: no 0/O or 1/I/L.
VOUCHER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
VOUCHER_LENGTH = 8


def new_voucher_code() -> str:
    return "".join(secrets.choice(VOUCHER_ALPHABET) for _ in range(VOUCHER_LENGTH))


def reward_image_path(instance: "Reward", filename: str) -> str:
    # The tenant-aware storage puts this under the practice's own folder.
    return f"rewards/{secrets.token_hex(8)}.jpg"


class RewardSettings(models.Model):
    """How the practice's vouchers behave (one row per practice schema)."""

    voucher_valid_days = models.PositiveIntegerField(default=90)
    refund_expired_vouchers = models.BooleanField(
        default=True, help_text="Give the points back when a voucher expires unused."
    )

    class Meta:
        verbose_name_plural = "reward settings"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="rewards_settings_singleton")]

    def __str__(self) -> str:
        return "Reward settings"


class Reward(models.Model):
    """Something a patient can turn points into."""

    class Kind(models.TextChoices):
        CREDIT = "credit", "Service credit"
        PERCENT = "percent", "Percent discount"
        FREE_ITEM = "free_item", "Free product or service"

    class LimitPeriod(models.TextChoices):
        YEAR = "year", "Per calendar year"
        EVER = "ever", "Ever"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    image = models.ImageField(upload_to=reward_image_path, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    credit_cents = models.PositiveIntegerField(null=True, blank=True, help_text="For a service credit.")
    percent_off = models.PositiveIntegerField(null=True, blank=True, help_text="For a percent discount (1-100).")
    item = models.ForeignKey(
        CatalogItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="For a free item."
    )
    points_cost = models.PositiveIntegerField()
    min_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    stock = models.PositiveIntegerField(null=True, blank=True, help_text="Vouchers left; empty = unlimited.")
    per_patient_limit = models.PositiveIntegerField(null=True, blank=True)
    limit_period = models.CharField(max_length=5, choices=LimitPeriod.choices, default=LimitPeriod.YEAR)
    is_active = models.BooleanField(default=True)
    # A gift the program gives (a referral credit or discount): never offered for points, not listed.
    is_gift = models.BooleanField(default=False)
    display_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_order", "points_cost", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(points_cost__gt=0), name="rewards_reward_cost_positive"),
            models.CheckConstraint(
                condition=Q(percent_off__isnull=True) | Q(percent_off__gte=1, percent_off__lte=100),
                name="rewards_reward_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def value_label(self) -> str:
        if self.kind == self.Kind.CREDIT and self.credit_cents is not None:
            return f"{format_money(self.credit_cents)} credit"
        if self.kind == self.Kind.PERCENT and self.percent_off is not None:
            return f"{self.percent_off}% off"
        if self.kind == self.Kind.FREE_ITEM and self.item_id:
            return f"Free {self.item.name}"
        return self.get_kind_display()


class Redemption(models.Model):
    """A reward bought with points: its voucher, shown at the desk and used once."""

    class Status(models.TextChoices):
        ISSUED = "issued", "Ready to use"
        USED = "used", "Used"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="redemptions")
    points_cost = models.PositiveIntegerField()
    voucher_code = models.CharField(max_length=12, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED)
    expires_at = models.DateTimeField()
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used_via = models.CharField(max_length=10, blank=True, help_text="desk or pos")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    points_returned = models.PositiveIntegerField(default=0)
    # The one-time token of the redeem form that issued it (rewards.submit_once): the same form sent twice
    # issues one voucher, even when both requests arrive together.
    form_token = models.CharField(max_length=40, blank=True, default="")
    # The Idempotency-Key of the API call that issued it (POST /api/v1/rewards/{id}/redeem): the same key sent
    # again by the patient answers this voucher. Null without one (nulls are never equal, so never taken).
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "status"]),
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["reward", "patient", "created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "form_token"],
                condition=~models.Q(form_token=""),
                name="rewards_redemption_form_once",
            ),
            models.UniqueConstraint(fields=["patient", "idempotency_key"], name="rewards_redemption_key_once"),
        ]

    def __str__(self) -> str:
        return f"{self.voucher_code} ({self.reward})"
