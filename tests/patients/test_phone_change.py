"""A new mobile number takes effect only with the code texted to it: staff at the desk (the patient reads the
code out), the patient on their profile, and the app's API."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.models import AuditEvent, User
from patients import sms
from patients.errors import PhoneTaken
from patients.models import Activity, Message, PhoneChange
from patients.phone_change import (
    IncorrectCode,
    NoCodeWaiting,
    SameNumber,
    TooManyWrongCodes,
    confirm_phone_change,
    start_phone_change,
)
from tests.conftest import host_of
from tests.factories import PatientFactory, sign_in_staff
from tests.security.test_api_schema import patient_token

OLD, NEW = "+14155550101", "+14155550199"


@pytest.fixture(autouse=True)
def commit_each_request(monkeypatch, django_capture_on_commit_callbacks):
    """Each request's on-commit work (the SMS task) runs when the request ends, as a real commit would."""
    sms.reset_outbox()
    original = Client.generic

    def generic(self, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return original(self, *args, **kwargs)

    monkeypatch.setattr(Client, "generic", generic)


@pytest.fixture
def ada(alpha):
    return PatientFactory(
        user__first_name="Ada", user__last_name="Lovelace", user__phone=OLD, terms_accepted_at=timezone.now()
    )


def request():
    return RequestFactory().post("/", HTTP_HOST=host_of("alpha"))


def code_texted_to(phone: str) -> str:
    """The code in the newest SMS queued to `phone` (logged in the message log)."""
    message = Message.objects.filter(to=phone).order_by("-pk").first()
    assert message is not None, f"no SMS to {phone}"
    sent = [m.body for m in sms.outbox if m.to == phone] or [message.body]
    return re.search(r"\b(\d{6})\b", sent[-1]).group(1)


def phone_of(patient) -> str:
    return User.objects.get(pk=patient.user_id).phone


# ---------------------------------------------------------------- the service


def test_the_number_changes_only_with_the_code_texted_to_it(ada):
    start_phone_change(patient=ada, phone="(415) 555-0199", request=request())
    assert phone_of(ada) == OLD

    with pytest.raises(IncorrectCode):
        confirm_phone_change(patient=ada, code="000000" if code_texted_to(NEW) != "000000" else "111111")
    assert phone_of(ada) == OLD

    confirm_phone_change(patient=ada, code=code_texted_to(NEW))

    assert phone_of(ada) == NEW
    assert not PhoneChange.objects.exists()
    line = ada.activities.get(kind=Activity.Kind.PHONE_CHANGED)
    assert "(415) 555-0101 to (415) 555-0199" in line.summary
    # The old number is told it was replaced.
    assert Message.objects.filter(to=OLD, body__contains="now uses another mobile number").exists()


def test_the_old_number_is_told_under_the_practices_sms_name(alpha, ada):
    alpha.sms_sender_name = "AlphaClinic"
    alpha.save(update_fields=["sms_sender_name"])
    start_phone_change(patient=ada, phone=NEW, request=request())

    confirm_phone_change(patient=ada, code=code_texted_to(NEW))

    told = Message.objects.get(to=OLD)
    assert told.body.startswith("AlphaClinic: your rewards account now uses another mobile number.")


def test_a_number_another_patient_has_is_refused(ada):
    PatientFactory(user__phone=NEW)

    with pytest.raises(PhoneTaken):
        start_phone_change(patient=ada, phone=NEW, request=request())

    assert not PhoneChange.objects.exists()
    assert not Message.objects.filter(to=NEW).exists()


def test_a_number_taken_while_the_code_was_on_its_way_is_refused_at_the_end(ada):
    start_phone_change(patient=ada, phone=NEW, request=request())
    code = code_texted_to(NEW)
    PatientFactory(user__phone=NEW)

    with pytest.raises(PhoneTaken):
        confirm_phone_change(patient=ada, code=code)

    assert phone_of(ada) == OLD


def test_the_same_number_is_refused(ada):
    with pytest.raises(SameNumber):
        start_phone_change(patient=ada, phone=OLD, request=request())


def test_five_wrong_codes_drop_the_change(ada):
    start_phone_change(patient=ada, phone=NEW, request=request())
    wrong = "000000" if code_texted_to(NEW) != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(IncorrectCode):
            confirm_phone_change(patient=ada, code=wrong)

    with pytest.raises(TooManyWrongCodes):
        confirm_phone_change(patient=ada, code=wrong)

    with pytest.raises(NoCodeWaiting):
        confirm_phone_change(patient=ada, code=code_texted_to(NEW))
    assert phone_of(ada) == OLD


def test_an_expired_code_no_longer_works(ada):
    start_phone_change(patient=ada, phone=NEW, request=request())
    code = code_texted_to(NEW)

    with time_machine.travel(timezone.now() + timedelta(minutes=11)), pytest.raises(NoCodeWaiting, match="expired"):
        confirm_phone_change(patient=ada, code=code)

    assert phone_of(ada) == OLD


def test_a_change_by_staff_is_audited(ada):
    desk = sign_in_staff(Client(HTTP_HOST=host_of("alpha"))).user
    start_phone_change(patient=ada, phone=NEW, request=request(), actor=desk)
    confirm_phone_change(patient=ada, code=code_texted_to(NEW), actor=desk)

    sent, changed = AuditEvent.objects.filter(target_id=str(ada.pk)).order_by("pk")
    assert (sent.action, sent.after) == ("patient.phone_code_sent", {"phone_to_confirm": NEW})
    assert (changed.action, changed.actor, changed.before, changed.after) == (
        "patient.phone_changed",
        desk,
        {"phone": OLD},
        {"phone": NEW},
    )


# ---------------------------------------------------------------- the desk


def test_the_desk_enters_the_code_the_patient_reads_out(ada, alpha_client):
    sign_in_staff(alpha_client)

    response = alpha_client.post(f"/staff/patients/{ada.pk}/phone/", {"phone": "415 555 0199"})
    assert response.url == f"/staff/patients/{ada.pk}/phone/confirm/"
    page = alpha_client.get(response.url).content.decode()
    assert "(415) 555-0199" in page and "read it out" in page

    wrong = alpha_client.post(response.url, {"code": "12345x"})
    assert "The code is 6 digits" in wrong.content.decode()
    done = alpha_client.post(response.url, {"code": code_texted_to(NEW)})

    assert done.url == f"/staff/patients/{ada.pk}/"
    assert phone_of(ada) == NEW


def test_the_desk_is_told_which_patient_has_the_number(ada, alpha_client):
    sign_in_staff(alpha_client)
    PatientFactory(user__phone=NEW)

    page = alpha_client.post(f"/staff/patients/{ada.pk}/phone/", {"phone": NEW}).content.decode()

    assert "Another patient has this number" in page


def test_a_fourth_code_to_one_number_in_ten_minutes_waits(ada, alpha_client):
    sign_in_staff(alpha_client)
    for _ in range(3):
        alpha_client.post(f"/staff/patients/{ada.pk}/phone/", {"phone": NEW})

    response = alpha_client.post(f"/staff/patients/{ada.pk}/phone/", {"phone": NEW})

    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many codes were sent to this number" in response.content.decode()


# ---------------------------------------------------------------- the patient, on the web and in the app


def test_the_patient_changes_their_number_on_their_profile(ada, alpha_client):
    alpha_client.force_login(ada.user)

    response = alpha_client.post("/me/phone/", {"phone": "(415) 555-0199"})
    assert response.url == "/me/phone/confirm/"
    done = alpha_client.post("/me/phone/confirm/", {"code": code_texted_to(NEW)})

    assert done.url == "/me/"
    assert phone_of(ada) == NEW
    assert "Sign in with it from now on" in alpha_client.get("/me/").content.decode()


def test_the_app_changes_the_number_with_the_code(ada, alpha_client):
    token = {"HTTP_X_SESSION_TOKEN": patient_token(ada.user)}

    started = alpha_client.post("/api/v1/me/phone", {"phone": "415-555-0199"}, content_type="application/json", **token)
    assert started.status_code == 202 and started.json() == {"phone": NEW, "expires_in": 600}
    wrong = alpha_client.post(
        "/api/v1/me/phone/confirm",
        {"code": "000000" if code_texted_to(NEW) != "000000" else "111111"},
        content_type="application/json",
        **token,
    )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, "incorrect_code")
    done = alpha_client.post(
        "/api/v1/me/phone/confirm", {"code": code_texted_to(NEW)}, content_type="application/json", **token
    )

    assert done.status_code == 200 and done.json()["phone"] == NEW
    again = alpha_client.post("/api/v1/me/phone/confirm", {"code": "123456"}, content_type="application/json", **token)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "no_code_waiting")


def test_the_app_is_told_when_the_number_is_taken(ada, alpha_client):
    PatientFactory(user__phone=NEW)
    token = {"HTTP_X_SESSION_TOKEN": patient_token(ada.user)}

    response = alpha_client.post("/api/v1/me/phone", {"phone": NEW}, content_type="application/json", **token)

    assert (response.status_code, response.json()["error"]["code"]) == (409, "phone_taken")


def test_a_number_change_never_confirmed_is_removed_by_the_daily_job(ada, settings):
    from patients.jobs import remove_expired_phone_changes

    start_phone_change(patient=ada, phone=NEW, request=request())
    assert remove_expired_phone_changes() == 0  # still waiting for its code

    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert remove_expired_phone_changes() == 1

    assert not PhoneChange.objects.exists()
    assert "patients.jobs.remove_expired_phone_changes" in settings.PRACTICE_DAILY_JOBS
