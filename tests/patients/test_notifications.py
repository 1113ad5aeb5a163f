"""Notifying patients (patients.notifications): the inbox item, the SMS channel and its consent rules,
marking read, and push subscriptions."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from patients import notifications, sms
from patients.models import Activity, Message, Notification, PushSubscription
from practices.models import BackgroundTask
from tests.factories import PatientFactory
from tests.patients.notify_helpers import FakePushService, browser_keys, new_endpoint, subscribe

# Mid-afternoon in alpha's time zone (New York): outside the quiet hours that hold marketing SMS.
AFTERNOON = datetime(2025, 6, 10, 14, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture(autouse=True)
def _quiet_channels(settings, monkeypatch):
    settings.SMS_BACKEND = "locmem"
    settings.VAPID_PUBLIC_KEY = ""
    settings.VAPID_PRIVATE_KEY = ""
    sms.reset_outbox()
    monkeypatch.setattr("patients.push.webpush", FakePushService())
    yield
    sms.reset_outbox()


@pytest.fixture
def afternoon():
    with time_machine.travel(AFTERNOON, tick=False):
        yield


def notify(capture, **kwargs) -> Notification:
    with capture(execute=True):
        return notifications.notify(**kwargs)


# ---------------------------------------------------------------- notify: the inbox


def test_notify_writes_the_inbox_item(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory(notify_by_sms=False)

    notification = notify(
        django_capture_on_commit_callbacks,
        patient=patient,
        title="You earned 120 points",
        body="Thanks for your visit today.",
        url="/rewards/",
    )

    stored = Notification.objects.get(pk=notification.pk)
    assert (stored.patient, stored.title, stored.body, stored.url) == (
        patient,
        "You earned 120 points",
        "Thanks for your visit today.",
        "/rewards/",
    )
    assert stored.read_at is None
    assert stored.is_marketing is False
    assert Message.objects.count() == 0


def test_notify_notes_the_message_on_the_patients_timeline(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory(notify_by_sms=False)

    notification = notify(django_capture_on_commit_callbacks, patient=patient, title="Welcome", body="Hello")

    activity = Activity.objects.get(patient=patient, kind=Activity.Kind.MESSAGE_SENT)
    assert activity.summary == "Notified: Welcome"
    assert activity.data == {"notification_id": notification.pk, "channels": ["inbox"], "marketing": False}


def test_a_link_that_is_not_a_web_address_is_refused(alpha):
    with pytest.raises(ValueError, match="path or an http"):
        notifications.notify(patient=PatientFactory(), title="Hi", body="", url="javascript:alert(1)")
    assert Notification.objects.count() == 0


# ---------------------------------------------------------------- notify: SMS


def test_notify_texts_a_patient_who_wants_sms(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory(notify_by_sms=True)

    notify(
        django_capture_on_commit_callbacks,
        patient=patient,
        title="Your voucher is ready",
        body="Show it at the desk.",
        url="/vouchers/",
    )

    message = Message.objects.get(patient=patient)
    assert message.purpose == Message.Purpose.TRANSACTIONAL
    assert message.status == Message.Status.SENT
    assert [m.to for m in sms.outbox] == [patient.phone]
    assert sms.outbox[0].body == (
        "Alpha Aesthetics: Your voucher is ready\nShow it at the desk.\nhttp://alpha.localhost:8000/vouchers/"
    )


def test_notify_sends_no_sms_when_the_patient_turned_sms_off(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory(notify_by_sms=False)

    notify(django_capture_on_commit_callbacks, patient=patient, title="Your voucher is ready", body="")

    assert Message.objects.count() == 0
    assert sms.outbox == []


def test_notify_sends_no_sms_to_a_patient_without_a_phone(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory(notify_by_sms=True, user__phone=None)

    notify(django_capture_on_commit_callbacks, patient=patient, title="Your voucher is ready", body="")

    assert Message.objects.count() == 0
    assert Notification.objects.filter(patient=patient).count() == 1


def test_a_given_sms_body_replaces_the_generated_text(alpha, django_capture_on_commit_callbacks):
    patient = PatientFactory(notify_by_sms=True)

    notify(
        django_capture_on_commit_callbacks,
        patient=patient,
        title="Long title for the inbox",
        body="A long explanation for the inbox.",
        sms_body="Alpha: your voucher is ready.",
    )

    assert [m.body for m in sms.outbox] == ["Alpha: your voucher is ready."]


def test_marketing_without_consent_is_suppressed_not_sent(alpha, afternoon, django_capture_on_commit_callbacks):
    patient = PatientFactory(notify_by_sms=True, sms_consent=False)

    notify(django_capture_on_commit_callbacks, patient=patient, title="Spring offer", body="20% off", marketing=True)

    message = Message.objects.get(patient=patient)
    assert message.purpose == Message.Purpose.MARKETING
    assert message.status == Message.Status.SUPPRESSED
    assert sms.outbox == []
    # The inbox still has it: consent governs SMS, not the app.
    assert Notification.objects.get(patient=patient).is_marketing is True


def test_marketing_to_a_patient_who_replied_stop_is_suppressed(alpha, afternoon, django_capture_on_commit_callbacks):
    patient = PatientFactory(notify_by_sms=True, sms_consent=True, sms_opted_out_at=timezone.now())

    notify(django_capture_on_commit_callbacks, patient=patient, title="Spring offer", body="20% off", marketing=True)

    assert Message.objects.get(patient=patient).status == Message.Status.SUPPRESSED
    assert sms.outbox == []


def test_marketing_with_consent_is_sent_and_says_how_to_opt_out(alpha, afternoon, django_capture_on_commit_callbacks):
    patient = PatientFactory(notify_by_sms=True, sms_consent=True, sms_consent_at=timezone.now())

    notify(django_capture_on_commit_callbacks, patient=patient, title="Spring offer", body="20% off", marketing=True)

    message = Message.objects.get(patient=patient)
    assert (message.purpose, message.status) == (Message.Purpose.MARKETING, Message.Status.SENT)
    assert sms.outbox[0].body == "Alpha Aesthetics: Spring offer\n20% off\nReply STOP to opt out."


def test_nothing_leaves_before_the_transaction_commits(alpha, settings, django_capture_on_commit_callbacks):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "public", "private"
    patient = PatientFactory(notify_by_sms=True)
    subscribe(patient)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notifications.notify(patient=patient, title="Your voucher is ready", body="")

    # The text and the push are queued with the inbox item, and handed to the worker only after commit.
    assert len(callbacks) == 2
    assert Message.objects.get().status == Message.Status.QUEUED
    assert set(BackgroundTask.objects.filter(schema_name=alpha.schema_name).values_list("func", flat=True)) == {
        "patients.tasks.send_message",
        notifications.PUSH_TASK,
    }
    assert sms.outbox == []


# ---------------------------------------------------------------- mark_read


def test_mark_read_without_ids_marks_every_unread_notification(alpha):
    patient = PatientFactory()
    Notification.objects.create(patient=patient, title="One")
    Notification.objects.create(patient=patient, title="Two")
    earlier = timezone.now() - timedelta(days=1)
    Notification.objects.create(patient=patient, title="Old", read_at=earlier)

    assert notifications.mark_read(patient=patient) == 2

    assert not Notification.objects.filter(patient=patient, read_at__isnull=True).exists()
    assert Notification.objects.get(title="Old").read_at == earlier


def test_mark_read_with_ids_marks_only_those(alpha):
    patient = PatientFactory()
    first, second = (Notification.objects.create(patient=patient, title=t) for t in ("One", "Two"))

    assert notifications.mark_read(patient=patient, notification_ids=[first.pk]) == 1

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None


def test_another_patients_ids_are_ignored(alpha):
    patient, other = PatientFactory(), PatientFactory()
    theirs = Notification.objects.create(patient=other, title="Private")

    assert notifications.mark_read(patient=patient, notification_ids=[theirs.pk]) == 0
    assert notifications.mark_read(patient=patient) == 0

    theirs.refresh_from_db()
    assert theirs.read_at is None


# ---------------------------------------------------------------- push subscriptions


def test_subscribing_stores_the_browsers_subscription(alpha):
    patient = PatientFactory()
    keys = browser_keys()
    endpoint = new_endpoint()

    subscription = notifications.subscribe_push(patient=patient, endpoint=endpoint, user_agent="Firefox", **keys)

    assert PushSubscription.objects.get() == subscription
    assert (subscription.patient, subscription.endpoint, subscription.p256dh, subscription.auth) == (
        patient,
        endpoint,
        keys["p256dh"],
        keys["auth"],
    )
    assert subscription.user_agent == "Firefox"


def test_subscribing_the_same_endpoint_again_updates_it(alpha):
    patient = PatientFactory()
    endpoint = new_endpoint()
    notifications.subscribe_push(patient=patient, endpoint=endpoint, **browser_keys())
    new_keys = browser_keys()

    notifications.subscribe_push(patient=patient, endpoint=endpoint, **new_keys)

    subscription = PushSubscription.objects.get()
    assert (subscription.p256dh, subscription.auth) == (new_keys["p256dh"], new_keys["auth"])


def test_a_browser_used_by_another_patient_moves_to_them(alpha):
    first, second = PatientFactory(), PatientFactory()
    endpoint = new_endpoint()
    notifications.subscribe_push(patient=first, endpoint=endpoint, **browser_keys())

    notifications.subscribe_push(patient=second, endpoint=endpoint, **browser_keys())

    assert PushSubscription.objects.get().patient == second


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/abc",
        "https://127.0.0.1/push",
        "https://[::1]/push",
        "https://localhost/push",
        "https://metadata.internal/push",
        "https://push.example.com:8443/push",
        "https://user:secret@push.example.com/push",
        "not a url",
    ],
)
def test_an_endpoint_that_is_not_a_public_push_service_is_refused(alpha, endpoint):
    with pytest.raises(notifications.InvalidPushSubscription) as refused:
        notifications.subscribe_push(patient=PatientFactory(), endpoint=endpoint, **browser_keys())
    assert refused.value.field == "endpoint"
    assert PushSubscription.objects.count() == 0


def test_keys_of_the_wrong_size_are_refused(alpha):
    keys = browser_keys() | {"auth": "c2hvcnQ"}
    with pytest.raises(notifications.InvalidPushSubscription, match="auth key"):
        notifications.subscribe_push(patient=PatientFactory(), endpoint=new_endpoint(), **keys)


def test_unsubscribing_forgets_the_patients_own_subscription(alpha):
    patient = PatientFactory()
    subscription = subscribe(patient)

    assert notifications.unsubscribe_push(patient=patient, endpoint=subscription.endpoint) is True
    assert not PushSubscription.objects.exists()


def test_a_patient_cannot_unsubscribe_another_patients_browser(alpha):
    patient, other = PatientFactory(), PatientFactory()
    theirs = subscribe(other)

    assert notifications.unsubscribe_push(patient=patient, endpoint=theirs.endpoint) is False
    assert PushSubscription.objects.filter(pk=theirs.pk).exists()
