"""Writes about patients: accounts, joining, profile, timeline. (SMS sending: patients.messaging.)"""

from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User

from .errors import PhoneTaken
from .models import Activity, Patient
from .phones import normalize_phone
from .signals import patient_joined


def record_activity(
    *, patient: Patient, kind: str, summary: str, actor: User | None = None, data: dict | None = None
) -> Activity:
    """Append one line to the patient's timeline. Every app records what happened through this."""
    return Activity.objects.create(patient=patient, kind=kind, summary=summary[:300], actor=actor, data=data or {})


def patient_by_phone(phone: str) -> Patient | None:
    return Patient.objects.select_related("user").filter(user__phone=normalize_phone(phone)).first()


@transaction.atomic
def create_patient(
    *,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    birthday: date | None = None,
    status: str = Patient.Status.ACTIVE,
    source: str = Patient.Source.QR,
    signup_code: str = "",
    actor: User | None = None,
    external_id: str = "",
) -> Patient:
    """Create a patient and their user; refuses a phone number the practice already has."""
    phone = normalize_phone(phone)
    if User.objects.filter(phone=phone).exists():
        raise PhoneTaken("A patient with this phone number already exists.", field="phone")
    user = User.objects.create_user(
        email=email.strip() or None, phone=phone, first_name=first_name.strip(), last_name=last_name.strip()
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    now = timezone.now()
    patient = Patient.objects.create(
        user=user,
        status=status,
        source=source,
        signup_code=signup_code.strip().upper(),
        birthday=birthday,
        external_id=external_id,
        joined_at=now if status == Patient.Status.ACTIVE else None,
    )
    return patient


def announce_join(*, patient: Patient) -> None:
    """Tell other apps (referrals) that the patient joined, once the transaction has committed."""
    schema_name = connection.schema_name
    transaction.on_commit(
        lambda: patient_joined.send(
            sender=Patient, patient=patient, signup_code=patient.signup_code, schema_name=schema_name
        )
    )
