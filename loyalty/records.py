"""The points engine's part of merging two records, a patient's data download and closing an account
(patients.records): the balance moves or goes only through ledger entries, under the accounts' row locks."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Exists, OuterRef

from patients.models import Patient
from patients.records import ExportTable, MergeStep, RecordPart

from .models import ActionAward, LedgerEntry, PointsAccount, Purchase
from .services import (
    _evaluate_locked_tier,
    _post_to_locked_account,
    ensure_account,
    lock_accounts,
    points_earned_recently,
)

MERGE_SOURCE = "patients.merge"
CLOSURE_SOURCE = "patients.closure"


def lock(patients: list[Patient]) -> None:
    """Both points accounts (opened first if missing), in primary-key order through the one lock helper."""
    lock_accounts(*(ensure_account(patient=patient).pk for patient in patients))


def merge(step: MergeStep) -> dict[str, int]:
    """The merged account's balance moves with two entries linked to the merge, never by changing entries;
    purchases and bonuses move to the kept patient (refunds of those purchases then take points back from
    the account that has them)."""
    kept_account = PointsAccount.objects.get(patient=step.kept)
    merged_account = PointsAccount.objects.get(patient=step.merged)
    accounts = lock_accounts(kept_account.pk, merged_account.pk)  # already held: this re-reads them
    kept_account, merged_account = accounts[kept_account.pk], accounts[merged_account.pk]
    points = merged_account.balance
    link = {"source_type": MERGE_SOURCE, "source_id": step.merge.pk, "actor": step.actor}
    # The kept account carries the later expiry date and last purchase of the two.
    also_save = []
    for field in ("expires_at", "last_purchase_at"):
        theirs = getattr(merged_account, field)
        if theirs and (getattr(kept_account, field) is None or theirs > getattr(kept_account, field)):
            setattr(kept_account, field, theirs)
            also_save.append(field)
    if points:
        _post_to_locked_account(
            account=merged_account,
            delta=-points,
            kind=LedgerEntry.Kind.MERGE,
            idempotency_key=f"merge:{step.merge.pk}:out",
            note=f"Moved to the record #{step.kept.pk} (merge)",
            **link,
        )
        _post_to_locked_account(
            account=kept_account,
            delta=points,
            kind=LedgerEntry.Kind.MERGE,
            idempotency_key=f"merge:{step.merge.pk}:in",
            note=f"Moved from the record #{step.merged.pk} (merge)",
            also_save=tuple(also_save),
            **link,
        )
    elif also_save:
        kept_account.save(update_fields=[*also_save, "updated_at"])
    # The kept patient's tier counts what both earned in the last 12 months (points_earned_recently counts the
    # records merged into a patient; this one is being merged, so its part is added here).
    earned = points_earned_recently(account=kept_account) + points_earned_recently(account=merged_account)
    _evaluate_locked_tier(account=kept_account, earned=earned)
    purchases = Purchase.objects.filter(patient=step.merged).update(patient=step.kept)
    # A bonus limited to once (or once a year) that both received stays with the merged record: the kept
    # patient already has it, and the database allows one.
    same_award = ActionAward.objects.filter(
        patient=step.kept, action_id=OuterRef("action_id"), limit_key=OuterRef("limit_key")
    )
    bonuses = (
        ActionAward.objects.filter(patient=step.merged)
        .annotate(taken=Exists(same_award))
        .filter(taken=False)
        .update(patient=step.kept)
    )
    return {"points": points, "purchases": purchases, "bonuses": bonuses}


def facts(patient: Patient) -> list[tuple[str, str]]:
    account = PointsAccount.objects.filter(patient=patient).first()
    balance = account.balance if account else 0
    return [
        ("Points", f"{balance:,}"),
        ("Purchases", f"{Purchase.objects.filter(patient=patient).count():,}"),
    ]


def export(patient: Patient) -> Iterator[ExportTable]:
    # The ledger of every account that was the patient's: their own and those of records merged into theirs.
    entries = (
        LedgerEntry.objects.filter(account__patient__in=_own_and_merged(patient))
        .order_by("created_at", "id")
        .values_list("created_at", "kind", "delta", "balance_after", "note", "account_id")
    )
    yield ExportTable(
        name="ledger",
        columns=["date", "kind", "points", "balance_after", "note", "account"],
        rows=([at.isoformat(), kind, delta, after, note, account] for at, kind, delta, after, note, account in entries),
    )
    purchases = (
        Purchase.objects.filter(patient=patient)
        .order_by("purchased_at", "id")
        .values_list("purchased_at", "total_cents", "points", "source", "id")
    )
    yield ExportTable(
        name="purchases",
        columns=["date", "total", "points", "source", "purchase"],
        rows=([at.isoformat(), f"{cents / 100:.2f}", pts, src, pk] for at, cents, pts, src, pk in purchases),
    )


def _own_and_merged(patient: Patient):
    return Patient.objects.filter(pk=patient.pk) | Patient.objects.filter(merged_into=patient)


def close(patient: Patient) -> None:
    """What is left of the balance goes with the account (one entry); the ledger stays as it was."""
    account_id = ensure_account(patient=patient).pk
    account = lock_accounts(account_id)[account_id]
    if account.balance:
        _post_to_locked_account(
            account=account,
            delta=-account.balance,
            kind=LedgerEntry.Kind.CLOSURE,
            idempotency_key=f"closure:{account.pk}",
            note="The patient closed their account",
            source_type=CLOSURE_SOURCE,
            source_id=patient.pk,
        )


LOYALTY_PART = RecordPart(
    name="loyalty",
    order=10,
    relations=("loyalty.PointsAccount.patient", "loyalty.Purchase.patient", "loyalty.ActionAward.patient"),
    lock=lock,
    merge=merge,
    facts=facts,
    export=export,
    close=close,
)
