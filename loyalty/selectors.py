"""Reads of the points engine: what a patient has, owes and is close to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from patients.models import Patient

from .models import CatalogItem, LedgerEntry, PointsAccount, Purchase, Tier
from .rows import fetch_rows
from .services import ensure_account, points_earned_recently, program_settings


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
    account: PointsAccount = ensure_account(patient=patient)
    account = PointsAccount.objects.select_related("tier").get(pk=account.pk)
    earned = points_earned_recently(account=account)
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


# The POS reads below run on every sale: plain statements (see loyalty.rows), because building the same
# queries through the ORM costs several times what the database spends answering them.


def catalog_items_by_pos_id(pos_ids: set[str]) -> dict[str, CatalogItem]:
    """Catalog items by their POS id (`external_id`)."""
    if not pos_ids:
        return {}
    items = fetch_rows(
        CatalogItem, "SELECT {columns} FROM loyalty_catalogitem t WHERE t.external_id = ANY(%s)", [list(pos_ids)]
    )
    return {item.external_id: item for item in items}


def purchase_lines_and_balance(*, purchase: Purchase, fields: tuple[str, ...]) -> tuple[list[dict], int]:
    """The purchase's lines (these fields of each, in line order) and the patient's balance now, in one query."""
    columns = ", ".join(f"l.{connection.ops.quote_name(name)}" for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns}, (SELECT a.balance FROM loyalty_pointsaccount a WHERE a.patient_id = %s)"  # noqa: S608
            " FROM loyalty_purchaseline l WHERE l.purchase_id = %s ORDER BY l.id",
            [purchase.patient_id, purchase.pk],
        )
        rows = cursor.fetchall()
    if not rows:
        balance = PointsAccount.objects.filter(patient_id=purchase.patient_id).values_list("balance", flat=True)
        return [], balance.first() or 0
    return [dict(zip(fields, row[:-1], strict=True)) for row in rows], rows[0][-1] or 0
