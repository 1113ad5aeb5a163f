"""Reads behind the staff portal's points pages: catalog search, counts per tier and action, the
adjustments audit, receipts and the points liability."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import User

from .models import (
    CatalogItem,
    EarningAction,
    LedgerEntry,
    PointsAccount,
    Purchase,
    PurchaseLine,
    Refund,
    Tier,
)
from .services import program_settings


def catalog_items(*, query: str = "", status: str = "") -> QuerySet[CatalogItem]:
    """Catalog items whose name or category contains `query`; `status` "active" or "inactive" filters."""
    items = CatalogItem.objects.order_by("category", "name", "id")
    for word in query.split():
        items = items.filter(Q(name__icontains=word) | Q(category__icontains=word))
    if status == "active":
        items = items.filter(is_active=True)
    elif status == "inactive":
        items = items.filter(is_active=False)
    return items


def catalog_categories() -> list[str]:
    """The categories used in the catalog, each once (case as first written), alphabetically."""
    seen: dict[str, str] = {}
    for category in CatalogItem.objects.order_by("category").values_list("category", flat=True).distinct():
        seen.setdefault(category.lower(), category)
    return sorted(seen.values(), key=str.lower)


def was_ever_purchased(*, item: CatalogItem) -> bool:
    return PurchaseLine.objects.filter(item=item).exists()


def points_liability() -> tuple[int, int]:
    """Every unspent point, and what they are worth to the practice in cents."""
    points = PointsAccount.objects.aggregate(total=Sum("balance"))["total"] or 0
    return points, points * program_settings().point_value_cents


def tiers_with_counts() -> QuerySet[Tier]:
    return Tier.objects.annotate(patient_count=Count("accounts")).order_by("threshold_points", "sort_order")


def actions_with_counts() -> QuerySet[EarningAction]:
    return EarningAction.objects.annotate(award_count=Count("awards")).order_by("name", "id")


def staff_awardable_actions() -> QuerySet[EarningAction]:
    """Active actions staff give by hand (birthday and cross-booking are given by the system)."""
    return EarningAction.objects.filter(is_active=True).exclude(kind__in=EarningAction.AUTOMATIC_KINDS).order_by("name")


def staff_users() -> QuerySet[User]:
    return User.objects.filter(staff_member__isnull=False).order_by("first_name", "last_name", "email")


def adjustment_entries(
    *, actor_id: int | None = None, since: date | None = None, until: date | None = None
) -> QuerySet[LedgerEntry]:
    """Manual adjustments, newest first; `since` and `until` are whole days in the practice's time zone."""
    entries = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).select_related(
        "account__patient__user", "actor"
    )
    zone = timezone.get_current_timezone()
    if actor_id:
        entries = entries.filter(actor_id=actor_id)
    if since:
        entries = entries.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=zone))
    if until:
        entries = entries.filter(created_at__lt=datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone))
    return entries.order_by("-created_at", "-id")


@dataclass(frozen=True)
class Receipt:
    purchase: Purchase
    lines: list[PurchaseLine]
    refunds: list[Refund]
    balance_after_purchase: int | None
    balance_now: int

    @property
    def can_refund(self) -> bool:
        return any(line.refunded_quantity < line.quantity for line in self.lines)


def purchase_receipt(*, purchase: Purchase) -> Receipt:
    """A purchase with its lines, refunds and the balances right after it and now."""
    entry = LedgerEntry.objects.filter(purchase=purchase, kind=LedgerEntry.Kind.PURCHASE).only("balance_after").first()
    account = PointsAccount.objects.filter(patient_id=purchase.patient_id).only("balance").first()
    return Receipt(
        purchase=purchase,
        lines=list(purchase.lines.all()),
        refunds=list(purchase.refunds.select_related("actor").prefetch_related("lines__line")),
        balance_after_purchase=entry.balance_after if entry else None,
        balance_now=account.balance if account else 0,
    )
