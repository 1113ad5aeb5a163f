"""Reads of the POS API's lists: the purchases and refunds the practice recorded, as a POS reads them back.

Each comes with the patient's balance now (PurchaseOut's and RefundOut's `balance`), read in the list's own
query, and a purchase with its lines in one more query for the whole page: a page costs the same few queries
whatever its size.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from .models import PointsAccount, Purchase, PurchaseLine, Refund


def _balance_of(patient_ref: str) -> Coalesce:
    """The balance of the patient at `patient_ref` (a path from the row), 0 before their first points."""
    balance = PointsAccount.objects.filter(patient_id=OuterRef(patient_ref)).values("balance")[:1]
    return Coalesce(Subquery(balance), Value(0))


def pos_purchases(
    *, since: datetime | None = None, patient_id: int | None = None, transaction_id: str | None = None
) -> QuerySet[Purchase]:
    """Purchases (every source: the POS's, the desk's, imports), each with `line_rows` and `balance`."""
    purchases = Purchase.objects.annotate(balance=_balance_of("patient_id")).prefetch_related(
        Prefetch("lines", queryset=PurchaseLine.objects.order_by("id"), to_attr="line_rows")
    )
    if since is not None:
        purchases = purchases.filter(purchased_at__gte=since)
    if patient_id is not None:
        purchases = purchases.filter(patient_id=patient_id)
    if transaction_id is not None:
        purchases = purchases.filter(external_id=transaction_id)
    return purchases


def pos_refunds(
    *,
    since: datetime | None = None,
    patient_id: int | None = None,
    purchase_id: int | None = None,
    refund_id: str | None = None,
) -> QuerySet[Refund]:
    """Refunds (recorded since `since`, of the patient's purchases, of one purchase...), each with `balance`."""
    refunds = Refund.objects.annotate(balance=_balance_of("purchase__patient_id"))
    if since is not None:
        refunds = refunds.filter(created_at__gte=since)
    if patient_id is not None:
        refunds = refunds.filter(purchase__patient_id=patient_id)
    if purchase_id is not None:
        refunds = refunds.filter(purchase_id=purchase_id)
    if refund_id is not None:
        refunds = refunds.filter(external_id=refund_id)
    return refunds


def balances(patient_ids) -> dict[int, int]:
    """The points balance of each patient, in one query (0 for a patient with no account yet)."""
    ids = set(patient_ids)
    found = dict(PointsAccount.objects.filter(patient_id__in=ids).values_list("patient_id", "balance")) if ids else {}
    return {patient_id: found.get(patient_id, 0) for patient_id in ids}


def purchase_patients(purchase_ids) -> dict[int, int]:
    """The patient of each purchase, by purchase id, in one query."""
    ids = set(purchase_ids)
    return dict(Purchase.objects.filter(pk__in=ids).values_list("pk", "patient_id")) if ids else {}
