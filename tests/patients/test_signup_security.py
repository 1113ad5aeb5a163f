"""A patient exists only once the phone is verified; email signs a patient in only once confirmed; staff never
get a code by email; limits and lock-outs answer 4xx (429 with Retry-After) and say what to do next.
(issue 13: "Sign-up makes an active patient before the phone is verified", and the auth parts of "Server
errors from bad input".)"""

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from django.utils import timezone

from accounts.models import User
from patients import jobs, sms
from patients.desk import add_patient_at_desk
from patients.models import Activity, Patient, PendingSignup
from referrals import services as referral_services
from referrals.codes import code_for_patient
from referrals.models import Referral
from tests.factories import PatientFactory, StaffMemberFactory

VICTIM = "+14155550100"
AUTH = "/_allauth/app/v1/auth"


@pytest.fixture(autouse=True)
def commit_each_request(monkeypatch, django_capture_on_commit_callbacks):
    """Each request's on-commit work (texting the code) runs when it ends, as a real commit would."""
    sms.reset_outbox()
    original = Client.generic

    def generic(self, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return original(self, *args, **kwargs)

    monkeypatch.setattr(Client, "generic", generic)
    yield
    sms.reset_outbox()


def client() -> Client:
    return Client(HTTP_HOST="alpha.localhost")


def last_code(to: str = VICTIM) -> str:
    codes = [found.group(1) for m in sms.outbox if m.to == to and (found := re.search(r"\b(\d{6})\b", m.body))]
    assert codes, f"no SMS with a code to {to}"
    return codes[-1]


def wrong_code(to: str = VICTIM) -> str:
    return "000000" if last_code(to) != "000000" else "111111"


def join_data(**overrides) -> dict:
    data = {
        "phone": VICTIM,
        "first_name": "Jane",
        "last_name": "Doe",
        "birthday": "1990-04-21",
        "email": "",
        "code": "",
        "sms_consent": "on",
        "accept_terms": "on",
    }
    data.update(overrides)
    return data


def app(method, path, data=None, token=None, api=None):
    headers = {"HTTP_X_SESSION_TOKEN": token} if token else {}
    return getattr(api or client(), method)(path, data, content_type="application/json", **headers)


def app_signup(**overrides) -> str:
    """Signs up through the app API; returns the session token waiting for the code."""
    data = {"phone": VICTIM, "first_name": "Ana", "last_name": "Ruiz", "birthday": "1992-07-04", "accept_terms": True}
    response = app("post", f"{AUTH}/signup", {**data, **overrides})
    assert response.status_code == 401, response.content
    return response.json()["meta"]["session_token"]


def app_sign_in(phone: str) -> str:
    token = app("post", f"{AUTH}/code/request", {"phone": phone}).json()["meta"]["session_token"]
    response = app("post", f"{AUTH}/code/confirm", {"code": last_code(phone)}, token=token)
    assert response.status_code == 200, response.content
    return response.json()["meta"]["session_token"]


def confirmation_link(mail) -> str:
    return re.search(r"https?://[^/]+(/email/confirm/[^/\s]+/)", mail.body).group(1)


# ---------------------------------------------------------------- no patient before the code


def test_joining_keeps_only_a_pending_sign_up_until_the_code_is_entered(alpha):
    browser = client()
    response = browser.post("/join/", join_data())
    assert response["Location"] == "/join/verify/"

    user = User.objects.get(phone=VICTIM)
    assert not user.is_active
    assert not Patient.objects.exists()
    assert not Activity.objects.exists()
    assert PendingSignup.objects.get(user=user).sms_consent  # the answer waits; no consent is recorded yet

    response = browser.post("/join/verify/", {"code": last_code()})
    assert response["Location"] == "/"
    patient = Patient.objects.select_related("user").get(user__phone=VICTIM)
    assert patient.status == Patient.Status.ACTIVE and patient.user.is_active and patient.user.phone_verified
    assert patient.terms_accepted_at is not None and patient.sms_consent_at is not None
    assert patient.user.first_name == "Jane"
    assert not PendingSignup.objects.exists()


def test_the_app_sign_up_makes_no_patient_until_the_phone_is_verified(alpha):
    token = app_signup()
    assert not Patient.objects.exists()
    assert app("get", "/api/v1/me", token=token).status_code == 401

    response = app("post", f"{AUTH}/phone/verify", {"code": last_code()}, token=token)
    assert response.status_code == 200, response.content
    token = response.json()["meta"]["session_token"]
    assert app("get", "/api/v1/me", token=token).json()["first_name"] == "Ana"


def test_a_referral_counts_only_once_the_code_is_entered(alpha):
    referrer = PatientFactory(user__first_name="Rita")
    code = code_for_patient(referrer).code
    settings_row = referral_services.referral_settings()
    settings_row.yearly_limit = 1
    settings_row.save()

    # Someone signs up with a number that is not theirs: the code never comes back.
    app_signup(phone="+14155550177", code=code)
    assert not Referral.objects.exists()

    # The referrer's one referral this year is still free for a friend who confirms their number.
    browser = client()
    browser.post("/join/", join_data(code=code))
    browser.post("/join/verify/", {"code": last_code()})
    referral = Referral.objects.get()
    assert referral.referred.phone == VICTIM
    assert referral.status == Referral.Status.PENDING and referral.reason == ""


def test_joining_again_with_a_pending_number_restarts_verification(alpha):
    first, second = client(), client()
    first.post("/join/", join_data(first_name="Mallory", email="mallory@example.test"))
    first_code = last_code()

    response = second.post("/join/", join_data())
    assert response["Location"] == "/join/verify/"  # not "this number already has an account"
    assert User.objects.filter(phone=VICTIM).count() == 1

    # The first sign-up's code no longer works: it was replaced.
    response = first.post("/join/verify/", {"code": first_code})
    assert response["Location"] == "/join/"
    assert "started joining again" in first.get("/join/").content.decode()
    assert not Patient.objects.exists()

    second.post("/join/verify/", {"code": last_code()})
    patient = Patient.objects.select_related("user").get()
    assert patient.user.first_name == "Jane"
    assert not EmailAddress.objects.filter(email="mallory@example.test").exists()


def test_the_app_is_told_when_its_sign_up_was_replaced(alpha):
    first = app_signup(first_name="Mallory")
    second = app_signup()
    for path in ("phone/verify", "phone/verify/resend"):
        response = app("post", f"{AUTH}/{path}", {"code": last_code()}, token=first)
        assert response.status_code == 409, (path, response.content)
        assert "Sign up again" in response.json()["errors"][0]["message"]
    response = app("post", f"{AUTH}/phone/verify", {"code": last_code()}, token=second)
    assert response.status_code == 200
    assert Patient.objects.get().user.first_name == "Ana"


def test_a_number_of_an_active_patient_still_signs_in_instead_of_joining(alpha):
    PatientFactory(user__phone=VICTIM, terms_accepted_at=timezone.now())
    response = client().post("/join/", join_data())
    assert response["Location"] == "/signin/code/"
    assert User.objects.filter(phone=VICTIM).count() == 1


def test_a_pending_sign_up_does_not_stop_the_desk_adding_the_patient(alpha):
    client().post("/join/", join_data(first_name="Mallory"))
    patient = add_patient_at_desk(phone=VICTIM, first_name="Jane", last_name="Doe", actor=StaffMemberFactory().user)
    assert patient.user.is_active and patient.user.first_name == "Jane"
    assert User.objects.filter(phone=VICTIM).count() == 1
    assert not PendingSignup.objects.exists()


def test_a_pending_sign_up_is_removed_after_a_day(alpha, settings):
    assert "patients.jobs.remove_stale_signups" in settings.PRACTICE_DAILY_JOBS
    client().post("/join/", join_data())
    started = PendingSignup.objects.get().created_at

    assert jobs.remove_stale_signups(now=started + timedelta(hours=23)) == 0
    assert User.objects.filter(phone=VICTIM).exists()
    assert jobs.remove_stale_signups(now=started + timedelta(hours=25)) == 1
    assert not User.objects.filter(phone=VICTIM).exists()
    assert not PendingSignup.objects.exists()


# ---------------------------------------------------------------- the takeover chain


def test_the_takeover_chain_fails_at_its_first_step(alpha, mailoutbox):
    # 1. The attacker signs up with the victim's number and their own email address: nothing is made.
    app_signup(email="attacker@example.test")
    assert not Patient.objects.exists()
    assert not User.objects.filter(is_active=True, phone=VICTIM).exists()
    assert not mailoutbox

    # 2. The victim signing in by SMS is not taken into anyone's profile: the number has no account yet...
    response = app("post", f"{AUTH}/code/request", {"phone": VICTIM})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "unknown_phone"
    # ...and joining makes the victim's own account, with the victim's details only.
    browser = client()
    browser.post("/join/", join_data())
    browser.post("/join/verify/", {"code": last_code()})
    victim = Patient.objects.select_related("user").get()
    assert victim.user.first_name == "Jane" and victim.user.email is None

    # 3. The attacker asking for a code by email gets nothing.
    response = app("post", f"{AUTH}/code/request", {"email": "attacker@example.test"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "unknown_email"
    assert not mailoutbox


def test_an_email_nobody_confirmed_is_not_a_way_to_sign_in(alpha, mailoutbox):
    PatientFactory(user__email="typed.by.the.desk@example.test", terms_accepted_at=timezone.now())
    response = app("post", f"{AUTH}/code/request", {"email": "typed.by.the.desk@example.test"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "unknown_email"
    assert not mailoutbox


def test_a_confirmed_email_signs_a_patient_in_by_code(alpha, mailoutbox):
    patient = PatientFactory(
        user__email="jane@example.test", user__phone_verified=True, terms_accepted_at=timezone.now()
    )
    EmailAddress.objects.create(user=patient.user, email="jane@example.test", verified=True, primary=True)
    token = app("post", f"{AUTH}/code/request", {"email": "jane@example.test"}).json()["meta"]["session_token"]
    code = re.search(r"\b([0-9]{6})\b", mailoutbox[-1].body).group(1)
    response = app("post", f"{AUTH}/code/confirm", {"code": code}, token=token)
    assert response.status_code == 200, response.content
    assert response.json()["data"]["user"]["id"] == patient.user_id


def test_staff_get_no_sign_in_code_by_email_and_are_told_apart_from_nobody(alpha, mailoutbox):
    member = StaffMemberFactory()
    staff = app("post", f"{AUTH}/code/request", {"email": member.user.email})
    nobody = app("post", f"{AUTH}/code/request", {"email": "nobody@example.test"})
    assert staff.status_code == nobody.status_code == 400
    assert staff.json() == {**nobody.json(), "errors": staff.json()["errors"]}
    assert staff.json()["errors"] == nobody.json()["errors"]

    page = client().post("/staff/login/code/", {"email": member.user.email})
    assert page.status_code == 200
    assert "We don&#x27;t know this email address" in page.content.decode()
    assert not mailoutbox


def test_changing_the_email_through_the_api_waits_for_its_link(alpha, mailoutbox):
    patient = PatientFactory(user__phone=VICTIM, user__email="old@example.test", terms_accepted_at=timezone.now())
    token = app_sign_in(VICTIM)

    response = app("patch", "/api/v1/me", {"email": "new@example.test"}, token=token)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["email"] == "old@example.test" and body["email_to_confirm"] == "new@example.test"
    assert body["email_verified"] is False
    patient.user.refresh_from_db()
    assert patient.user.email == "old@example.test"
    assert [m.to for m in mailoutbox] == [["new@example.test"]]
    assert mailoutbox[0].subject.endswith("Alpha Aesthetics: confirm your email address")
    assert app("post", f"{AUTH}/code/request", {"email": "new@example.test"}).status_code == 400

    client().post(confirmation_link(mailoutbox[0]))
    body = app("get", "/api/v1/me", token=token).json()
    assert body["email"] == "new@example.test" and body["email_verified"] and body["email_to_confirm"] is None
    assert app("post", f"{AUTH}/code/request", {"email": "new@example.test"}).status_code == 401  # code sent


def test_changing_the_email_on_the_profile_page_waits_for_its_link(alpha, mailoutbox):
    patient = PatientFactory(user__email=None, birthday="1990-01-01", terms_accepted_at=timezone.now())
    browser = client()
    browser.force_login(patient.user)
    form = {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.test", "birthday": "1990-01-01"}
    browser.post("/me/", form)
    patient.user.refresh_from_db()
    assert patient.user.email is None
    assert "open it to start using this address" in browser.get("/me/").content.decode()

    browser.post(confirmation_link(mailoutbox[0]))
    patient.user.refresh_from_db()
    assert patient.user.email == "jane@example.test"
    assert patient.activities.filter(summary="Confirmed a new email address").exists()


@pytest.mark.parametrize("login", [{"phone": VICTIM}, {"email": "jane@example.test"}])
def test_patients_never_sign_in_with_a_password(alpha, login):
    # However a password came to be set (e.g. a reset link sent to an address nobody confirmed).
    patient = PatientFactory(
        user__phone=VICTIM, user__phone_verified=True, user__email="jane@example.test", terms_accepted_at=timezone.now()
    )
    patient.user.set_password("a-password-someone-set")
    patient.user.save()
    response = app("post", f"{AUTH}/login", {**login, "password": "a-password-someone-set"})
    assert response.json()["meta"]["is_authenticated"] is False
    assert response.status_code == 401


# ---------------------------------------------------------------- no 5xx, limits and lock-outs


@pytest.mark.parametrize("body", [{}, {"phone": ""}, {"email": ""}])
def test_asking_for_a_code_without_a_number_is_a_400(alpha, body):
    response = app("post", f"{AUTH}/code/request", body)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"message": "Enter your mobile number.", "code": "required", "param": "phone"}]


def test_a_waiting_room_of_eleven_joins_from_one_address(alpha):
    for n in range(11):
        phone = f"+1415555{n + 200:04d}"
        response = client().post("/join/", join_data(phone=phone))
        assert response.status_code == 302, (n, response.status_code)
        last_code(phone)


def test_a_limit_met_while_texting_the_code_is_a_429_and_leaves_nothing(alpha, settings):
    # The code limit per address tighter than the sign-up one: before, the sign-up was saved, then a 500.
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "verify_phone": "2/m/ip", "signup": "10/m/ip"}
    for n in range(2):
        assert client().post("/join/", join_data(phone=f"+1415555{n + 300:04d}")).status_code == 302

    response = client().post("/join/", join_data(phone="+14155550302"))
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Please try again in" in response.content.decode()
    assert not User.objects.filter(phone="+14155550302").exists()

    response = app("post", f"{AUTH}/signup", {**join_data(phone="+14155550303"), "accept_terms": True})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["errors"][0]["code"] == "too_many_requests"
    assert not User.objects.filter(phone="+14155550303").exists()


def test_too_many_sign_up_codes_for_one_number_say_when_to_try_again(alpha):
    token = app_signup()
    for _ in range(2):
        assert app("post", f"{AUTH}/phone/verify/resend", token=token).status_code == 200
    response = app("post", f"{AUTH}/phone/verify/resend", token=token)
    assert response.status_code == 409
    assert "sign up again" in response.json()["errors"][0]["message"]

    # Three codes to the number in 10 minutes: joining again waits (nothing is saved meanwhile).
    response = app("post", f"{AUTH}/signup", {**join_data(), "accept_terms": True})
    assert response.status_code == 429
    assert 590 <= int(response["Retry-After"]) <= 600
    assert "in 10 minutes" in response.json()["errors"][0]["message"]
    page = client().post("/join/", join_data())
    assert page.status_code == 429 and "in 10 minutes" in page.content.decode()
    assert PendingSignup.objects.count() == 1


def test_the_sign_up_limit_per_address_is_a_429_with_retry_after(alpha, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "1/m/ip"}
    client().post("/join/", join_data())
    page = client().post("/join/", join_data(phone="+14155550310"))
    assert page.status_code == 429 and 1 <= int(page["Retry-After"]) <= 60
    assert "Please try again in" in page.content.decode()
    response = app("post", f"{AUTH}/signup", {**join_data(phone="+14155550311"), "accept_terms": True})
    assert response.status_code == 429 and 1 <= int(response["Retry-After"]) <= 60
    assert "Please try again in" in response.json()["errors"][0]["message"]


def test_too_many_failed_staff_passwords_are_a_429_with_retry_after(alpha):
    member = StaffMemberFactory()
    browser = client()
    for _ in range(5):
        browser.post("/staff/login/", {"login": member.user.email, "password": "wrong-password"})
    response = browser.post("/staff/login/", {"login": member.user.email, "password": "wrong-password"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 300
    assert "Too many failed sign-in attempts" in response.content.decode()


@pytest.mark.parametrize("token", ["not-a-token", None])
def test_a_wrong_or_missing_patient_token_is_a_401(alpha, token):
    response = app("get", "/api/v1/me", token=token)
    assert response.status_code == 401
    assert response["WWW-Authenticate"]
    assert response.json()["error"]["code"] == ("invalid_session_token" if token else "not_authenticated")


def test_an_expired_patient_token_is_a_401(alpha):
    PatientFactory(user__phone=VICTIM, terms_accepted_at=timezone.now())
    token = app_sign_in(VICTIM)
    assert app("get", "/api/v1/me", token=token).status_code == 200
    assert client().delete(f"{AUTH}/session", HTTP_X_SESSION_TOKEN=token).status_code == 401  # signed out
    response = app("get", "/api/v1/me", token=token)
    assert response.status_code == 401
    assert "sign in again" in response.json()["error"]["message"]


def test_the_fifth_wrong_sign_in_code_ends_the_attempt_and_says_what_next(alpha, settings):
    PatientFactory(user__phone=VICTIM, terms_accepted_at=timezone.now())
    token = app("post", f"{AUTH}/code/request", {"phone": VICTIM}).json()["meta"]["session_token"]
    wrong = wrong_code()
    for _ in range(settings.ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS - 1):
        assert app("post", f"{AUTH}/code/confirm", {"code": wrong}, token=token).status_code == 400
    fifth = app("post", f"{AUTH}/code/confirm", {"code": wrong}, token=token)
    assert fifth.status_code == 409
    assert fifth.json()["errors"][0]["code"] == "too_many_attempts"
    assert "Request a new code" in fifth.json()["errors"][0]["message"]
    after = app("post", f"{AUTH}/code/confirm", {"code": last_code()}, token=token)
    assert after.status_code == 409
    assert "Request a new code" in after.json()["errors"][0]["message"]


def test_the_fifth_wrong_sign_in_code_on_the_web_says_what_next(alpha, settings):
    PatientFactory(user__phone=VICTIM, terms_accepted_at=timezone.now())
    browser = client()
    browser.post("/signin/", {"phone": VICTIM})
    wrong = wrong_code()
    for _ in range(settings.ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS - 1):
        assert "That code isn&#x27;t right" in browser.post("/signin/code/", {"code": wrong}).content.decode()
    response = browser.post("/signin/code/", {"code": wrong})
    assert response["Location"] == "/signin/"
    page = browser.get("/signin/").content.decode()
    assert "wrong too many times" in page and "new one" in page


def test_the_fifth_wrong_sign_up_code_says_to_sign_up_again(alpha, settings):
    token = app_signup()
    wrong = wrong_code()
    for _ in range(settings.ACCOUNT_PHONE_VERIFICATION_MAX_ATTEMPTS - 1):
        assert app("post", f"{AUTH}/phone/verify", {"code": wrong}, token=token).status_code == 400
    fifth = app("post", f"{AUTH}/phone/verify", {"code": wrong}, token=token)
    assert fifth.status_code == 409
    assert "Sign up again" in fifth.json()["errors"][0]["message"]
    assert not Patient.objects.exists()

    browser = client()
    browser.post("/join/", join_data(phone="+14155550320"))
    for _ in range(settings.ACCOUNT_PHONE_VERIFICATION_MAX_ATTEMPTS):
        response = browser.post("/join/verify/", {"code": wrong_code("+14155550320")})
    assert response["Location"] == "/join/"
    assert "new code" in browser.get("/join/").content.decode()
