"""Writes about patients: accounts, joining, profile, timeline. (SMS sending: patients.messaging.)"""

import logging
from datetime import date, datetime, timedelta
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from practices.locking import lock_one

from .errors import PhoneTaken, SignupInProgress
from .models import Activity, Patient, PendingSignup
from .phones import normalize_phone
from .signals import patient_joined

logger = logging.getLogger(__name__)


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
    """Create a patient and their user; refuses a phone number the practice already has (a sign-up still
    waiting for its code on the number gives way: staff, an import or the POS vouch for this one)."""
    phone = normalize_phone(phone)
    release_pending_number(phone)
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


def announce_join(*, patient: Patient, arrived_from: str = "") -> None:
    """Tell other apps (referrals) that the patient joined, in the join's transaction: what they record
    (the patient's own code, the referral) is committed with the join or not at all."""
    try:
        # A savepoint: the patient has joined whatever a subscriber does; a failure there is logged, not
        # shown to them, and rolls back only the subscriber's own writes.
        with transaction.atomic():
            patient_joined.send(
                sender=Patient,
                patient=patient,
                signup_code=patient.signup_code,
                arrived_from=arrived_from,
                schema_name=connection.schema_name,
            )
    except Exception:
        logger.exception("A subscriber failed on the join of patient %s", patient.pk)


def _join_summary(source: str, code: str) -> str:
    label = Patient.Source(source).label if source in Patient.Source.values else source
    return f"Joined ({label.lower()}{f': {code}' if code else ''})"


@transaction.atomic
def complete_join(
    *,
    user: User,
    first_name: str,
    last_name: str,
    email: str,
    birthday: date,
    code: str,
    arrived_from: str,
    sms_consent: bool,
    sms_consent_text: str,
) -> Patient:
    """Attach (or complete) the patient profile of a user who just joined; announces the join once."""
    from .codes import source_for_code

    user.first_name, user.last_name = first_name.strip(), last_name.strip()
    user.email = email.strip() or user.email or None
    user.save(update_fields=["first_name", "last_name", "email"])

    now = timezone.now()
    patient = lock_one(Patient.objects.filter(user=user)) or Patient(user=user)
    was_active = patient.pk is not None and patient.status == Patient.Status.ACTIVE
    source = source_for_code(code) if code else None
    if patient.pk is None:
        patient.source = source or (arrived_from if arrived_from in Patient.Source.values else Patient.Source.QR)
        # The code used at sign-up is kept as entered; a referral never counts retroactively.
        patient.signup_code = code
    patient.birthday = birthday
    patient.terms_accepted_at = now
    _set_consent(patient, sms_consent, sms_consent_text, now)
    patient.status = Patient.Status.ACTIVE
    patient.joined_at = patient.joined_at or now
    patient.save()

    if not was_active:
        record_activity(patient=patient, kind=Activity.Kind.JOINED, summary=_join_summary(patient.source, code))
        if patient.signup_code:
            record_activity(
                patient=patient,
                kind=Activity.Kind.CODE_USED,
                summary=f"Used the code {patient.signup_code} to join",
                data={"code": patient.signup_code, "source": patient.source},
            )
        announce_join(patient=patient, arrived_from=arrived_from)
    return patient


def _set_consent(patient: Patient, consent: bool, wording: str, now) -> bool:
    """Record an SMS-consent answer with its time and wording; returns whether it changed."""
    if consent == patient.sms_consent and (patient.sms_consent_at or not consent):
        return False
    patient.sms_consent = consent
    patient.sms_consent_at = now
    patient.sms_consent_text = wording if consent else ""
    return True


@transaction.atomic
def update_profile(
    *,
    patient: Patient,
    first_name: str | None = None,
    last_name: str | None = None,
    birthday: date | None = None,
    sms_consent: bool | None = None,
    sms_consent_text: str = "",
    notify_by_sms: bool | None = None,
    notify_by_push: bool | None = None,
    actor: User | None = None,
) -> Patient:
    """Change what the patient (or staff for them) edited; only given fields change; one timeline line.

    The email address is not among them: a new address must be confirmed first (`request_email_change`)."""
    user = patient.user
    changed: list[str] = []
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if value is not None and getattr(user, field) != value.strip():
            setattr(user, field, value.strip())
            changed.append(field)
    if changed:
        user.save(update_fields=changed)

    patient_changed: list[str] = []
    if birthday is not None and birthday != patient.birthday:
        patient.birthday = birthday
        patient_changed.append("birthday")
    for field, value in (("notify_by_sms", notify_by_sms), ("notify_by_push", notify_by_push)):
        if value is not None and getattr(patient, field) != value:
            setattr(patient, field, value)
            patient_changed.append(field)
    consent_changed = sms_consent is not None and _set_consent(patient, sms_consent, sms_consent_text, timezone.now())
    if patient_changed or consent_changed:
        patient.save()
    if consent_changed:
        record_activity(
            patient=patient,
            kind=Activity.Kind.CONSENT_CHANGED,
            summary="Agreed to marketing texts" if patient.sms_consent else "Withdrew consent to marketing texts",
            actor=actor,
        )
    if changed or patient_changed:
        record_activity(
            patient=patient,
            kind=Activity.Kind.PROFILE_UPDATED,
            summary="Updated " + ", ".join(f.replace("_", " ") for f in changed + patient_changed),
            actor=actor,
            data={"fields": changed + patient_changed},
        )
    return patient


def activate_pending_patient(*, user: User) -> Patient | None:
    """A patient added at the desk or imported becomes active the first time they sign in."""
    with transaction.atomic():
        patient = lock_one(Patient.objects.filter(user=user, status=Patient.Status.PENDING))
        if patient is None:
            return None
        patient.status = Patient.Status.ACTIVE
        patient.joined_at = timezone.now()
        patient.save(update_fields=["status", "joined_at"])
        record_activity(patient=patient, kind=Activity.Kind.JOINED, summary="Joined (finished an invitation)")
        announce_join(patient=patient)
    return patient


# ---------------------------------------------------------------- joining: the phone first, then the patient

# A sign-up whose code was never confirmed is removed after this long (patients.jobs.remove_stale_signups).
PENDING_SIGNUP_KEPT_FOR = timedelta(days=1)


@transaction.atomic
def start_signup(
    *,
    phone: str,
    first_name: str,
    last_name: str,
    email: str,
    birthday: date,
    code: str,
    arrived_from: str,
    sms_consent: bool,
    sms_consent_text: str,
) -> User:
    """Keep a sign-up until its number is confirmed by SMS code: an inactive user holding only the number,
    and the answers beside it (PendingSignup). No patient, consent or referral exists yet.

    A sign-up already waiting on this number is replaced (its code stops working); a number that belongs to
    an account is refused.
    """
    phone = normalize_phone(phone)
    release_pending_number(phone)
    if User.objects.filter(phone=phone).exists():
        raise PhoneTaken("This number already has an account: sign in instead.", field="phone")
    try:
        with transaction.atomic():
            user = User.objects.create_user(phone=phone, is_active=False)
    except IntegrityError:
        # Another sign-up with this number was saved at the same moment.
        raise SignupInProgress(
            "A sign-up with this number has just started. Use the code we texted, or try again in a minute.",
            field="phone",
        ) from None
    PendingSignup.objects.create(
        user=user,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=(email or "").strip().lower(),
        birthday=birthday,
        code=code,
        arrived_from=arrived_from,
        sms_consent=sms_consent,
        sms_consent_text=sms_consent_text if sms_consent else "",
    )
    return user


def release_pending_number(phone: str, *, keep: User | None = None) -> None:
    """Remove the sign-up waiting for its code on this number, if any (numbers are unique): its code stops
    working. Nothing else holds a number without an account."""
    waiting = User.objects.filter(phone=phone, is_active=False, pending_signup__isnull=False)
    if keep is not None:
        waiting = waiting.exclude(pk=keep.pk)
    waiting.delete()


class ConfirmedSignup(NamedTuple):
    patient: Patient
    # The address given at sign-up, to be confirmed by its own link ("" when none, or another account has it).
    email_to_confirm: str


def confirm_signup(*, user: User) -> ConfirmedSignup | None:
    """The number of a waiting sign-up was confirmed with its code: the user becomes active and the patient
    joins with the answers given (terms and SMS consent recorded now, the join announced once, so the
    referral counts from now). Does nothing (None) for a user with no sign-up waiting.

    The email address given is not used yet: it waits for its own confirmation (see `request_email_change`),
    and is dropped if another account took it in the meantime.
    """
    with transaction.atomic():
        pending = lock_one(PendingSignup.objects.filter(user_id=user.pk))
        if pending is None:
            return None
        User.objects.filter(pk=user.pk).update(is_active=True)
        user.is_active = True
        pending.delete()
        patient = complete_join(
            user=user,
            first_name=pending.first_name,
            last_name=pending.last_name,
            email="",
            birthday=pending.birthday,
            code=pending.code,
            arrived_from=pending.arrived_from,
            sms_consent=pending.sms_consent,
            sms_consent_text=pending.sms_consent_text,
        )
    return ConfirmedSignup(patient, "" if email_taken(pending.email, user=user) else pending.email)


def email_taken(email: str, *, user: User | None) -> bool:
    """Whether another account uses this address (emails are unique within the practice)."""
    email = (email or "").strip()
    return bool(email) and User.objects.filter(email__iexact=email).exclude(pk=getattr(user, "pk", None)).exists()


def remove_stale_signups(*, now: datetime | None = None) -> int:
    """Remove the sign-ups whose code was not confirmed within PENDING_SIGNUP_KEPT_FOR, with their inactive
    users; returns how many."""
    cutoff = (now or timezone.now()) - PENDING_SIGNUP_KEPT_FOR
    stale = User.objects.filter(is_active=False, pending_signup__created_at__lt=cutoff)
    count = stale.count()
    stale.delete()
    return count


# ---------------------------------------------------------------- email address


def request_email_change(*, request, patient: Patient, email: str, on_timeline: bool = True):
    """The patient wants to use `email`: a confirmation link is sent to it, and the address in use changes
    only once the link is opened (allauth's change-email flow; until then the address is not a sign-in
    method nor used for anything). An empty email removes the address at once (a timeline line says so,
    unless the caller writes its own: `on_timeline=False`). Returns the address waiting for confirmation,
    if one was added. `request` is allauth's: the link is built from it."""
    from allauth.account.models import EmailAddress

    email = (email or "").strip().lower()
    user = patient.user
    if email == (user.email or "").lower():
        return None
    if not email:
        with transaction.atomic():
            EmailAddress.objects.filter(user=user).delete()
            user.email = None
            user.save(update_fields=["email"])
            if on_timeline:
                record_activity(
                    patient=patient,
                    kind=Activity.Kind.PROFILE_UPDATED,
                    summary="Removed the email address",
                    data={"fields": ["email"]},
                )
        return None
    return EmailAddress.objects.add_new_email(request, user, email)


def email_confirmed(*, user: User) -> None:
    """A patient opened the confirmation link: their address in use changed (one timeline line)."""
    patient = Patient.objects.filter(user=user).first()
    if patient is not None:
        record_activity(
            patient=patient,
            kind=Activity.Kind.PROFILE_UPDATED,
            summary="Confirmed a new email address",
            data={"fields": ["email"]},
        )
