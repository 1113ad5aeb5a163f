"""Reads of the points engine: what a patient has, owes and is close to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from patients.models import Patient

from .models import CatalogItem, LedgerEntry, PointsAccount, Tier
from .services import points_earned_recently, program_settings


@dataclass(frozen=True)
class PointsSummary:
    balance: int
    lifetime_earned: int
    value_cents: int
    tier: Tier | None
    next_tier: Tier | None
    points_to_next_tier: int | None
    earned_last_12_months: int
    expires_at: datetime | None
    expiring_points: int


def points_summary(*, patient: Patient) -> PointsSummary:
    """Balance, tier and progress to the next, and what expires when."""
    account = PointsAccount.objects.select_related("tier").filter(patient=patient).first()
    if account is None:  # opened with the first points; nothing to read yet
        account = PointsAccount(patient=patient)
    earned = points_earned_recently(account=account) if account.pk else 0
    next_tier = Tier.objects.filter(threshold_points__gt=earned).order_by("threshold_points").first()
    return PointsSummary(
        balance=account.balance,
        lifetime_earned=account.lifetime_earned,
        value_cents=account.balance * program_settings().point_value_cents,
        tier=account.tier,
        next_tier=next_tier,
        points_to_next_tier=(next_tier.threshold_points - earned) if next_tier else None,
        earned_last_12_months=earned,
        expires_at=account.expires_at if account.balance else None,
        expiring_points=account.balance if account.expires_at and account.expires_at > timezone.now() else 0,
    )


def patient_ledger(*, patient: Patient) -> QuerySet[LedgerEntry]:
    """Every entry of the patient's account, newest first."""
    return LedgerEntry.objects.filter(account__patient=patient).select_related("purchase", "actor")


def catalog_items_by_pos_id(pos_ids: set[str]) -> dict[str, CatalogItem]:
    """Catalog items by their POS id (`external_id`)."""
    if not pos_ids:
        return {}
    return CatalogItem.objects.in_bulk(pos_ids, field_name="external_id")
