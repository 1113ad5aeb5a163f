"""Staff writes to a patient's record (front desk and above): each takes the acting staff member and records
its audit entry in its own transaction. (Number changes: patients.phone_change; merges: patients.merging.)"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.http import HttpRequest

from accounts.models import User
from practices import audit
from practices.locking import lock_get

from .errors import PatientError
from .models import Activity, Patient
from .services import email_taken, record_activity, request_email_change

# What the record's edit page changes, and how the timeline and the audit trail name each field.
FIELDS = {
    "first_name": "first name",
    "last_name": "last name",
    "birthday": "birthday",
    "external_id": "id in your system",
    "notes": "notes",
}


class EmailTaken(PatientError):
    code = "email_taken"
    status = 409


def _values(patient: Patient) -> dict:
    return {
        "first_name": patient.user.first_name,
        "last_name": patient.user.last_name,
        "birthday": patient.birthday,
        "external_id": patient.external_id,
        "notes": patient.notes,
        "email": patient.user.email or "",
    }


def update_patient_record(
    *,
    patient: Patient,
    actor: User,
    request: HttpRequest,
    first_name: str,
    last_name: str,
    email: str,
    birthday: date | None,
    external_id: str,
    notes: str,
) -> str | None:
    """Save what staff changed on the record; one timeline line and one audit entry name the fields.

    A new email address is not used at once: a link is emailed to it (allauth's change-email flow, the same
    as when patients change it) and it replaces the old one when opened. Returns that address, if one was
    sent; an empty email removes the address at once.
    """
    audit.require_actor(actor)
    email = (email or "").strip().lower()
    if email and email != (patient.user.email or "").lower() and email_taken(email, user=patient.user):
        raise EmailTaken("Another account already uses this email address.", field="email")
    new = {
        "first_name": first_name.strip(),
        "last_name": last_name.strip(),
        "birthday": birthday,
        "external_id": external_id.strip(),
        "notes": notes.strip(),
    }
    with transaction.atomic():
        patient = lock_get(Patient.objects.select_related("user"), pk=patient.pk, no_key=True)
        if patient.status == Patient.Status.ARCHIVED:
            raise PatientError("This record is archived: it can't be changed.")
        was = _values(patient)
        user = patient.user
        user.first_name, user.last_name = new["first_name"], new["last_name"]
        user.save(update_fields=["first_name", "last_name"])
        patient.birthday, patient.external_id, patient.notes = new["birthday"], new["external_id"], new["notes"]
        patient.save(update_fields=["birthday", "external_id", "notes"])
        changed = [name for name in FIELDS if was[name] != new[name]]
        labels = [FIELDS[name] for name in changed]
        after = {name: new[name] for name in changed}
        waiting = None
        if email != was["email"].lower():
            # The line below names every field, the email's removal too, under the staff member.
            waiting = request_email_change(request=request, patient=patient, email=email, on_timeline=False)
            changed.append("email")
            labels.append("email (used once its link is opened)" if email else "email (removed)")
            after["email_to_confirm" if email else "email"] = email
        if not changed:
            return None
        record_activity(
            patient=patient,
            kind=Activity.Kind.PROFILE_UPDATED,
            summary="Updated " + ", ".join(labels),
            actor=actor,
            data={"fields": changed},
        )
        audit.record(
            actor=actor,
            action="patient.updated",
            target=patient,
            target_label=f"{patient.full_name or 'No name'} (#{patient.pk})",
            before={name: was[name] for name in changed},
            after=after,
        )
    return waiting.email if waiting else None
