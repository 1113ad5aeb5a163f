"""A patient closes their own account: signed out for good, personal data erased, the ledger kept consistent.

Erased: names, phone number, email (and its confirmations), birthday, the practice's id and notes for them,
push subscriptions, a number change waiting for its code, the text of their messages (texts and inbox) and
of staff notes on their timeline, and who a merged record was. Kept, without a name: the record itself
(status archived, "closed account" on the staff timeline), the ledger (what was left of the balance goes with
one entry), purchases, vouchers (unused ones withdrawn) and referrals, which other patients' rewards and the
practice's books depend on. The referral code is retired.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from practices import audit

from .errors import PatientError
from .merging import lock_records
from .models import Activity, Message, Notification, Patient, PatientMerge, PhoneChange, PushSubscription
from .records import record_parts
from .services import record_activity

ERASED = "(erased: the patient closed their account)"
PERSONAL_LINES = (Activity.Kind.NOTE, Activity.Kind.PHONE_CHANGED, Activity.Kind.MERGED)


class AccountAlreadyClosed(PatientError):
    code = "account_closed"
    status = 409


def close_account(*, patient: Patient) -> Patient:
    """Close the patient's own account (see the module's docstring). Every app's part runs in the same
    transaction; the caller signs the patient out."""
    with transaction.atomic():
        lock_records([patient])
        patient = Patient.objects.select_related("user").get(pk=patient.pk)
        if patient.status == Patient.Status.ARCHIVED:
            raise AccountAlreadyClosed("This account is already closed.")
        for part in record_parts:
            if part.close:
                part.close(patient)
        record_activity(
            patient=patient,
            kind=Activity.Kind.ACCOUNT_CLOSED,
            summary="Closed their account: personal data erased, points and vouchers gone",
        )
        label = f"Patient #{patient.pk} (closed account)"
        # The trail keeps what was done to the record and by whom, not the person's details.
        audit.erase_personal_data(target=patient, user=patient.user, label=label)
        audit.record(
            actor=audit.System("The patient, from their own profile"),
            action="patient.closed",
            target=patient,
            target_label=label,
        )
    return patient


def erase_own(patient: Patient) -> None:
    """This app's part of a closure (patients.merging.PATIENTS_PART)."""
    user = patient.user
    phone = user.phone
    EmailAddress.objects.filter(user=user).delete()
    user.first_name = user.last_name = ""
    user.phone = user.email = None
    user.phone_verified = False
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["first_name", "last_name", "phone", "email", "phone_verified", "is_active", "password"])

    patient.birthday = None
    patient.external_id = ""
    patient.notes = ""
    patient.status = Patient.Status.ARCHIVED
    patient.closed_at = timezone.now()
    patient.notify_by_sms = patient.notify_by_push = False
    patient.save()

    PushSubscription.objects.filter(patient=patient).delete()
    PhoneChange.objects.filter(patient=patient).delete()
    sent_to_them = Q(patient=patient) | (Q(to=phone) if phone else Q(pk__in=[]))
    Message.objects.filter(sent_to_them).update(body=ERASED, to="")
    Notification.objects.filter(patient=patient).update(title="(erased)", body="", url="")
    # Lines whose words carry personal data: staff notes, number changes (the last digits), merges (names).
    Activity.objects.filter(patient=patient, kind__in=PERSONAL_LINES).update(summary=ERASED, data={})
    # Records merged into this one were the same person: their names go too, and who they were.
    merged_records = Patient.objects.filter(merged_into=patient)
    User.objects.filter(patient__in=merged_records).update(first_name="", last_name="")
    merged_records.update(birthday=None, external_id="", notes="")
    merges = PatientMerge.objects.filter(Q(kept=patient) | Q(merged=patient))
    Activity.objects.filter(
        kind=Activity.Kind.MERGED, data__merge_id__in=list(merges.values_list("pk", flat=True))
    ).update(summary=ERASED)
    merges.update(merged_details={})
