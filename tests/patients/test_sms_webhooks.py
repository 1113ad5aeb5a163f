"""Twilio's webhooks on the practice's host: STOP/START/HELP, delivery reports, and signature checks."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context
from twilio.request_validator import RequestValidator

from patients.messaging import queue_sms
from patients.models import Activity, Message
from patients.sms import outbox, reset_outbox
from tests.conftest import host_of
from tests.factories import PatientFactory

TOKEN = "twilio-test-auth-token"
INBOUND = "/sms/twilio/inbound"
STATUS = "/sms/twilio/status"
AFTERNOON = datetime(2025, 6, 10, 14, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture(autouse=True)
def _twilio(settings):
    settings.SMS_BACKEND = "locmem"
    settings.TWILIO_AUTH_TOKEN = TOKEN
    reset_outbox()
    yield
    reset_outbox()


def inbound_params(phone: str, body: str) -> dict[str, str]:
    return {
        "MessageSid": "SM00000000000000000000000000000001",
        "AccountSid": "AC00000000000000000000000000000001",
        "From": phone,
        "To": "+14155550100",
        "Body": body,
        "NumMedia": "0",
    }


def post_signed(
    client, path: str, params: dict[str, str], *, slug: str = "alpha", token: str = TOKEN, scheme: str = "http", **extra
):
    """POST as Twilio does: signed over the URL it called (on the practice's host) and the parameters."""
    signature = RequestValidator(token).compute_signature(f"{scheme}://{host_of(slug)}{path}", params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **extra)


def consenting_patient():
    return PatientFactory(sms_consent=True, sms_consent_at=timezone.now())


def test_stop_opts_the_patient_out_and_later_marketing_is_not_sent(
    alpha, alpha_client, django_capture_on_commit_callbacks
):
    patient = consenting_patient()

    response = post_signed(alpha_client, INBOUND, inbound_params(patient.phone, " stop "))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        "You're unsubscribed from Alpha Aesthetics messages and won't get more. Reply START to resubscribe."
        "</Message></Response>"
    )
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is not None
    assert Activity.objects.get(patient=patient, kind=Activity.Kind.CONSENT_CHANGED).summary == (
        "Opted out of SMS (replied STOP)"
    )

    with time_machine.travel(AFTERNOON, tick=False), django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(to=patient.phone, body="20% off peels", purpose="marketing", patient=patient)

    assert outbox == []
    assert Message.objects.get(pk=message.pk).status == Message.Status.SUPPRESSED


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "Cancel", "END", "quit."])
def test_every_carrier_stop_word_opts_out(alpha, alpha_client, word):
    patient = consenting_patient()

    post_signed(alpha_client, INBOUND, inbound_params(patient.phone, word))

    patient.refresh_from_db()
    assert patient.sms_opted_out_at is not None


def test_a_second_stop_changes_nothing_more(alpha, alpha_client):
    patient = consenting_patient()

    post_signed(alpha_client, INBOUND, inbound_params(patient.phone, "STOP"))
    opted_out_at = type(patient).objects.get(pk=patient.pk).sms_opted_out_at
    post_signed(alpha_client, INBOUND, inbound_params(patient.phone, "STOP"))

    patient.refresh_from_db()
    assert patient.sms_opted_out_at == opted_out_at
    assert Activity.objects.filter(patient=patient, kind=Activity.Kind.CONSENT_CHANGED).count() == 1


def test_start_re_enables_marketing(alpha, alpha_client, django_capture_on_commit_callbacks):
    patient = consenting_patient()
    post_signed(alpha_client, INBOUND, inbound_params(patient.phone, "STOP"))

    response = post_signed(alpha_client, INBOUND, inbound_params(patient.phone, "Start"))

    assert "resubscribed to Alpha Aesthetics messages" in response.content.decode()
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None
    assert patient.can_receive_marketing_sms
    assert Activity.objects.filter(patient=patient, kind=Activity.Kind.CONSENT_CHANGED).first().summary == (
        "Opted back in to SMS (replied START)"
    )
    with time_machine.travel(AFTERNOON, tick=False), django_capture_on_commit_callbacks(execute=True):
        queue_sms(to=patient.phone, body="20% off peels", purpose="marketing", patient=patient)
    assert [m.body for m in outbox] == ["20% off peels"]


def test_start_does_not_give_marketing_consent_that_was_never_given(alpha, alpha_client):
    patient = PatientFactory(sms_consent=False)

    post_signed(alpha_client, INBOUND, inbound_params(patient.phone, "START"))

    patient.refresh_from_db()
    assert not patient.can_receive_marketing_sms


def test_help_replies_with_the_practice_name_and_changes_nothing(alpha, alpha_client):
    patient = consenting_patient()

    response = post_signed(alpha_client, INBOUND, inbound_params(patient.phone, "HELP"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "<Message>Alpha Aesthetics: loyalty program messages." in body
    assert "Reply STOP to opt out.</Message>" in body
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None
    assert not Activity.objects.filter(patient=patient).exists()


def test_other_words_get_no_reply(alpha, alpha_client):
    patient = consenting_patient()

    response = post_signed(alpha_client, INBOUND, inbound_params(patient.phone, "Can I book for Tuesday?"))

    assert response.status_code == 200
    assert response.content.decode() == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None


def test_stop_from_an_unknown_number_is_still_confirmed(alpha, alpha_client):
    response = post_signed(alpha_client, INBOUND, inbound_params("+14155559876", "STOP"))

    assert response.status_code == 200
    assert "unsubscribed" in response.content.decode()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_TWILIO_SIGNATURE": "bm90IGEgc2lnbmF0dXJl"},
    ],
    ids=["unsigned", "forged"],
)
def test_an_unsigned_or_forged_request_is_refused_and_changes_nothing(alpha, alpha_client, headers):
    patient = consenting_patient()

    response = alpha_client.post(INBOUND, inbound_params(patient.phone, "STOP"), **headers)

    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None
    assert not Activity.objects.filter(patient=patient).exists()


def test_a_request_signed_with_another_token_is_refused(alpha, alpha_client):
    patient = consenting_patient()

    response = post_signed(alpha_client, INBOUND, inbound_params(patient.phone, "STOP"), token="someone-elses-token")

    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None


def test_a_request_signed_for_another_practice_is_refused(beta, beta_client):
    # The signature covers the host: a STOP signed for alpha cannot be replayed at beta.
    with tenant_context(beta):
        patient = consenting_patient()

    response = post_signed(beta_client, INBOUND, inbound_params(patient.phone, "STOP"), slug="alpha")

    assert response.status_code == 403
    with tenant_context(beta):
        patient.refresh_from_db()
        assert patient.sms_opted_out_at is None


def test_behind_a_proxy_the_signature_covers_the_https_url_twilio_called(alpha, alpha_client, settings):
    patient = consenting_patient()
    params = inbound_params(patient.phone, "STOP")

    # Without trusting the proxy's header, the URL rebuilt here is http:// and cannot match Twilio's https:// one.
    refused = post_signed(alpha_client, INBOUND, params, scheme="https", HTTP_X_FORWARDED_PROTO="https")
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # what BEHIND_PROXY sets
    accepted = post_signed(alpha_client, INBOUND, params, scheme="https", HTTP_X_FORWARDED_PROTO="https")

    assert (refused.status_code, accepted.status_code) == (403, 200)
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is not None


def test_without_an_auth_token_every_request_is_refused(alpha, alpha_client, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    patient = consenting_patient()

    response = post_signed(alpha_client, INBOUND, inbound_params(patient.phone, "STOP"), token="")

    assert response.status_code == 403


def test_webhooks_answer_post_only(alpha, alpha_client):
    assert alpha_client.get(INBOUND).status_code == 405
    assert alpha_client.get(STATUS).status_code == 405


def sent_message() -> Message:
    return queue_sms(to="+14155552671", body="Your reward is ready.", purpose="transactional")


def status_params(message: Message, status: str, error_code: str = "") -> dict[str, str]:
    params = {
        "MessageSid": message.provider_id,
        "MessageStatus": status,
        "AccountSid": "AC00000000000000000000000000000001",
        "To": message.to,
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params


def test_a_delivery_report_marks_the_message_delivered(alpha, alpha_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = sent_message()
    message.refresh_from_db()

    response = post_signed(alpha_client, STATUS, status_params(message, "delivered"))

    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_an_undelivered_report_keeps_the_error_code(alpha, alpha_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = sent_message()
    message.refresh_from_db()

    post_signed(alpha_client, STATUS, status_params(message, "undelivered", error_code="30006"))

    message.refresh_from_db()
    assert (message.status, message.error) == (Message.Status.UNDELIVERED, "Twilio error 30006")


def test_a_late_sent_report_does_not_undo_delivered(alpha, alpha_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = sent_message()
    message.refresh_from_db()

    post_signed(alpha_client, STATUS, status_params(message, "delivered"))
    post_signed(alpha_client, STATUS, status_params(message, "sent"))

    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_a_report_for_an_unknown_message_is_ignored(alpha, alpha_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = sent_message()

    unknown = Message(provider_id="SM_not_ours", to="+14155552671")
    response = post_signed(alpha_client, STATUS, status_params(unknown, "failed", error_code="30008"))

    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_a_forged_delivery_report_is_refused(alpha, alpha_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = sent_message()
    message.refresh_from_db()

    response = alpha_client.post(STATUS, status_params(message, "failed"), HTTP_X_TWILIO_SIGNATURE="forged")

    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
