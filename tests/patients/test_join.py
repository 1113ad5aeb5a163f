import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import User
from patients import sms
from patients.models import Activity, Patient
from patients.signals import patient_joined
from tests.factories import PatientFactory, StaffMemberFactory

PHONE = "+14155550100"


@pytest.fixture(autouse=True)
def empty_outbox():
    sms.reset_outbox()
    yield
    sms.reset_outbox()


@pytest.fixture(autouse=True)
def commit_each_request(monkeypatch, django_capture_on_commit_callbacks):
    """Run each request's on-commit work (the SMS task) when the request ends, as a real commit would."""
    original = Client.post

    def post(self, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return original(self, *args, **kwargs)

    monkeypatch.setattr(Client, "post", post)


def last_code(to: str = PHONE) -> str:
    codes = [found.group(1) for m in sms.outbox if m.to == to and (found := re.search(r"\b(\d{6})\b", m.body))]
    assert codes, f"no SMS with a code to {to}"
    return codes[-1]


def join_data(**overrides) -> dict:
    data = {
        "phone": "(415) 555-0100",
        "first_name": "Jane",
        "last_name": "Doe",
        "birthday": "1990-04-21",
        "email": "jane@example.test",
        "code": "",
        "sms_consent": "on",
        "accept_terms": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def join(client, **overrides):
    response = client.post("/join/", join_data(**overrides))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == "/join/verify/"
    return client.post("/join/verify/", {"code": last_code()})


def test_the_join_page_fills_in_the_code_from_the_link(alpha_client, alpha):
    page = alpha_client.get("/join/", {"code": alpha.invite_code}).content.decode()
    assert f'value="{alpha.invite_code}"' in page
    assert "Join Alpha Aesthetics rewards" in page


def test_a_patient_joins_with_the_invite_code_and_lands_home(alpha_client, alpha):
    joined = []
    patient_joined.connect(lambda **kw: joined.append(kw), weak=False, dispatch_uid="test-join")
    try:
        response = join(alpha_client, code=alpha.invite_code.lower())
    finally:
        patient_joined.disconnect(dispatch_uid="test-join")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert "Hi Jane!" in alpha_client.get("/").content.decode()

    patient = Patient.objects.select_related("user").get(user__phone=PHONE)
    assert patient.user.first_name == "Jane"
    assert patient.user.phone_verified
    assert patient.birthday.isoformat() == "1990-04-21"
    assert patient.source == Patient.Source.INVITE_CODE
    assert patient.signup_code == alpha.invite_code
    assert patient.sms_consent and patient.sms_consent_at is not None
    assert "Reply STOP to opt out" in patient.sms_consent_text
    assert patient.terms_accepted_at is not None
    kinds = set(patient.activities.values_list("kind", flat=True))
    assert {Activity.Kind.JOINED, Activity.Kind.CODE_USED} <= kinds
    assert [(j["patient"].pk, j["signup_code"], j["schema_name"]) for j in joined] == [
        (patient.pk, alpha.invite_code, alpha.schema_name)
    ]


def test_joining_from_the_qr_link_needs_no_code(alpha_client, alpha):
    alpha_client.get("/join/", {"src": "qr"})
    join(alpha_client, source="qr")
    patient = Patient.objects.get(user__phone=PHONE)
    assert patient.source == Patient.Source.QR
    assert patient.signup_code == ""


def test_an_unknown_code_does_not_stop_joining(alpha_client, alpha):
    join(alpha_client, code="nope 123")
    patient = Patient.objects.get(user__phone=PHONE)
    assert patient.signup_code == "NOPE123"
    assert patient.source == Patient.Source.QR


def test_an_invalid_phone_gets_a_form_error(alpha_client, alpha):
    response = alpha_client.post("/join/", join_data(phone="12345"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "phone number" in page and "field-error" in page
    assert not User.objects.filter(first_name="Jane").exists()


def test_terms_must_be_accepted(alpha_client, alpha):
    response = alpha_client.post("/join/", join_data(accept_terms=None))
    assert "Please accept the program terms to join." in response.content.decode()
    assert not User.objects.filter(phone=PHONE).exists()


def test_a_known_number_signs_in_instead_of_joining_twice(alpha_client, alpha):
    PatientFactory(user__phone=PHONE, user__first_name="Jane", terms_accepted_at=timezone.now())
    response = alpha_client.post("/join/", join_data())
    assert response.status_code == 302
    assert response["Location"] == "/signin/code/"
    response = alpha_client.post("/signin/code/", {"code": last_code()})
    assert response["Location"] == "/"
    assert User.objects.filter(phone=PHONE).count() == 1


def test_the_same_phone_at_two_practices_is_two_accounts(alpha_client, beta_client, alpha, beta):
    join(alpha_client)
    with tenant_context(beta):
        join(beta_client, first_name="Janet")
        assert Patient.objects.get(user__phone=PHONE).user.first_name == "Janet"
    assert Patient.objects.get(user__phone=PHONE).user.first_name == "Jane"


def test_a_patient_signs_in_with_a_code(alpha_client, alpha):
    PatientFactory(user__phone=PHONE, user__first_name="Jane", terms_accepted_at=timezone.now())
    response = alpha_client.post("/signin/", {"phone": "415 555 0100"})
    assert response["Location"] == "/signin/code/"
    assert "Alpha Aesthetics: your code is" in sms.outbox[-1].body
    response = alpha_client.post("/signin/code/", {"code": last_code()})
    assert response["Location"] == "/"
    assert "Hi Jane!" in alpha_client.get("/").content.decode()


def test_a_wrong_code_is_refused(alpha_client, alpha):
    PatientFactory(user__phone=PHONE, terms_accepted_at=timezone.now())
    alpha_client.post("/signin/", {"phone": PHONE})
    wrong = "000000" if last_code() != "000000" else "111111"
    response = alpha_client.post("/signin/code/", {"code": wrong})
    assert "That code isn&#x27;t right" in response.content.decode()
    assert "_auth_user_id" not in alpha_client.session


def test_too_many_wrong_codes_end_the_attempt(alpha_client, alpha, settings):
    PatientFactory(user__phone=PHONE, terms_accepted_at=timezone.now())
    alpha_client.post("/signin/", {"phone": PHONE})
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(settings.ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS):
        response = alpha_client.post("/signin/code/", {"code": wrong})
    response = alpha_client.post("/signin/code/", {"code": code})
    assert "_auth_user_id" not in alpha_client.session
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


def test_an_expired_code_is_refused(alpha_client, alpha):
    PatientFactory(user__phone=PHONE, terms_accepted_at=timezone.now())
    alpha_client.post("/signin/", {"phone": PHONE})
    code = last_code()
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        response = alpha_client.post("/signin/code/", {"code": code})
    assert "_auth_user_id" not in alpha_client.session
    assert response.status_code == 302


def test_too_many_code_requests_say_when_to_try_again(alpha_client, alpha):
    PatientFactory(user__phone=PHONE, terms_accepted_at=timezone.now())
    for _ in range(3):
        Client(HTTP_HOST="alpha.localhost").post("/signin/", {"phone": PHONE})
    response = alpha_client.post("/signin/", {"phone": PHONE})
    assert response.status_code == 429
    assert 590 <= int(response["Retry-After"]) <= 600
    assert "Please try again in 10 minutes" in response.content.decode()
    assert len([m for m in sms.outbox if m.to == PHONE]) == 3


def test_an_unknown_number_is_told_to_join(alpha_client, alpha):
    response = alpha_client.post("/signin/", {"phone": PHONE})
    assert "Join the program first" in response.content.decode()


def test_a_desk_invited_patient_finishes_joining_on_first_sign_in(alpha_client, alpha):
    patient = PatientFactory(user__phone=PHONE, status=Patient.Status.PENDING, joined_at=None, birthday=None)
    alpha_client.post("/signin/", {"phone": PHONE})
    alpha_client.post("/signin/code/", {"code": last_code()})
    patient.refresh_from_db()
    assert patient.status == Patient.Status.ACTIVE

    response = alpha_client.get("/")
    assert response["Location"] == "/join/finish/"
    response = alpha_client.post(
        "/join/finish/",
        {"first_name": "Pat", "last_name": "Lee", "birthday": "1985-01-02", "accept_terms": "on"},
    )
    assert response["Location"] == "/"
    patient.refresh_from_db()
    assert patient.terms_accepted_at is not None
    assert not patient.sms_consent
    assert "Hi Pat!" in alpha_client.get("/").content.decode()


def test_staff_accounts_cannot_use_patient_pages(alpha_client, alpha):
    member = StaffMemberFactory()
    alpha_client.force_login(member.user)
    assert alpha_client.get("/me/").status_code == 403


def test_visitors_are_sent_to_sign_in(alpha_client, alpha):
    response = alpha_client.get("/me/")
    assert response["Location"] == "/signin/?next=/me/"


def test_profile_changes_are_saved_and_on_the_timeline(alpha_client, alpha):
    patient = PatientFactory(user__phone=PHONE, birthday="1990-01-01", terms_accepted_at=timezone.now())
    alpha_client.force_login(patient.user)
    response = alpha_client.post(
        "/me/",
        {"first_name": "Janie", "last_name": "Doe", "email": "", "birthday": "1990-01-01", "notify_by_sms": "on"},
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.user.first_name == "Janie"
    assert patient.notify_by_push is False
    assert patient.activities.filter(kind=Activity.Kind.PROFILE_UPDATED).exists()


def test_sign_up_stays_closed_on_the_staff_pages(alpha_client, alpha):
    alpha_client.post("/staff/signup/", join_data())
    assert not User.objects.filter(phone=PHONE).exists()
    assert connection.schema_name == alpha.schema_name


def test_the_phone_is_required_to_join(alpha_client, alpha):
    response = alpha_client.post("/join/", join_data(phone=""))
    assert "Enter your mobile number." in response.content.decode()
    assert not User.objects.filter(first_name="Jane").exists()


def test_the_optional_email_is_used_once_confirmed_and_must_be_unique(alpha_client, alpha, mailoutbox):
    page = alpha_client.get("/join/").content.decode()
    assert 'name="email"' in page
    PatientFactory(user__email="taken@example.test")
    response = alpha_client.post("/join/", join_data(email="taken@example.test"))
    assert response.status_code == 200
    assert "already" in response.content.decode()
    join(alpha_client, email="Jane@Example.test")
    user = User.objects.get(phone=PHONE)
    assert user.email is None  # not in use until its link is opened
    assert [m.to for m in mailoutbox] == [["jane@example.test"]]
    link = re.search(r"https?://[^/]+(/email/confirm/[^/\s]+/)", mailoutbox[0].body).group(1)
    alpha_client.post(link)
    user.refresh_from_db()
    assert user.email == "jane@example.test"


def test_too_many_code_requests_from_one_network_are_refused(alpha_client, alpha):
    patients = [PatientFactory(terms_accepted_at=timezone.now()) for _ in range(21)]
    for patient in patients[:20]:
        Client(HTTP_HOST="alpha.localhost").post("/signin/", {"phone": patient.phone})
    response = alpha_client.post("/signin/", {"phone": patients[20].phone})
    assert "Too many sign-in codes were requested" in response.content.decode()
    assert not any(m.to == patients[20].phone for m in sms.outbox)
