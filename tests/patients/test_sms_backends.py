"""SMS backends (patients.sms): what reaches Twilio, how its errors are sorted, the console and locmem backends."""

from types import SimpleNamespace

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from twilio.base.exceptions import TwilioRestException

from patients import sms
from patients.messaging import queue_sms
from patients.models import Message
from patients.sms import (
    ConsoleBackend,
    LocmemBackend,
    SmsPermanentError,
    SmsTemporaryError,
    TwilioBackend,
    get_backend,
    outbox,
    reset_outbox,
)


class FakeTwilioClient:
    """Stands in for twilio.rest.Client: records what it was built with and asked to send; no network."""

    built: list[tuple] = []
    created: list[dict] = []
    error: Exception | None = None

    def __init__(self, account_sid, auth_token, **kwargs):
        FakeTwilioClient.built.append((account_sid, auth_token))
        self.messages = self

    def create(self, **params):
        FakeTwilioClient.created.append(params)
        if FakeTwilioClient.error:
            raise FakeTwilioClient.error
        return SimpleNamespace(sid="SM0123456789abcdef0123456789abcdef")


@pytest.fixture
def twilio(settings, monkeypatch):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
    settings.TWILIO_AUTH_TOKEN = "auth-token"
    settings.TWILIO_FROM_NUMBER = "+14155550100"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.SITE_SCHEME = "https"
    settings.SITE_PORT = ""
    FakeTwilioClient.built, FakeTwilioClient.created, FakeTwilioClient.error = [], [], None
    monkeypatch.setattr(sms, "Client", FakeTwilioClient)
    return FakeTwilioClient


def test_the_twilio_backend_sends_from_the_number_with_a_status_callback_on_the_practice_host(
    alpha, twilio, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(to="+14155552671", body="Your reward is ready.", purpose="transactional")

    assert twilio.built == [("AC0123456789abcdef0123456789abcdef", "auth-token")]
    assert twilio.created == [
        {
            "to": "+14155552671",
            "body": "Your reward is ready.",
            "from_": "+14155550100",
            "status_callback": "https://alpha.localhost/sms/twilio/status",
        }
    ]
    message.refresh_from_db()
    assert (message.status, message.provider_id) == (Message.Status.SENT, "SM0123456789abcdef0123456789abcdef")


def test_a_messaging_service_is_preferred_to_a_from_number(alpha, twilio, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG0123456789abcdef0123456789abcdef"

    TwilioBackend().send(to="+14155552671", body="Hello", purpose="transactional")

    (params,) = twilio.created
    assert params["messaging_service_sid"] == "MG0123456789abcdef0123456789abcdef"
    assert "from_" not in params


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TwilioRestException(503, "/Messages.json", "Service unavailable"), SmsTemporaryError),
        (TwilioRestException(429, "/Messages.json", "Too many requests", code=20429), SmsTemporaryError),
        (requests.ConnectionError("connection refused"), SmsTemporaryError),
        (requests.Timeout("read timed out"), SmsTemporaryError),
        (TwilioRestException(400, "/Messages.json", "Invalid 'To' Phone Number", code=21211), SmsPermanentError),
        (TwilioRestException(400, "/Messages.json", "Unsubscribed recipient", code=21610), SmsPermanentError),
    ],
)
def test_twilio_errors_are_sorted_into_temporary_and_permanent(alpha, twilio, error, expected):
    twilio.error = error

    with pytest.raises(expected):
        TwilioBackend().send(to="+14155552671", body="Hello", purpose="transactional")


def test_a_twilio_error_keeps_its_code_and_message(alpha, twilio):
    twilio.error = TwilioRestException(400, "/Messages.json", "Attempt to send to unsubscribed recipient", code=21610)

    with pytest.raises(SmsPermanentError) as raised:
        TwilioBackend().send(to="+14155552671", body="Hello", purpose="transactional")

    assert raised.value.code == 21610
    assert str(raised.value) == "Twilio error 21610: Attempt to send to unsubscribed recipient"


@pytest.mark.parametrize("empty", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"])
def test_the_twilio_backend_refuses_to_start_without_its_settings(twilio, settings, empty):
    setattr(settings, empty, "")

    with pytest.raises(ImproperlyConfigured, match=empty):
        get_backend()


def test_the_console_backend_prints_the_message_for_the_developer(capsys):
    provider_id = ConsoleBackend().send(to="+14155552671", body="Your code is 123456", purpose="login_code")

    assert capsys.readouterr().out == "SMS to +14155552671 (login_code) : Your code is 123456\n"
    assert provider_id.startswith("console-")


def test_the_locmem_backend_keeps_messages_until_reset():
    reset_outbox()
    LocmemBackend().send(to="+14155552671", body="Hello", purpose="invite")

    assert [(m.to, m.body, m.purpose) for m in outbox] == [("+14155552671", "Hello", "invite")]
    reset_outbox()
    assert outbox == []


@pytest.mark.parametrize(("name", "backend_class"), [("console", ConsoleBackend), ("locmem", LocmemBackend)])
def test_the_backend_is_chosen_by_the_setting(settings, name, backend_class):
    settings.SMS_BACKEND = name
    assert isinstance(get_backend(), backend_class)


def test_an_unknown_backend_is_a_configuration_error(settings):
    settings.SMS_BACKEND = "carrier-pigeon"
    with pytest.raises(ImproperlyConfigured, match="carrier-pigeon"):
        get_backend()
