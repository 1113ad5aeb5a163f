"""What the front desk does for patients in person: add a patient and invite them to join."""

from datetime import date

from django.db import transaction

from accounts.models import User
from practices.selectors import current_practice, practice_url

from .errors import PatientError
from .models import Activity, Patient
from .services import create_patient, record_activity


@transaction.atomic
def add_patient_at_desk(
    *,
    phone: str,
    first_name: str,
    last_name: str,
    email: str = "",
    birthday: date | None = None,
    actor: User,
) -> Patient:
    """Create an invited (pending) patient, note the invitation on their timeline and queue the SMS invite.

    All or nothing: a refused phone number or email leaves no patient, timeline line or message behind.
    """
    from .messaging import queue_sms

    email = email.strip()
    # Staff and patients share one user table, so an email already in use (even by a staff member)
    # must be refused here rather than fail on the database's unique constraint.
    if email and User.objects.filter(email__iexact=email).exists():
        raise PatientError("Another account already uses this email address.", field="email")
    patient = create_patient(
        phone=phone,
        first_name=first_name,
        last_name=last_name,
        email=email,
        birthday=birthday,
        status=Patient.Status.PENDING,
        source=Patient.Source.DESK,
        actor=actor,
    )
    practice = current_practice()
    join_url = practice_url(practice, "/join/")
    record_activity(
        patient=patient,
        kind=Activity.Kind.INVITED,
        summary="Added at the desk and invited by SMS",
        actor=actor,
        data={"join_url": join_url},
    )
    queue_sms(
        to=patient.phone,
        body=f"{practice.sms_name}: you're invited to our rewards program. Join here: {join_url}",
        purpose="invite",
        patient=patient,
    )
    return patient
