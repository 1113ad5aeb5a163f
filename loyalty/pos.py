"""The point of sale's writes and reads: sales once per transaction id, refunds, patient look-up.

Called by the POS API (loyalty.api_pos); the rules of points live in loyalty.services.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from patients.errors import PhoneTaken
from patients.messaging import queue_sms
from patients.models import Activity, Patient
from patients.phones import normalize_phone
from patients.services import create_patient, patient_by_phone, record_activity
from practices.errors import DomainError
from practices.formatting import format_number
from practices.selectors import current_practice, practice_url

from . import services
from .errors import AmbiguousMemberCode, IdempotencyConflict, PatientNotFound, PurchaseNotFound
from .models import Purchase, Refund


def find_patients(refs: list[dict]) -> list[Patient | None]:
    """The patient each reference names (one of phone in E.164, id or member code, as PatientRefIn gives it), or
    None; one query per kind of reference, whatever their number. A member code several patients share raises
    AmbiguousMemberCode when found in a single reference, and is None (with the error kept) in a batch."""
    phones = {ref["phone"] for ref in refs if "phone" in ref}
    ids = {ref["id"] for ref in refs if "id" in ref}
    codes = {ref["member_code"] for ref in refs if "member_code" in ref}
    by_phone = (
        {p.phone: p for p in Patient.objects.select_related("user").filter(user__phone__in=phones)} if phones else {}
    )
    by_id = Patient.objects.in_bulk(ids) if ids else {}
    by_code: dict[str, list[Patient]] = {}
    if codes:
        for patient in Patient.objects.filter(external_id__in=codes).exclude(external_id="").order_by("pk"):
            by_code.setdefault(patient.external_id, []).append(patient)
    found = []
    for ref in refs:
        if "phone" in ref:
            found.append(by_phone.get(ref["phone"]))
        elif "id" in ref:
            found.append(by_id.get(ref["id"]))
        else:
            matches = by_code.get(ref["member_code"], [])
            if len(matches) > 1:
                found.append(
                    AmbiguousMemberCode(
                        f"Several patients have the member code “{ref['member_code']}”; "
                        "name the patient by id or phone.",
                        field="patient.member_code",
                    )
                )
            else:
                found.append(matches[0] if matches else None)
    return found


def record_pos_purchase(
    *,
    transaction_id: str,
    patient: dict,
    lines: list[services.LineIn],
    purchased_at: datetime | None = None,
    payment_method: str = "",
) -> tuple[Purchase, bool]:
    """Record one POS sale (record_pos_purchases with one); returns (purchase, created) or raises its error."""
    (outcome,) = record_pos_purchases(
        [
            {
                "transaction_id": transaction_id,
                "patient": patient,
                "lines": lines,
                "purchased_at": purchased_at,
                "payment_method": payment_method,
            }
        ]
    )
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def record_pos_purchases(sales: list[dict]) -> list[tuple[Purchase, bool] | DomainError]:
    """Record POS sales (as PurchaseIn validates them, with their lines read) once per transaction id; one
    outcome per sale, in order: (purchase, created), or the error that kept it out.

    An unknown phone number becomes an invited patient, texted an invitation, when the program allows it; the
    invited patients and the purchases are created together or not at all.
    """
    patients = find_patients([sale["patient"] for sale in sales])
    outcomes: list = [None] * len(sales)
    unknown = [index for index, patient in enumerate(patients) if patient is None]
    taken = _used_transaction_ids({sales[index]["transaction_id"] for index in unknown})
    invite = bool(unknown) and services.program_settings().invite_unknown_pos_patients
    to_invite: dict[str, list[int]] = {}
    for index, patient in enumerate(patients):
        ref = sales[index]["patient"]
        if isinstance(patient, DomainError):
            outcomes[index] = patient
        elif patient is not None:
            continue
        elif sales[index]["transaction_id"] in taken:
            # The id is taken, and by someone other than this (unknown) patient: checked before anyone is invited.
            outcomes[index] = _reused_transaction_id(sales[index]["transaction_id"])
        elif "phone" in ref and invite:
            to_invite.setdefault(ref["phone"], []).append(index)
        else:
            what = "phone number" if "phone" in ref else ("id" if "id" in ref else "member code")
            outcomes[index] = PatientNotFound(f"No patient with this {what}.", field=f"patient.{next(iter(ref))}")
    # Invited patients commit with their purchases; without any, record_purchases' own transaction is enough.
    with transaction.atomic() if to_invite else nullcontext():
        invited: set[int] = set()
        for phone, indexes in to_invite.items():
            patient, is_new = _invite_patient(phone=phone)
            for index in indexes:
                patients[index] = patient
            if is_new:
                invited.add(patient.pk)
        recording = [index for index, outcome in enumerate(outcomes) if outcome is None]
        results = services.record_purchases(
            [
                services.Sale(
                    patient=patients[index],
                    lines=sales[index]["lines"],
                    source=Purchase.Source.POS,
                    external_id=sales[index]["transaction_id"],
                    purchased_at=sales[index].get("purchased_at"),
                    payment_method=sales[index].get("payment_method", ""),
                )
                for index in recording
            ]
        )
        for index, result in zip(recording, results, strict=True):
            outcomes[index] = result.error or (result.purchase, result.created)
            if result.created and result.purchase.patient_id in invited:
                invited.discard(result.purchase.patient_id)  # one invitation, with the first purchase's points
                _text_invitation(patient=patients[index], purchase=result.purchase)
    return outcomes


def _used_transaction_ids(transaction_ids: set[str]) -> set[str]:
    if not transaction_ids:
        return set()
    return set(Purchase.objects.filter(external_id__in=transaction_ids).values_list("external_id", flat=True))


def _reused_transaction_id(transaction_id: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"The transaction id “{transaction_id}” was already used for another patient's purchase.",
        field="transaction_id",
    )


def _invite_patient(*, phone: str) -> tuple[Patient, bool]:
    try:
        with transaction.atomic():
            patient = create_patient(phone=phone, status=Patient.Status.PENDING, source=Patient.Source.DESK)
            record_activity(
                patient=patient,
                kind=Activity.Kind.INVITED,
                summary="Added by the point of sale at a purchase and invited by SMS",
                data={"join_url": practice_url(current_practice(), "/join/")},
            )
    except (PhoneTaken, IntegrityError):
        # A concurrent request for the same new number created the patient first; use theirs.
        patient = patient_by_phone(phone)
        if patient is None:
            raise
        return patient, False
    return patient, True


def _text_invitation(*, patient: Patient, purchase: Purchase) -> None:
    practice = current_practice()
    earned = f"you earned {format_number(purchase.points)} points today. " if purchase.points else ""
    queue_sms(
        to=patient.phone,
        body=f"{practice.sms_name}: {earned}Join our rewards program to use them: {practice_url(practice, '/join/')}",
        purpose="invite",
        patient=patient,
    )


def refund_pos_purchase(
    *, purchase_id: int, refund_id: str | None = None, lines: list[dict] | None = None, reason: str = ""
) -> tuple[Refund, bool]:
    """Refund a purchase of this practice, whole or some lines, once per refund id; returns (refund, created).

    Without a refund id, a refund identical to one recorded for the purchase in the last
    POS_DUPLICATE_REFUND_MINUTES is refused (DuplicateRefund): it is most likely the same request sent again.
    """
    purchase = Purchase.objects.filter(pk=purchase_id).first()
    if purchase is None:
        raise PurchaseNotFound(f"No purchase with the id {purchase_id}.")
    return _refund(purchase=purchase, refund_id=refund_id, lines=lines, reason=reason)


def _refund(*, purchase: Purchase, refund_id: str | None, lines: list[dict] | None, reason: str) -> tuple[Refund, bool]:
    refund, created = services.refund_purchase(
        purchase=purchase,
        lines=[(line["line_id"], line["quantity"]) for line in lines] if lines is not None else None,
        external_id=refund_id,
        reason=reason,
        refuse_repeat_within=timedelta(minutes=settings.POS_DUPLICATE_REFUND_MINUTES) or None,
    )
    if not created and refund.purchase_id != purchase.pk:
        raise IdempotencyConflict(
            f"The refund id “{refund_id}” was already used for a refund of another purchase.", field="refund_id"
        )
    return refund, created


def refund_pos_purchases(refunds: list[dict]) -> list[tuple[Refund, bool] | DomainError]:
    """Record POS refunds (as RefundBatchItemIn validates them: a refund_id each, the purchase by purchase_id or
    transaction_id); one outcome per refund, in order. Each refund is its own transaction: one that fails leaves
    the others recorded."""
    ids = {refund["purchase_id"] for refund in refunds if "purchase_id" in refund}
    transaction_ids = {refund["transaction_id"] for refund in refunds if "transaction_id" in refund}
    by_id = Purchase.objects.in_bulk(ids) if ids else {}
    by_transaction = Purchase.objects.in_bulk(transaction_ids, field_name="external_id") if transaction_ids else {}
    outcomes: list = []
    for refund in refunds:
        if "purchase_id" in refund:
            purchase, named = by_id.get(refund["purchase_id"]), f"the id {refund['purchase_id']}"
        else:
            purchase, named = (
                by_transaction.get(refund["transaction_id"]),
                f"the transaction id “{refund['transaction_id']}”",
            )
        if purchase is None:
            field = "purchase_id" if "purchase_id" in refund else "transaction_id"
            outcomes.append(PurchaseNotFound(f"No purchase with {named}.", field=field))
            continue
        try:
            outcomes.append(
                _refund(
                    purchase=purchase, refund_id=refund["refund_id"], lines=refund.get("lines"), reason=refund["reason"]
                )
            )
        except DomainError as error:
            outcomes.append(error)
    return outcomes


def pos_patient(*, phone: str) -> dict:
    """What the POS shows about a patient found by phone: name, status, balance and tier."""
    patient = (
        Patient.objects.select_related("user", "points_account__tier")
        .filter(user__phone=normalize_phone(phone))
        .first()
    )
    if patient is None:
        raise PatientNotFound("No patient with this phone number.", field="phone")
    account = getattr(patient, "points_account", None) or services.ensure_account(patient=patient)
    return {
        "id": patient.pk,
        "first_name": patient.user.first_name,
        "last_name": patient.user.last_name,
        "phone": patient.phone,
        "status": patient.status,
        "balance": account.balance,
        "tier": account.tier.name if account.tier else None,
    }
