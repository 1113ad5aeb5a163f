"""Changing a patient's mobile number: the new number is used only once the code texted to it is entered.

The patient changes it from their profile (or the app: `POST /api/v1/me/phone`, then `/confirm`). Staff
change it at the desk: the code goes to the new number and the patient reads it out to them, so the number
is proven to be in the patient's hands before it becomes how they sign in (a number typed wrong, or someone
else's, never takes over the account). The old number is told by text that it was replaced.

The code, its time and the wrong attempts are allauth's code-verification state (its code format, timeout and
attempt limit, `ACCOUNT_PHONE_VERIFICATION_*`), kept in a PhoneChange row instead of a session because the
person entering the code may not be the one who asked. Codes to a number are limited like sign-up codes
(allauth's `verify_phone` limit): over it, allauth's RateLimited is raised.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.code_verification import AbstractCodeVerificationProcess
from allauth.core import ratelimit
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.models import User
from practices import audit
from practices.locking import lock_one
from practices.selectors import current_practice

from .errors import PatientError, PhoneTaken
from .messaging import queue_sms
from .models import Activity, Message, Patient, PhoneChange
from .phones import display_phone, normalize_phone
from .services import record_activity, release_pending_number

NUMBER_TAKEN = "Another patient has this number. Check it, or merge the two records if they are the same person."


class PhoneChangeError(PatientError):
    code = "phone_change_error"


class SameNumber(PhoneChangeError):
    code = "same_phone"


class NoCodeWaiting(PhoneChangeError):
    code = "no_code_waiting"
    status = 409


class IncorrectCode(PhoneChangeError):
    code = "incorrect_code"


class TooManyWrongCodes(PhoneChangeError):
    code = "too_many_attempts"
    status = 409


class _Verification(AbstractCodeVerificationProcess):
    """allauth's code verification (timeout, attempts) with its state kept on the PhoneChange row."""

    def __init__(self, change: PhoneChange):
        super().__init__(
            user=change.patient.user,
            state=change.state,
            timeout=allauth_settings.PHONE_VERIFICATION_TIMEOUT,
            max_attempts=allauth_settings.PHONE_VERIFICATION_MAX_ATTEMPTS,
        )
        self.change = change

    def persist(self) -> None:
        self.change.state = self.state
        self.change.save(update_fields=["state"])

    def abort(self) -> None:
        self.change.delete()

    def send(self) -> None:
        get_adapter().send_verification_code_sms(user=self.user, phone=self.change.phone, code=self.code)


def number_taken(phone: str, *, patient: Patient) -> bool:
    """Whether another account uses the number (a sign-up still waiting for its code does not count: the
    code entered here proves the number is this patient's)."""
    others = User.objects.filter(phone=phone).exclude(pk=patient.user_id)
    return others.exclude(is_active=False, pending_signup__isnull=False).exists()


def start_phone_change(*, patient: Patient, phone: str, request: HttpRequest, actor: User | None = None) -> PhoneChange:
    """Text a code to the new number (replacing any change still waiting). `actor` is the staff member at the
    desk; None when the patient asked. `request` is the one allauth's limits count by."""
    if actor is not None:
        audit.require_actor(actor)
    phone = normalize_phone(phone)
    if phone == patient.phone:
        raise SameNumber("This is already the number in use.", field="phone")
    if number_taken(phone, patient=patient):
        raise PhoneTaken(NUMBER_TAKEN if actor else "Another account uses this number.", field="phone")
    ratelimit.consume(request, action="verify_phone", key=phone, raise_exception=True)
    with transaction.atomic():
        PhoneChange.objects.filter(patient=patient).delete()
        state = AbstractCodeVerificationProcess.initial_state(user=patient.user, phone=phone)
        state["code"] = get_adapter().generate_phone_verification_code(user=patient.user, phone=phone)
        change = PhoneChange.objects.create(patient=patient, phone=phone, state=state, requested_by=actor)
        _Verification(change).send()
        if actor is not None:
            audit.record(
                actor=actor,
                action="patient.phone_code_sent",
                target=patient,
                target_label=_label(patient),
                after={"phone_to_confirm": phone},
            )
    return change


def waiting_change(*, patient: Patient) -> PhoneChange | None:
    """The number change waiting for its code, if it is still valid."""
    change = PhoneChange.objects.filter(patient=patient).first()
    if change is None or not _Verification(change).is_valid():
        return None
    return change


def confirm_phone_change(*, patient: Patient, code: str, actor: User | None = None) -> Patient:
    """Enter the code texted to the new number: the number in use changes, the old one is told. A wrong code
    counts against the attempts (the change is dropped at the limit); an expired one is dropped."""
    if actor is not None:
        audit.require_actor(actor)
    # Outside the transaction below, so that a wrong attempt is counted even though an error is raised.
    with transaction.atomic():
        # The patient and their user are locked with the change: the number in use changes on the user row.
        change = lock_one(
            PhoneChange.objects.select_related("patient__user").filter(patient=patient),
            of=("self", "patient", "patient__user"),
        )
        if change is None:
            outcome = "none"
        else:
            verification = _Verification(change)
            if not verification.is_valid():
                change.delete()
                outcome = "expired"
            elif not constant_time_compare((code or "").strip(), verification.code):
                outcome = "wrong" if verification.record_invalid_attempt() else "locked"
            else:
                outcome = _apply(change=change, actor=actor)
    if outcome == "done":
        patient.user.refresh_from_db()
        return patient
    raise {
        "none": NoCodeWaiting("No new number is waiting for a code. Enter the new number first.", field="code"),
        "expired": NoCodeWaiting(
            f"That code has expired (codes last {allauth_settings.PHONE_VERIFICATION_TIMEOUT // 60} minutes). "
            "Ask for a new one.",
            field="code",
        ),
        "wrong": IncorrectCode("That code isn't right. Check the text message and try again.", field="code"),
        "locked": TooManyWrongCodes(
            "That code was wrong too many times, so it no longer works. Ask for a new one.", field="code"
        ),
        "taken": PhoneTaken(NUMBER_TAKEN if actor else "Another account uses this number now.", field="phone"),
    }[outcome]


def _apply(*, change: PhoneChange, actor: User | None) -> str:
    patient = change.patient
    user = patient.user
    old, new = user.phone or "", change.phone
    release_pending_number(new, keep=user)
    if number_taken(new, patient=patient):
        change.delete()
        return "taken"
    try:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(phone=new, phone_verified=True)
    except IntegrityError:  # taken at this very moment
        change.delete()
        return "taken"
    change.delete()
    record_activity(
        patient=patient,
        kind=Activity.Kind.PHONE_CHANGED,
        summary=f"Mobile number changed from {display_phone(old) or 'none'} to {display_phone(new)}"
        + (" at the desk (code read out by the patient)" if actor else " by the patient (code entered)"),
        actor=actor,
        data={"by_staff": actor is not None},
    )
    if actor is not None:
        audit.record(
            actor=actor,
            action="patient.phone_changed",
            target=patient,
            target_label=_label(patient),
            before={"phone": old},
            after={"phone": new},
        )
    if old:
        queue_sms(
            to=old,
            body=f"{current_practice().sms_name}: your rewards account now uses another mobile number. "
            "If you didn't ask for this, please call us.",
            purpose=Message.Purpose.TRANSACTIONAL,
            patient=patient,
        )
    return "done"


def remove_expired_phone_changes(*, now: datetime | None = None) -> int:
    """Drop number changes whose code was never entered (a number and a code kept for nothing); returns how many."""
    cutoff = (now or timezone.now()) - timedelta(seconds=allauth_settings.PHONE_VERIFICATION_TIMEOUT)
    removed, _ = PhoneChange.objects.filter(created_at__lt=cutoff).delete()
    return removed


def _label(patient: Patient) -> str:
    return f"{patient.full_name or 'No name'} (#{patient.pk})"
