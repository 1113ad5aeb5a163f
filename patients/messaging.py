"""SMS to patients: queueing with consent and quiet hours, delivery, STOP/START/HELP, delivery reports.

Every SMS the practice sends goes through `queue_sms`, which logs a Message row and queues the task
that sends it in the same transaction; `deliver_message` (run by that task) re-checks the rules at send
time and calls the backend from patients.sms.
"""

import logging
import string
from datetime import datetime, time, timedelta, tzinfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from practices.locking import lock, lock_get, lock_one
from practices.selectors import current_practice
from practices.tasks import enqueue_for_practice

from . import sms
from .errors import InvalidPhone
from .models import Activity, Message, Patient
from .phones import normalize_phone
from .services import patient_by_phone, record_activity
from .sms import TWILIO_UNSUBSCRIBED, SmsPermanentError, SmsTemporaryError

logger = logging.getLogger(__name__)

# A message that failed this many times for passing reasons is given up on (django-q2's max_attempts is 3 too).
MAX_ATTEMPTS = 3
# Statuses deliver_message never touches again: the message was handed over, or never will be.
SETTLED = {
    Message.Status.SENT,
    Message.Status.DELIVERED,
    Message.Status.UNDELIVERED,
    Message.Status.FAILED,
    Message.Status.SUPPRESSED,
}
# What the body of a settled sign-in code becomes: whoever reads the message log must not be able to sign in as
# the patient with it.
LOGIN_CODE_REDACTED = "(sign-in code, not kept after sending)"

# A queued message the sweep finds older than this was lost on the way (its task too): it is sent again.
STUCK_AFTER = timedelta(minutes=10)
# ...unless it is older than this: a text that arrives a day late does more harm than good.
STALE_AFTER = timedelta(days=1)

# The carrier-standard keywords (the ones Twilio itself recognises), compared on the whole message.
STOP_KEYWORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_KEYWORDS = {"START", "YES", "UNSTOP"}
HELP_KEYWORDS = {"HELP", "INFO"}

# Twilio's delivery statuses that change what we know; queued/accepted/sending say nothing new after "sent".
TWILIO_STATUSES = {
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "undelivered": Message.Status.UNDELIVERED,
    "failed": Message.Status.FAILED,
}
# Callbacks can arrive out of order ("sent" after "delivered"): a status only ever moves to a higher rank.
STATUS_RANK = {
    Message.Status.SENT: 1,
    Message.Status.DELIVERED: 2,
    Message.Status.UNDELIVERED: 2,
    Message.Status.FAILED: 2,
}


def quiet_hours_end(*, at: datetime, zone: tzinfo | None = None) -> datetime | None:
    """When the quiet hours around `at` end (an aware datetime in `zone`, the current practice's time zone by
    default), or None outside quiet hours."""
    start, end = settings.SMS_QUIET_HOURS
    zone = zone or timezone.get_current_timezone()
    local = at.astimezone(zone)
    hour = local.hour
    # (21, 9) wraps past midnight; (0, 8) would not.
    is_quiet = (hour >= start or hour < end) if start > end else (start <= hour < end)
    if not is_quiet:
        return None
    day = local.date() if hour < end else local.date() + timedelta(days=1)
    # Built from the local date, not by adding 24 hours, so a DST change overnight still gives 09:00 on the clock.
    return datetime.combine(day, time(hour=end), tzinfo=zone)


def _marketing_refusal(patient: Patient | None) -> str:
    """Why this patient may not get marketing SMS, or "" if they may."""
    if patient is None:
        return "Marketing SMS goes only to a patient who consented."
    if patient.sms_opted_out_at is not None:
        return "The patient replied STOP."
    if not patient.sms_consent:
        return "The patient has not consented to marketing SMS."
    if not patient.can_receive_marketing_sms:
        return "The patient has no phone number."
    return ""


def _enqueue_send(message_id: int, *, requeue_failed: bool = True):
    # In the caller's transaction: the message and the task that sends it are committed together.
    return enqueue_for_practice(
        "patients.tasks.send_message", message_id, key=f"send_message:{message_id}", requeue_failed=requeue_failed
    )


@transaction.atomic
def queue_sms(*, to: str, body: str, purpose: str, patient: Patient | None = None) -> Message:
    """Log one SMS and queue its sending with it; marketing is suppressed without consent and waits out quiet hours."""
    if purpose not in Message.Purpose.values:
        raise ValueError(f"Unknown SMS purpose {purpose!r}.")
    message = Message(patient=patient, to=normalize_phone(to), body=body, purpose=purpose)
    if purpose == Message.Purpose.MARKETING:
        if refusal := _marketing_refusal(patient):
            message.status = Message.Status.SUPPRESSED
            message.error = refusal
        elif send_after := quiet_hours_end(at=timezone.now()):
            message.status = Message.Status.WAITING
            message.send_after = send_after
    message.save()
    if message.status == Message.Status.QUEUED:
        _enqueue_send(message.pk)
    return message


def _lock_message(message_id: int) -> Message:
    # The message only is locked, not the patient and user joined for reading.
    return lock_get(Message.objects.select_related("patient__user"), pk=message_id)


def deliver_message(*, message_id: int) -> Message:
    """Send a queued message, re-checking consent and quiet hours; two runs or two workers never send it twice.

    Raises SmsTemporaryError (after recording the attempt) when the send should be retried.
    """
    retry: SmsTemporaryError | None = None
    # durable: never inside a caller's transaction, which would keep the lock and the record of the send
    # uncommitted after the text went out (a rollback there, and it would be sent again).
    with transaction.atomic(durable=True):
        # The lock is held across the provider call: a second worker waits here, then finds the message settled.
        message = _lock_message(message_id)
        if message.status in SETTLED:
            return message
        now = timezone.now()
        if refusal := _too_late(message, now):
            message.status = Message.Status.FAILED
            message.error = refusal
            if message.purpose == Message.Purpose.LOGIN_CODE:
                message.body = LOGIN_CODE_REDACTED
            message.save(update_fields=["status", "error", "body", "updated_at"])
            return message
        if message.purpose == Message.Purpose.MARKETING:
            # A STOP may have arrived, or the message may have waited, since it was queued.
            if refusal := _marketing_refusal(message.patient):
                message.status = Message.Status.SUPPRESSED
                message.error = refusal
                message.save(update_fields=["status", "error", "updated_at"])
                return message
            if send_after := quiet_hours_end(at=now):
                message.status = Message.Status.WAITING
                message.send_after = send_after
                message.save(update_fields=["status", "send_after", "updated_at"])
                return message

        message.attempts += 1
        try:
            provider_id = sms.get_backend().send(to=message.to, body=message.body, purpose=message.purpose)
        except SmsPermanentError as exc:
            logger.warning("SMS %s failed for good: %s", message.pk, exc)
            message.status = Message.Status.FAILED
            message.error = str(exc)
            if exc.code == TWILIO_UNSUBSCRIBED and message.patient is not None:
                # Twilio holds a STOP we never saw (sent to another of our numbers, or before this system existed).
                _set_opted_out(patient=message.patient, opted_out=True, reason="Twilio reports the number unsubscribed")
        except SmsTemporaryError as exc:
            message.error = str(exc)
            if message.attempts >= MAX_ATTEMPTS:
                logger.warning("SMS %s failed after %s attempts: %s", message.pk, message.attempts, exc)
                message.status = Message.Status.FAILED
            else:
                retry = exc
        else:
            message.status = Message.Status.SENT
            message.provider_id = provider_id
            message.sent_at = now
            message.error = ""
            if message.patient is not None:
                # The purpose, never the body: a sign-in code must not reach the timeline.
                record_activity(
                    patient=message.patient,
                    kind=Activity.Kind.MESSAGE_SENT,
                    summary=f"SMS sent: {message.get_purpose_display()}",
                    data={"message_id": message.pk, "purpose": message.purpose},
                )
        if message.purpose == Message.Purpose.LOGIN_CODE and message.status in SETTLED:
            message.body = LOGIN_CODE_REDACTED
        message.save()
    # Raised after the block so the attempt count and error are committed, not rolled back with the exception.
    if retry is not None:
        raise retry
    return message


def _too_late(message: Message, now: datetime) -> str:
    """Why a message should no longer be sent (a sign-in code past its life, a day-old text), or ""."""
    age = now - message.created_at
    code_life = timedelta(seconds=settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT)
    if message.purpose == Message.Purpose.LOGIN_CODE and age > code_life:
        return "Not sent: the sign-in code had expired before it could be sent."
    if message.status == Message.Status.QUEUED and age > STALE_AFTER:
        return "Not sent: it could not be sent within a day."
    return ""


def redrive_stuck_messages(*, now: datetime | None = None) -> int:
    """Queue again the practice's messages left "queued" with no task to send them; returns how many.

    A message and its task are committed together, so this finds only what a lost task left behind;
    queueing one whose task is still waiting changes nothing (one task per message).
    """
    now = now or timezone.now()
    stuck = Message.objects.filter(
        status=Message.Status.QUEUED, updated_at__lt=now - STUCK_AFTER, created_at__gte=now - STALE_AFTER * 2
    ).values_list("pk", flat=True)
    queued = 0
    for message_id in stuck.order_by("pk")[:500]:
        with transaction.atomic():
            queued += _enqueue_send(message_id, requeue_failed=False) is not None
    return queued


def release_waiting_messages() -> int:
    """Queue every message of the current practice whose quiet hours have ended; returns how many."""
    with transaction.atomic():
        # skip_locked: two overlapping runs split the messages instead of queueing them twice.
        waiting = Message.objects.filter(status=Message.Status.WAITING, send_after__lte=timezone.now())
        due = lock(waiting.values_list("pk", flat=True), skip_locked=True)
        Message.objects.filter(pk__in=due).update(status=Message.Status.QUEUED, updated_at=timezone.now())
        for message_id in due:
            _enqueue_send(message_id)
    return len(due)


@transaction.atomic
def _set_opted_out(*, patient: Patient, opted_out: bool, reason: str) -> bool:
    """Set or clear the patient's SMS opt-out and note it on the timeline; returns whether anything changed."""
    patient = lock_get(Patient.objects, pk=patient.pk)
    if (patient.sms_opted_out_at is not None) == opted_out:
        return False
    patient.sms_opted_out_at = timezone.now() if opted_out else None
    patient.save(update_fields=["sms_opted_out_at"])
    record_activity(
        patient=patient,
        kind=Activity.Kind.CONSENT_CHANGED,
        summary=f"{'Opted out of' if opted_out else 'Opted back in to'} SMS ({reason})",
        data={"sms_opted_out": opted_out},
    )
    return True


def _keyword(body: str) -> str:
    return (body or "").strip(string.whitespace + string.punctuation).upper()


def handle_inbound(*, from_number: str, body: str) -> str:
    """Honour STOP/START for the patient with that phone; returns the reply to send back ("" for none)."""
    keyword = _keyword(body)
    practice_name = current_practice().sms_name
    try:
        patient = patient_by_phone(from_number)
    except InvalidPhone:
        patient = None
    if keyword in STOP_KEYWORDS:
        if patient is not None:
            _set_opted_out(patient=patient, opted_out=True, reason=f"replied {keyword}")
        return f"You're unsubscribed from {practice_name} messages and won't get more. Reply START to resubscribe."
    if keyword in START_KEYWORDS:
        if patient is not None:
            _set_opted_out(patient=patient, opted_out=False, reason=f"replied {keyword}")
        return f"You're resubscribed to {practice_name} messages. Reply STOP to opt out."
    if keyword in HELP_KEYWORDS:
        return f"{practice_name}: loyalty program messages. Msg & data rates may apply. Reply STOP to opt out."
    return ""


@transaction.atomic
def handle_status_callback(*, provider_id: str, status: str, error_code: str = "") -> None:
    """Record the provider's delivery report on the message it names; unknown ids and stale reports change nothing."""
    new_status = TWILIO_STATUSES.get((status or "").strip().lower())
    if not provider_id or new_status is None:
        return
    message = lock_one(Message.objects.filter(provider_id=provider_id))
    if message is None or STATUS_RANK[new_status] <= STATUS_RANK.get(message.status, 0):
        return
    message.status = new_status
    if error_code:
        message.error = f"Twilio error {error_code}"
    message.save(update_fields=["status", "error", "updated_at"])
