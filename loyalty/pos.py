"""The point of sale's writes and reads: sales once per transaction id, refunds, patient look-up.

Called by the POS API (loyalty.api_pos); the rules of points live in loyalty.services.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from patients.errors import PhoneTaken
from patients.messaging import queue_sms
from patients.models import Activity, Patient
from patients.phones import normalize_phone
from patients.services import create_patient, patient_by_phone, record_activity
from practices.formatting import format_number
from practices.selectors import practice_url

from . import services
from .errors import AmbiguousMemberCode, IdempotencyConflict, PatientNotFound, PurchaseNotFound
from .models import Purchase, Refund
from .rows import fetch_rows


def find_patient(*, phone: str | None = None, id: int | None = None, member_code: str | None = None) -> Patient | None:
    """The patient named by one of phone (E.164), id or member code (Patient.external_id), or None."""
    patients = Patient.objects.all()  # without the user's columns: a sale needs only the patient
    if phone is not None:
        # How most POS sales name the patient: a plain statement (loyalty.rows) rather than an ORM query.
        found = fetch_rows(
            Patient,
            "SELECT {columns} FROM patients_patient t JOIN accounts_user u ON u.id = t.user_id"
            " WHERE u.phone = %s ORDER BY t.id LIMIT 1",
            [phone],
        )
        return found[0] if found else None
    if id is not None:
        return patients.filter(pk=id).first()
    matches = list(patients.filter(external_id=member_code).exclude(external_id="")[:2])
    if len(matches) > 1:
        raise AmbiguousMemberCode(
            f"Several patients have the member code “{member_code}”; name the patient by id or phone.",
            field="patient.member_code",
        )
    return matches[0] if matches else None


def record_pos_purchase(
    *,
    transaction_id: str,
    patient: dict,
    lines: list[services.LineIn],
    purchased_at: datetime | None = None,
    payment_method: str = "",
) -> tuple[Purchase, bool]:
    """Record a POS sale once per transaction id (repeats return the first); returns (purchase, created).

    An unknown phone number becomes an invited patient, texted an invitation, when the program allows it;
    the patient and the purchase are then created together or not at all.
    """
    record = {
        "lines": lines,
        "source": Purchase.Source.POS,
        "external_id": transaction_id,
        "purchased_at": purchased_at,
        "payment_method": payment_method,
    }
    found = find_patient(**patient)
    if found is None:
        # Checked before anyone is invited: the id is taken, and by someone other than this (unknown) patient.
        if Purchase.objects.filter(external_id=transaction_id).exists():
            raise _reused_transaction_id(transaction_id)
        if "phone" not in patient or not services.program_settings().invite_unknown_pos_patients:
            what = "phone number" if "phone" in patient else ("id" if "id" in patient else "member code")
            raise PatientNotFound(f"No patient with this {what}.", field=f"patient.{next(iter(patient))}")
        with transaction.atomic():
            found, invited = _invite_patient(phone=patient["phone"])
            purchase, created = services.record_purchase(patient=found, **record)
            if invited:
                _text_invitation(patient=found, purchase=purchase)
        return purchase, created
    purchase, created = services.record_purchase(patient=found, **record)
    if not created and purchase.patient_id != found.pk:
        raise _reused_transaction_id(transaction_id)
    return purchase, created


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
                data={"join_url": practice_url(connection.tenant, "/join/")},
            )
    except (PhoneTaken, IntegrityError):
        # A concurrent request for the same new number created the patient first; use theirs.
        patient = patient_by_phone(phone)
        if patient is None:
            raise
        return patient, False
    return patient, True


def _text_invitation(*, patient: Patient, purchase: Purchase) -> None:
    practice = connection.tenant
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
