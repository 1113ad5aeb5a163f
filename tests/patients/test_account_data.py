"""A patient's own data (a streamed zip of JSON and CSV, theirs only) and closing their account (personal
data erased, the ledger consistent, the code retired, signed out for good), on the web and in the app."""

import csv
import io
import json
import zipfile

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, User
from loyalty.ledger_check import check_ledger
from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import LineIn, record_purchase
from patients import sms
from patients.closing import close_account
from patients.models import Activity, Message, Notification, Patient, PushSubscription
from patients.services import record_activity
from referrals.codes import code_for_patient
from referrals.models import Referral, ReferralCode
from referrals.services import record_signup
from rewards.models import Redemption
from rewards.services import redeem_reward
from tests.conftest import host_of
from tests.factories import CatalogItemFactory, PatientFactory, RewardFactory, sign_in_staff
from tests.security.test_api_schema import patient_token

PHONE = "+14155550111"


@pytest.fixture
def ada(alpha):
    ada = PatientFactory(
        user__first_name="Ada",
        user__last_name="Lovelace",
        user__phone=PHONE,
        user__email="ada@example.test",
        birthday="1985-12-10",
        terms_accepted_at=timezone.now(),
    )
    item = CatalogItemFactory(price_cents=40_000, name="Glow facial")
    record_purchase(patient=ada, lines=[LineIn(quantity=1, unit_price_cents=40_000, item=item)], source="desk")
    redeem_reward(patient=ada, reward=RewardFactory(name="Free peel", points_cost=100))
    Notification.objects.create(patient=ada, title="Welcome, Ada", body="Glad you joined.")
    Message.objects.create(patient=ada, to=PHONE, body="Your points: 300", purpose="transactional")
    return ada


@pytest.fixture
def grace(alpha):
    grace = PatientFactory(user__first_name="Grace", user__last_name="Hopper", user__phone="+14155550122")
    Notification.objects.create(patient=grace, title="Hello Grace")
    Message.objects.create(patient=grace, to=grace.phone, body="Grace's secret text", purpose="transactional")
    return grace


def read_zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def rows(archive: zipfile.ZipFile, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(archive.read(f"{name}.csv").decode())))


# ---------------------------------------------------------------- the data download


def test_the_download_holds_the_patients_own_data_as_json_and_csv(ada, grace, alpha_client):
    friend = PatientFactory(user__first_name="Sam", user__last_name="Taylor")
    record_signup(patient=friend, code=code_for_patient(ada).code)
    alpha_client.force_login(ada.user)

    response = alpha_client.get("/me/data/")

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="my-data-alpha-')
    archive = read_zip(response)
    assert set(archive.namelist()) == {
        "data.json",
        "profile.csv",
        "ledger.csv",
        "purchases.csv",
        "vouchers.csv",
        "referrals.csv",
        "referral_code.csv",
        "text_messages.csv",
        "inbox.csv",
    }
    data = json.loads(archive.read("data.json"))
    assert {"field": "email", "value": "ada@example.test"} in data["profile"]
    assert [entry["points"] for entry in data["ledger"]] == [400, -100]
    assert data["vouchers"][0]["reward"] == "Free peel"
    assert data["referrals"] == [
        {
            "role": "you referred",
            "friend": "Sam T.",
            "code": code_for_patient(ada).code,
            "status": "pending",
            "date": data["referrals"][0]["date"],
        }
    ]
    assert "Your points: 300" in [row["text"] for row in rows(archive, "text_messages")]
    assert [row["title"] for row in rows(archive, "inbox")] == ["Welcome, Ada", "Sam joined with your code"]
    assert {"field": "phone", "value": "'" + PHONE} in rows(archive, "profile")  # quoted: not a formula
    everything = b"".join(archive.read(name) for name in archive.namelist()).decode()
    assert "Grace" not in everything and "Hopper" not in everything


def test_the_app_downloads_the_same_zip(ada, grace, alpha_client):
    response = alpha_client.get("/api/v1/me/data", HTTP_X_SESSION_TOKEN=patient_token(ada.user))

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    data = json.loads(read_zip(response).read("data.json"))
    assert data["practice"] == "Alpha Aesthetics"
    assert "Grace" not in json.dumps(data)


def test_staff_and_visitors_get_no_download(ada, alpha_client):
    assert alpha_client.get("/me/data/").status_code == 302
    sign_in_staff(alpha_client)
    assert alpha_client.get("/me/data/").status_code == 403


# ---------------------------------------------------------------- closing the account


def test_a_closed_account_keeps_no_personal_data_and_the_ledger_stays_consistent(ada, alpha):
    PushSubscription.objects.create(patient=ada, endpoint="https://push.example.test/a", p256dh="k", auth="a")
    record_activity(
        patient=ada, kind=Activity.Kind.NOTE, summary="Ada likes mornings", data={"text": "Ada likes mornings"}
    )
    code = code_for_patient(ada)

    close_account(patient=ada)

    ada = Patient.objects.select_related("user").get(pk=ada.pk)
    user = ada.user
    assert (user.first_name, user.last_name, user.phone, user.email, ada.birthday) == ("", "", None, None, None)
    assert not user.is_active and not user.has_usable_password()
    assert ada.status == Patient.Status.ARCHIVED and ada.closed_at is not None
    assert not PushSubscription.objects.filter(patient=ada).exists()
    assert not Message.objects.filter(body__contains="300").exists()
    assert not Message.objects.filter(to=PHONE).exists()
    assert not Notification.objects.filter(title__contains="Ada").exists()
    assert not Activity.objects.filter(summary__contains="Ada").exists()
    assert not ReferralCode.objects.get(pk=code.pk).is_active
    # The ledger stays: what was left of the balance goes with one entry, the voucher is withdrawn.
    assert PointsAccount.objects.get(patient=ada).balance == 0
    assert LedgerEntry.objects.filter(account__patient=ada, kind=LedgerEntry.Kind.CLOSURE).get().delta == -300
    assert Redemption.objects.get(patient=ada).status == Redemption.Status.CANCELLED
    assert check_ledger().is_consistent
    assert AuditEvent.objects.get(action="patient.closed").target_id == str(ada.pk)
    # Nothing personal is left in the database's rows about them.
    for value in ("Ada", "Lovelace", PHONE, "ada@example.test"):
        assert not User.objects.filter(pk=user.pk, first_name__contains=value).exists()


def test_a_patient_closes_their_account_on_the_web_and_is_signed_out_for_good(ada, alpha_client):
    alpha_client.force_login(ada.user)

    refused = alpha_client.post("/me/close/", {})
    assert "Tick the box" in refused.content.decode()
    response = alpha_client.post("/me/close/", {"confirm": "on"})

    assert response.url == "/"
    assert "Your account is closed" in alpha_client.get("/").content.decode()
    assert alpha_client.get("/me/").status_code == 302  # signed out
    sms.reset_outbox()
    # The number no longer signs anyone in (it is unknown now).
    page = Client(HTTP_HOST=host_of("alpha")).post("/signin/", {"phone": PHONE}).content.decode()
    assert "We don&#x27;t know this number yet" in page
    assert not sms.outbox


def test_staff_see_closed_account_on_the_timeline(ada, alpha_client):
    close_account(patient=ada)
    sign_in_staff(alpha_client)

    page = alpha_client.get(f"/staff/patients/{ada.pk}/").content.decode()

    assert "Closed account" in page and "Account closed" in page


def test_the_app_closes_the_account_and_its_token_stops_working(ada, alpha_client):
    token = {"HTTP_X_SESSION_TOKEN": patient_token(ada.user)}

    refused = alpha_client.post("/api/v1/me/close", {"confirm": False}, content_type="application/json", **token)
    assert refused.status_code == 400
    closed = alpha_client.post("/api/v1/me/close", {"confirm": True}, content_type="application/json", **token)

    assert closed.status_code == 204
    assert alpha_client.get("/api/v1/me", **token).status_code == 401
    assert Patient.objects.get(pk=ada.pk).closed_at is not None


def test_a_friend_referred_before_the_closing_still_gets_their_reward_and_the_closed_account_nothing(ada, alpha):
    from referrals.services import issue_rewards, qualify

    friend = PatientFactory(user__first_name="Sam")
    referral = record_signup(patient=friend, code=code_for_patient(ada).code)
    close_account(patient=ada)
    item = CatalogItemFactory(price_cents=50_000)
    purchase, _ = record_purchase(
        patient=friend, lines=[LineIn(quantity=1, unit_price_cents=50_000, item=item)], source="desk"
    )

    issue_rewards(referral_id=qualify(purchase_id=purchase.pk).pk)

    assert Referral.objects.get(pk=referral.pk).status == Referral.Status.REWARDED
    assert PointsAccount.objects.get(patient=friend).balance == 500 + 250
    assert PointsAccount.objects.get(patient=ada).balance == 0
    assert not Notification.objects.filter(patient=ada).exclude(title="(erased)").exists()
    assert check_ledger().is_consistent


@pytest.mark.parametrize("accept", ["application/zip", "*/*", "application/json"])
def test_the_app_may_ask_for_the_zip_by_its_type(ada, alpha_client, accept):
    response = alpha_client.get("/api/v1/me/data", HTTP_X_SESSION_TOKEN=patient_token(ada.user), HTTP_ACCEPT=accept)

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"


def test_a_download_without_a_token_is_a_json_401_whatever_it_accepts(alpha_client):
    response = alpha_client.get("/api/v1/me/data", HTTP_ACCEPT="application/zip")

    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
