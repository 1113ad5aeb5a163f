"""Sending SMS: the message log, consent, quiet hours, delivery and retries (patients.messaging)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from patients import sms
from patients.messaging import (
    LOGIN_CODE_REDACTED,
    deliver_message,
    queue_sms,
    quiet_hours_end,
    release_waiting_messages,
)
from patients.models import Activity, Message
from patients.sms import SmsPermanentError, SmsTemporaryError, outbox, reset_outbox
from patients.tasks import send_message
from practices.models import BackgroundTask
from practices.tasks import run_frequent_jobs
from tests.conftest import set_time_zone
from tests.factories import PatientFactory

NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
# Alpha's default time zone is New York; mid-afternoon there is outside quiet hours.
AFTERNOON = datetime(2025, 6, 10, 14, 0, tzinfo=NEW_YORK)


@pytest.fixture(autouse=True)
def _empty_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    reset_outbox()
    yield
    reset_outbox()


@pytest.fixture
def afternoon():
    with time_machine.travel(AFTERNOON, tick=False):
        yield


def consenting_patient(**kwargs):
    return PatientFactory(sms_consent=True, sms_consent_at=timezone.now(), **kwargs)


class FakeBackend:
    """Fails the way it is told to, counting the calls."""

    def __init__(self, error: Exception | None = None):
        self.error = error
        self.calls = 0

    def send(self, *, to: str, body: str, purpose: str) -> str:
        self.calls += 1
        if self.error:
            raise self.error
        return f"fake-{self.calls}"


def test_a_transactional_message_is_sent_and_logged_with_the_provider_id(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(
            to=patient.phone, body="Your points balance changed.", purpose="transactional", patient=patient
        )

    message.refresh_from_db()
    assert [(m.to, m.body, m.purpose) for m in outbox] == [
        (patient.phone, "Your points balance changed.", "transactional")
    ]
    assert message.status == Message.Status.SENT
    assert message.provider_id == outbox[0].provider_id
    assert message.attempts == 1
    assert message.sent_at is not None


def test_nothing_is_sent_before_the_transaction_commits(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = queue_sms(to=patient.phone, body="Hello", purpose="transactional", patient=patient)

    assert len(callbacks) == 1
    assert outbox == []
    assert Message.objects.get(pk=message.pk).status == Message.Status.QUEUED


def test_the_number_is_stored_in_e164(alpha, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(to="(415) 555-2671", body="Hello", purpose="transactional")

    assert message.to == "+14155552671"
    assert outbox[0].to == "+14155552671"


def test_a_sent_message_is_on_the_timeline_but_a_sign_in_code_is_not(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(to=patient.phone, body="Alpha: your code is 482913.", purpose="login_code", patient=patient)

    assert outbox[0].body == "Alpha: your code is 482913."
    activity = Activity.objects.get(patient=patient, kind=Activity.Kind.MESSAGE_SENT)
    assert activity.summary == "SMS sent: Sign-in code"
    assert "482913" not in f"{activity.summary} {activity.data}"
    # Once handed over, the code is not kept in the message log either.
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.body == LOGIN_CODE_REDACTED


def test_marketing_without_consent_is_suppressed_and_never_sent(alpha, afternoon, django_capture_on_commit_callbacks):
    patient = PatientFactory(sms_consent=False)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = queue_sms(to=patient.phone, body="20% off peels this week", purpose="marketing", patient=patient)

    assert callbacks == []
    assert outbox == []
    message.refresh_from_db()
    assert message.status == Message.Status.SUPPRESSED
    assert message.error == "The patient has not consented to marketing SMS."
    assert not Activity.objects.filter(patient=patient, kind=Activity.Kind.MESSAGE_SENT).exists()


def test_marketing_without_a_patient_is_suppressed(alpha, afternoon, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(to="+14155552671", body="20% off peels this week", purpose="marketing")

    assert outbox == []
    assert message.status == Message.Status.SUPPRESSED


def test_marketing_with_consent_is_sent(alpha, afternoon, django_capture_on_commit_callbacks):
    patient = consenting_patient()
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(to=patient.phone, body="20% off peels this week", purpose="marketing", patient=patient)

    assert [m.body for m in outbox] == ["20% off peels this week"]
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_a_stop_that_arrives_after_queueing_suppresses_the_message_at_send_time(alpha, afternoon):
    patient = consenting_patient()
    message = queue_sms(to=patient.phone, body="20% off peels this week", purpose="marketing", patient=patient)
    patient.sms_opted_out_at = timezone.now()
    patient.save()

    deliver_message(message_id=message.pk)

    assert outbox == []
    message.refresh_from_db()
    assert message.status == Message.Status.SUPPRESSED
    assert message.error == "The patient replied STOP."


def test_opted_out_patients_still_get_their_sign_in_codes(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory(sms_consent=False, sms_opted_out_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        queue_sms(to=patient.phone, body="Your code is 123456", purpose="login_code", patient=patient)

    assert [m.purpose for m in outbox] == ["login_code"]


@pytest.mark.parametrize(
    ("local_time", "quiet_until"),
    [
        (datetime(2025, 6, 10, 8, 59), datetime(2025, 6, 10, 9, 0)),
        (datetime(2025, 6, 10, 9, 0), None),
        (datetime(2025, 6, 10, 20, 59), None),
        (datetime(2025, 6, 10, 21, 0), datetime(2025, 6, 11, 9, 0)),
        (datetime(2025, 6, 10, 23, 59), datetime(2025, 6, 11, 9, 0)),
        (datetime(2025, 6, 11, 0, 30), datetime(2025, 6, 11, 9, 0)),
    ],
)
def test_quiet_hours_run_from_nine_at_night_to_nine_in_the_morning(settings, local_time, quiet_until):
    settings.SMS_QUIET_HOURS = (21, 9)
    at = local_time.replace(tzinfo=LOS_ANGELES)
    expected = quiet_until.replace(tzinfo=LOS_ANGELES) if quiet_until else None
    assert quiet_hours_end(at=at, zone=LOS_ANGELES) == expected


def test_quiet_hours_end_at_nine_on_the_clock_across_a_daylight_saving_change():
    # Clocks spring forward at 2:00 on 9 March 2025 in Los Angeles: 9:00 that morning is 16:00 UTC, not 17:00.
    end = quiet_hours_end(at=datetime(2025, 3, 8, 22, 30, tzinfo=LOS_ANGELES), zone=LOS_ANGELES)
    assert end == datetime(2025, 3, 9, 16, 0, tzinfo=UTC)


def test_marketing_at_night_waits_for_nine_local_time_then_is_released(alpha, django_capture_on_commit_callbacks):
    set_time_zone(alpha, "America/Los_Angeles")
    patient = consenting_patient()

    with time_machine.travel(datetime(2025, 6, 10, 22, 30, tzinfo=LOS_ANGELES), tick=False):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            message = queue_sms(to=patient.phone, body="Open house tomorrow!", purpose="marketing", patient=patient)
        assert callbacks == []
        with django_capture_on_commit_callbacks(execute=True):
            assert release_waiting_messages() == 0

    message.refresh_from_db()
    assert message.status == Message.Status.WAITING
    assert message.send_after == datetime(2025, 6, 11, 9, 0, tzinfo=LOS_ANGELES)
    assert outbox == []

    with (
        time_machine.travel(datetime(2025, 6, 11, 9, 1, tzinfo=LOS_ANGELES), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert release_waiting_messages() == 1

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert [m.body for m in outbox] == ["Open house tomorrow!"]


def test_quiet_hours_never_hold_sign_in_codes(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory()
    with (
        time_machine.travel(datetime(2025, 6, 10, 23, 30, tzinfo=NEW_YORK), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        message = queue_sms(to=patient.phone, body="Your code is 123456", purpose="login_code", patient=patient)

    assert Message.objects.get(pk=message.pk).status == Message.Status.SENT
    assert len(outbox) == 1


def test_marketing_that_reaches_the_worker_in_quiet_hours_waits_again(alpha):
    patient = consenting_patient()
    with time_machine.travel(datetime(2025, 6, 10, 20, 59, tzinfo=NEW_YORK), tick=False):
        message = queue_sms(to=patient.phone, body="Open house tomorrow!", purpose="marketing", patient=patient)
    assert message.status == Message.Status.QUEUED

    with time_machine.travel(datetime(2025, 6, 10, 21, 5, tzinfo=NEW_YORK), tick=False):
        deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.WAITING
    assert message.send_after == datetime(2025, 6, 11, 9, 0, tzinfo=NEW_YORK)
    assert outbox == []


def test_the_five_minute_jobs_release_held_messages_in_every_practice(alpha, beta, django_capture_on_commit_callbacks):
    def queue_offer(body: str) -> Message:
        patient = consenting_patient()
        return queue_sms(to=patient.phone, body=body, purpose="marketing", patient=patient)

    with time_machine.travel(datetime(2025, 6, 10, 23, 0, tzinfo=NEW_YORK), tick=False):
        alpha_offer = queue_offer("Alpha open house")
        with tenant_context(beta):
            beta_offer = queue_offer("Beta open house")

    with (
        time_machine.travel(datetime(2025, 6, 11, 9, 30, tzinfo=NEW_YORK), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_frequent_jobs()

    assert sorted(m.body for m in outbox) == ["Alpha open house", "Beta open house"]
    assert Message.objects.get(pk=alpha_offer.pk).status == Message.Status.SENT
    with tenant_context(beta):
        assert Message.objects.get(pk=beta_offer.pk).status == Message.Status.SENT


def test_delivering_twice_sends_once(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(to=patient.phone, body="Your reward is ready.", purpose="transactional", patient=patient)

    assert deliver_message(message_id=message.pk).status == Message.Status.SENT
    assert send_message(message.pk) == Message.Status.SENT

    assert len(outbox) == 1
    message.refresh_from_db()
    assert message.attempts == 1
    assert Activity.objects.filter(patient=patient, kind=Activity.Kind.MESSAGE_SENT).count() == 1


def test_a_temporary_error_is_retried_then_failed_after_three_attempts(alpha, monkeypatch):
    backend = FakeBackend(SmsTemporaryError("Twilio error 503: Service unavailable"))
    monkeypatch.setattr(sms, "get_backend", lambda: backend)
    message = queue_sms(to="+14155552671", body="Your reward is ready.", purpose="transactional")

    for attempt in (1, 2):
        with pytest.raises(SmsTemporaryError):
            deliver_message(message_id=message.pk)
        message.refresh_from_db()
        assert (message.status, message.attempts) == (Message.Status.QUEUED, attempt)
        assert message.error == "Twilio error 503: Service unavailable"

    deliver_message(message_id=message.pk)  # the third failure gives up instead of raising
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Message.Status.FAILED, 3)

    deliver_message(message_id=message.pk)
    assert backend.calls == 3


def test_a_temporary_error_in_the_queue_leaves_the_message_for_the_retry(
    alpha, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(sms, "get_backend", lambda: FakeBackend(SmsTemporaryError("Could not reach Twilio")))
    with django_capture_on_commit_callbacks(execute=True):
        queue_sms(to="+14155552671", body="Your reward is ready.", purpose="transactional")

    message = Message.objects.get(body="Your reward is ready.")
    assert (message.status, message.attempts) == (Message.Status.QUEUED, 1)
    # The task failed and waits for its retry.
    task = BackgroundTask.objects.get(key=f"send_message:{message.pk}")
    assert (task.status, task.attempts) == (BackgroundTask.Status.PENDING, 1)
    assert "Could not reach Twilio" in task.last_error
    assert task.run_after > timezone.now()


def test_a_permanent_error_fails_the_message_at_once(alpha, monkeypatch):
    backend = FakeBackend(SmsPermanentError("Twilio error 21211: Invalid 'To' Phone Number", code=21211))
    monkeypatch.setattr(sms, "get_backend", lambda: backend)
    patient = consenting_patient()
    message = queue_sms(to=patient.phone, body="Your reward is ready.", purpose="transactional", patient=patient)

    deliver_message(message_id=message.pk)
    deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert (message.status, message.attempts, backend.calls) == (Message.Status.FAILED, 1, 1)
    assert message.error == "Twilio error 21211: Invalid 'To' Phone Number"
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None


def test_a_number_the_carrier_reports_unsubscribed_is_marked_opted_out(alpha, monkeypatch):
    error = SmsPermanentError("Twilio error 21610: Attempt to send to unsubscribed recipient", code=21610)
    monkeypatch.setattr(sms, "get_backend", lambda: FakeBackend(error))
    patient = consenting_patient()
    message = queue_sms(to=patient.phone, body="Your reward is ready.", purpose="transactional", patient=patient)

    deliver_message(message_id=message.pk)

    patient.refresh_from_db()
    assert patient.sms_opted_out_at is not None
    assert not patient.can_receive_marketing_sms
    assert Activity.objects.filter(patient=patient, kind=Activity.Kind.CONSENT_CHANGED).exists()


def test_an_unknown_purpose_is_refused(alpha):
    with pytest.raises(ValueError, match="Unknown SMS purpose"):
        queue_sms(to="+14155552671", body="Hello", purpose="newsletter")


def test_a_message_of_one_practice_is_invisible_to_another(alpha, beta, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(to="+14155552671", body="Alpha only", purpose="transactional")

    with tenant_context(beta):
        assert not Message.objects.filter(pk=message.pk).exists()
        assert not Message.objects.filter(body="Alpha only").exists()
        # The task, run for beta, cannot reach alpha's message either.
        with pytest.raises(Message.DoesNotExist):
            deliver_message(message_id=message.pk)
    assert Message.objects.filter(pk=message.pk, status=Message.Status.SENT).exists()
