"""Web push (patients.push and its task): who gets it, what they get, stale subscriptions, retries, VAPID keys."""

import io
import logging

import pytest
import requests
from django.core.management import call_command
from py_vapid import Vapid

from patients import notifications, push
from patients.models import Notification, PushSubscription
from patients.notification_tasks import send_push
from tests.factories import PatientFactory
from tests.patients.notify_helpers import FakePushService, subscribe


@pytest.fixture
def push_service(monkeypatch) -> FakePushService:
    service = FakePushService()
    monkeypatch.setattr("patients.push.webpush", service)
    return service


@pytest.fixture
def vapid(settings):
    settings.VAPID_PUBLIC_KEY = "test-public-key"
    settings.VAPID_PRIVATE_KEY = "test-private-key"
    settings.VAPID_CONTACT = "mailto:push@alpha.test"


def notify(capture, patient, **kwargs) -> Notification:
    fields = {"title": "You earned 120 points", "body": "Thanks for your visit.", "url": "/rewards/"} | kwargs
    with capture(execute=True):
        return notifications.notify(patient=patient, **fields)


def test_each_subscription_gets_the_notification(alpha, vapid, push_service, django_capture_on_commit_callbacks):
    patient = PatientFactory(notify_by_sms=False)
    phone, laptop = subscribe(patient), subscribe(patient)
    subscribe(PatientFactory())  # someone else's browser

    notify(django_capture_on_commit_callbacks, patient)

    assert sorted(push_service.endpoints) == sorted([phone.endpoint, laptop.endpoint])
    assert (
        push_service.payloads
        == [{"title": "You earned 120 points", "body": "Thanks for your visit.", "url": "/rewards/"}] * 2
    )
    call = push_service.calls[0]
    sent_to = phone if call["subscription_info"]["endpoint"] == phone.endpoint else laptop
    assert call["subscription_info"]["keys"] == {"p256dh": sent_to.p256dh, "auth": sent_to.auth}
    assert call["vapid_private_key"] == "test-private-key"
    assert call["vapid_claims"] == {"sub": "mailto:push@alpha.test"}


def test_a_delivered_push_records_when_the_subscription_was_used(alpha, vapid, push_service):
    patient = PatientFactory()
    subscription = subscribe(patient)
    notification = Notification.objects.create(patient=patient, title="Hello")

    assert send_push(notification.pk) == 1

    subscription.refresh_from_db()
    assert subscription.last_used_at is not None


def test_no_push_when_the_patient_turned_push_off(alpha, vapid, push_service, django_capture_on_commit_callbacks):
    patient = PatientFactory(notify_by_push=False, notify_by_sms=False)
    subscribe(patient)

    notify(django_capture_on_commit_callbacks, patient)

    assert push_service.calls == []


def test_a_patient_who_turns_push_off_after_queueing_gets_none(alpha, vapid, push_service):
    patient = PatientFactory(notify_by_push=False)
    subscribe(patient)
    notification = Notification.objects.create(patient=patient, title="Hello")

    assert send_push(notification.pk) == 0
    assert push_service.calls == []


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_says_is_gone_is_deleted(alpha, vapid, push_service, status):
    patient = PatientFactory()
    gone, alive = subscribe(patient), subscribe(patient)
    push_service.fail(gone.endpoint, status)
    notification = Notification.objects.create(patient=patient, title="Hello")

    assert send_push(notification.pk) == 1

    assert list(PushSubscription.objects.all()) == [alive]


def test_a_transient_failure_is_raised_for_retry_after_trying_everyone(alpha, vapid, push_service):
    patient = PatientFactory()
    busy, fine = subscribe(patient), subscribe(patient)
    push_service.fail(busy.endpoint, 503)
    notification = Notification.objects.create(patient=patient, title="Hello")

    with pytest.raises(push.TransientPushError):
        send_push(notification.pk)

    assert sorted(push_service.endpoints) == sorted([busy.endpoint, fine.endpoint])
    assert PushSubscription.objects.count() == 2


def test_an_unreachable_push_service_is_transient(alpha, vapid, monkeypatch):
    def unreachable(**kwargs):
        raise requests.ConnectionError("connection refused")

    monkeypatch.setattr("patients.push.webpush", unreachable)
    patient = PatientFactory()
    subscribe(patient)
    notification = Notification.objects.create(patient=patient, title="Hello")

    with pytest.raises(push.TransientPushError):
        send_push(notification.pk)


def test_a_refused_push_is_logged_and_not_retried(alpha, vapid, push_service, caplog):
    patient = PatientFactory()
    subscription = subscribe(patient)
    push_service.fail(subscription.endpoint, 403)
    notification = Notification.objects.create(patient=patient, title="Hello")

    with caplog.at_level(logging.ERROR, logger="patients.push"):
        assert send_push(notification.pk) == 0

    assert "failed" in caplog.text
    assert PushSubscription.objects.filter(pk=subscription.pk).exists()


def test_without_vapid_keys_nothing_is_pushed_and_nothing_fails(
    alpha, settings, push_service, django_capture_on_commit_callbacks
):
    settings.VAPID_PUBLIC_KEY = ""
    settings.VAPID_PRIVATE_KEY = ""
    patient = PatientFactory(notify_by_sms=False)
    subscribe(patient)

    notification = notify(django_capture_on_commit_callbacks, patient)

    assert push_service.calls == []
    assert Notification.objects.filter(pk=notification.pk).exists()
    # A task queued before the keys were removed skips quietly too.
    assert send_push(notification.pk) == 0


def test_a_long_body_is_cut_to_fit_the_push_payload(alpha, vapid, push_service):
    patient = PatientFactory()
    subscribe(patient)
    notification = Notification.objects.create(patient=patient, title="News", body="x" * 5000)

    send_push(notification.pk)

    assert len(push_service.payloads[0]["body"]) == push.MAX_BODY_CHARS
    assert len(push_service.calls[0]["data"].encode()) < 3000


def test_a_push_for_a_deleted_notification_is_skipped(alpha, vapid, push_service):
    assert send_push(987654321) == 0
    assert push_service.calls == []


def test_generate_vapid_keys_prints_a_pair_that_belongs_together():
    out = io.StringIO()
    call_command("generate_vapid_keys", stdout=out)

    lines = out.getvalue().splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["export VAPID_PUBLIC_KEY", "export VAPID_PRIVATE_KEY"]
    public_key, private_key = (line.split("=", 1)[1] for line in lines)
    # pywebpush loads the private key from this string; the browser uses the public one as is.
    vapid = Vapid.from_string(private_key)
    public_from_private = Vapid.from_raw_public(public_key.encode()).public_key
    assert vapid.public_key.public_numbers() == public_from_private.public_numbers()
    headers = vapid.sign({"sub": "mailto:push@alpha.test", "aud": "https://fcm.googleapis.com"})
    assert headers["Authorization"].startswith("vapid t=")
