"""The mobile client's flow: allauth headless (app client, session token), then the DRF API."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from patients import sms
from patients.models import Patient
from tests.factories import PatientFactory, StaffMemberFactory

PHONE = "+14155550123"
AUTH = "/_allauth/app/v1/auth"


@pytest.fixture(autouse=True)
def commit_each_request(monkeypatch, django_capture_on_commit_callbacks):
    sms.reset_outbox()
    original = Client.generic

    def generic(self, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return original(self, *args, **kwargs)

    monkeypatch.setattr(Client, "generic", generic)


def code_sent() -> str:
    return re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)


def call(client, method, path, data=None, token=None):
    headers = {"HTTP_X_SESSION_TOKEN": token} if token else {}
    return getattr(client, method)(path, data, content_type="application/json", **headers)


def test_the_app_joins_verifies_and_reads_the_profile(alpha_client, alpha):
    response = call(
        alpha_client,
        "post",
        f"{AUTH}/signup",
        {
            "phone": "415-555-0123",
            "first_name": "Ana",
            "last_name": "Ruiz",
            "birthday": "1992-07-04",
            "accept_terms": True,
            "sms_consent": True,
            "code": alpha.invite_code,
        },
    )
    body = response.json()
    assert response.status_code == 401, body
    assert any(flow["id"] == "verify_phone" and flow.get("is_pending") for flow in body["data"]["flows"])
    token = body["meta"]["session_token"]

    response = call(alpha_client, "post", f"{AUTH}/phone/verify", {"code": code_sent()}, token=token)
    assert response.status_code == 200, response.json()
    token = response.json()["meta"].get("session_token", token)

    me = Client(HTTP_HOST="alpha.localhost").get("/api/v1/me", HTTP_X_SESSION_TOKEN=token)
    assert me.status_code == 200
    assert me.json()["phone"] == PHONE
    assert me.json()["first_name"] == "Ana"
    assert me.json()["signup_code"] == alpha.invite_code
    assert Patient.objects.get(user__phone=PHONE).source == Patient.Source.INVITE_CODE


def test_the_app_signs_in_by_code_and_updates_the_profile(alpha_client, alpha):
    PatientFactory(user__phone=PHONE, user__first_name="Ana", terms_accepted_at=timezone.now())
    response = call(alpha_client, "post", f"{AUTH}/code/request", {"phone": PHONE})
    assert response.status_code == 401
    token = response.json()["meta"]["session_token"]
    response = call(alpha_client, "post", f"{AUTH}/code/confirm", {"code": code_sent()}, token=token)
    assert response.status_code == 200, response.json()
    token = response.json()["meta"]["session_token"]

    api = Client(HTTP_HOST="alpha.localhost")
    response = api.patch(
        "/api/v1/me",
        {"first_name": "Anita", "notify_by_push": False, "sms_consent": True},
        content_type="application/json",
        HTTP_X_SESSION_TOKEN=token,
    )
    assert response.status_code == 200, response.json()
    assert response.json()["first_name"] == "Anita"
    assert response.json()["notify_by_push"] is False
    patient = Patient.objects.get(user__phone=PHONE)
    assert patient.sms_consent and "Reply STOP" in patient.sms_consent_text


def test_me_rejects_bad_input_with_the_error_shape(alpha_client, alpha):
    patient = PatientFactory(terms_accepted_at=timezone.now())
    alpha_client.force_login(patient.user)
    response = alpha_client.patch("/api/v1/me", {"birthday": "2999-01-01"}, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "future" in error["fields"]["birthday"][0]


def test_me_needs_a_patient(alpha_client, alpha):
    assert alpha_client.get("/api/v1/me").status_code in (401, 403)
    alpha_client.force_login(StaffMemberFactory().user)
    response = alpha_client.get("/api/v1/me")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_a_token_from_one_practice_is_useless_at_another(alpha_client, beta_client, alpha):
    PatientFactory(user__phone=PHONE, terms_accepted_at=timezone.now())
    token = call(alpha_client, "post", f"{AUTH}/code/request", {"phone": PHONE}).json()["meta"]["session_token"]
    token = call(alpha_client, "post", f"{AUTH}/code/confirm", {"code": code_sent()}, token=token).json()["meta"][
        "session_token"
    ]
    assert Client(HTTP_HOST="alpha.localhost").get("/api/v1/me", HTTP_X_SESSION_TOKEN=token).status_code == 200
    assert beta_client.get("/api/v1/me", HTTP_X_SESSION_TOKEN=token).status_code in (401, 403)


def test_the_app_cannot_join_without_a_phone(alpha_client, alpha):
    response = call(
        alpha_client,
        "post",
        f"{AUTH}/signup",
        {"first_name": "Ana", "last_name": "Ruiz", "birthday": "1992-07-04", "accept_terms": True},
    )
    assert response.status_code == 400
    assert any(error.get("param") == "phone" for error in response.json()["errors"])
