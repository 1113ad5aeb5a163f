"""The patient referral API: the patient's code, program, friends and totals, and "text a friend"."""

import io
import json

import pytest
import zxingcpp
from django.utils import timezone
from django_tenants.utils import tenant_context
from PIL import Image
from rest_framework.test import APIClient

from patients import sms
from referrals import services
from referrals.codes import code_for_patient
from referrals.models import Milestone, Referral, TextInvite
from tests.conftest import host_of
from tests.factories import PatientFactory, StaffMemberFactory

FRIEND_PHONE = "+16505550142"


@pytest.fixture(autouse=True)
def empty_outbox():
    sms.reset_outbox()
    yield
    sms.reset_outbox()


@pytest.fixture
def api(alpha):
    return APIClient(HTTP_HOST=host_of("alpha"))


@pytest.fixture
def jane(api):
    patient = PatientFactory(user__first_name="Jane", user__last_name="Doe", terms_accepted_at=timezone.now())
    api.force_login(patient.user)
    return patient


@pytest.fixture
def code(jane):
    return code_for_patient(jane)


def program(**values) -> None:
    row = services.referral_settings()
    for name, value in values.items():
        setattr(row, name, value)
    row.save()


def referred_friend(code, *, first_name: str = "Anna", last_name: str = "Bellweather", phone: str) -> Referral:
    friend = PatientFactory(user__first_name=first_name, user__last_name=last_name, user__phone=phone)
    return services.record_signup(patient=friend, code=code.code, source="sms")


def reward(referral: Referral) -> None:
    Referral.objects.filter(pk=referral.pk).update(status=Referral.Status.QUALIFIED, qualified_at=timezone.now())
    services.issue_rewards(referral_id=referral.pk)


def invite(api, django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks(execute=True):
        return api.post("/api/v1/me/referrals/invite", data, format="json")


def test_it_describes_the_code_link_and_program(api, code):
    program(yearly_limit=10)
    Milestone.objects.create(count=3, points=300)

    body = api.get("/api/v1/me/referrals").json()

    assert body["code"] == code.code and body["can_share"] is True
    assert body["share_url"].endswith(f"/r/{code.code}?src=link")
    assert body["qr_svg"].startswith("<svg")
    assert body["qr_png_url"].endswith("/api/v1/me/referrals/qr.png")
    assert body["program"] == {
        "enabled": True,
        "referee_reward": "250 points",
        "referrer_reward": "500 points",
        "min_purchase_cents": 5_000,
        "yearly_limit": 10,
        "remaining_this_year": 10,
        "milestones": [{"count": 3, "points": 300}],
    }
    assert body["stats"] == {"friends_joined_count": 0, "friends_rewarded_count": 0, "points_earned": 0}
    assert body["referrals"] == {"count": 0, "next": None, "previous": None, "results": []}
    assert body["joined_with"] is None


def test_friends_come_with_status_and_the_rewards_earned_and_never_their_phone(api, code):
    waiting = referred_friend(code, phone="+16505550101")
    rewarded = referred_friend(code, first_name="Carl", last_name="Dunmore", phone="+16505550102")
    reward(rewarded)

    response = api.get("/api/v1/me/referrals")

    raw = response.content.decode()
    for secret in ("Bellweather", "Dunmore", "6505550101", "6505550102"):
        assert secret not in raw
    body = response.json()
    assert body["stats"] == {"friends_joined_count": 2, "friends_rewarded_count": 1, "points_earned": 500}
    carl, anna = body["referrals"]["results"]
    assert (anna["id"], anna["friend"], anna["status"], anna["rewards"]) == (waiting.pk, "Anna B.", "pending", [])
    assert anna["status_label"] == "Joined · waiting for their first purchase"
    assert (carl["friend"], carl["status"], carl["reason"]) == ("Carl D.", "rewarded", "")
    assert carl["rewards"] == [
        {
            "role": "referrer",
            "role_label": "Referrer",
            "kind": "points",
            "label": "500 points",
            "points": 500,
            "milestone_count": None,
            "is_reversed": False,
        }
    ]


def test_a_friend_over_the_limit_is_not_counted_with_the_reason(api, code):
    program(yearly_limit=1)
    referred_friend(code, phone="+16505550101")
    referred_friend(code, first_name="Carl", phone="+16505550102")

    body = api.get("/api/v1/me/referrals").json()

    rejected = body["referrals"]["results"][0]
    assert (rejected["status"], rejected["reason"]) == ("rejected", "limit_reached")
    assert rejected["status_label"] == "Not counted (you had reached this year's referral limit)"
    assert body["program"]["remaining_this_year"] == 0
    assert body["stats"]["friends_joined_count"] == 1


def test_friends_are_paginated(api, code):
    for n in range(51):
        referred_friend(code, first_name=f"Friend{n}", phone=f"+1650555{1000 + n}")

    first = api.get("/api/v1/me/referrals").json()["referrals"]
    second = api.get(first["next"]).json()["referrals"]

    assert first["count"] == 51 and len(first["results"]) == 50
    assert second["previous"] and len(second["results"]) == 1
    assert second["results"][0]["friend"] == "Friend0 B."


def test_the_list_takes_a_constant_number_of_queries(api, code, django_assert_max_num_queries):
    for n in range(5):
        reward(referred_friend(code, phone=f"+1650555{1000 + n}"))
    # 4 of them count the request against the patient's limit in the database cache (none with Redis), and 2
    # set the search_path (django-tenants finds the practice in the public schema, then enters it).
    with django_assert_max_num_queries(17 + 4 + 2):
        assert len(api.get("/api/v1/me/referrals").json()["referrals"]["results"]) == 5


def test_a_patient_who_joined_with_a_rejected_code_gets_the_message(api, code):
    patient = PatientFactory(terms_accepted_at=timezone.now())
    services.record_signup(patient=patient, code="nope77", source="link")
    api.force_login(patient.user)

    joined_with = api.get("/api/v1/me/referrals").json()["joined_with"]

    assert joined_with == {
        "code": "NOPE77",
        "status": "rejected",
        "message": "The code NOPE77 could not be used as a referral: the code is unknown.",
    }


def test_inviting_a_friend_texts_them_the_link(api, code, django_capture_on_commit_callbacks):
    response = invite(api, django_capture_on_commit_callbacks, phone="(650) 555-0142", name="Sam")

    assert response.status_code == 201
    [text] = sms.outbox
    assert response.json() == {"message_id": response.json()["message_id"], "status": "queued"}
    assert text.to == FRIEND_PHONE
    assert text.body.startswith("Hi Sam! Jane invites you")
    assert f"/r/{code.code}?src=sms" in text.body


def test_a_bad_phone_is_400_with_the_field(api, code, django_capture_on_commit_callbacks):
    response = invite(api, django_capture_on_commit_callbacks, phone="12345")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_invite"
    assert error["fields"] == {"phone": [error["message"]]}
    assert "isn't valid" in error["message"]
    assert sms.outbox == []


def test_a_missing_phone_is_400_with_the_field(api, code):
    response = api.post("/api/v1/me/referrals/invite", {"name": "Sam"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert list(response.json()["error"]["fields"]) == ["phone"]


def test_a_members_number_is_refused(api, code, django_capture_on_commit_callbacks):
    PatientFactory(user__phone=FRIEND_PHONE)
    response = invite(api, django_capture_on_commit_callbacks, phone=FRIEND_PHONE)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"phone": ["That number already belongs to a member of the practice."]}


def test_the_sixth_invite_in_a_day_is_429(api, code, django_capture_on_commit_callbacks):
    for n in range(5):
        assert invite(api, django_capture_on_commit_callbacks, phone=f"+1650555020{n}").status_code == 201

    response = invite(api, django_capture_on_commit_callbacks, phone="+16505550299")

    assert response.status_code == 429
    assert response.json()["error"] == {
        "code": "invite_refused",
        "message": "You can text 5 friends a day. Try again tomorrow.",
        "fields": {},
    }
    assert len(sms.outbox) == 5 and TextInvite.objects.count() == 5


def test_inviting_while_referrals_are_off_is_refused(api, code, django_capture_on_commit_callbacks):
    program(enabled=False)

    body = api.get("/api/v1/me/referrals").json()
    response = invite(api, django_capture_on_commit_callbacks, phone=FRIEND_PHONE)

    assert (body["can_share"], body["share_url"], body["qr_svg"], body["program"]["enabled"]) == (
        False,
        None,
        None,
        False,
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Referrals are turned off at the moment."
    assert api.get("/api/v1/me/referrals/qr.png").status_code == 404
    assert sms.outbox == []


def test_an_inactive_code_cannot_be_texted(api, code, django_capture_on_commit_callbacks):
    services.set_code_active(code=code, is_active=False)
    response = invite(api, django_capture_on_commit_callbacks, phone=FRIEND_PHONE)
    assert response.status_code == 400
    assert "paused" in response.json()["error"]["message"]
    assert sms.outbox == []


def test_the_png_qr_code_decodes_to_the_share_link(api, code):
    response = api.get("/api/v1/me/referrals/qr.png", HTTP_ACCEPT="image/*")

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
    assert barcode.text.endswith(f"/r/{code.code}?src=qr")


def test_visitors_and_staff_are_refused(api, alpha):
    endpoints = [
        lambda: api.get("/api/v1/me/referrals"),
        lambda: api.post("/api/v1/me/referrals/invite", {"phone": FRIEND_PHONE}, format="json"),
        lambda: api.get("/api/v1/me/referrals/qr.png"),
    ]
    for call in endpoints:
        response = call()
        assert response.status_code in (401, 403)
        assert "error" in response.json()

    api.force_login(StaffMemberFactory().user)
    for call in endpoints:
        assert call().status_code == 403
    assert sms.outbox == []


def test_another_practice_never_shows_this_practices_referrals(api, code, beta):
    referred_friend(code, phone="+16505550101")
    beta_api = APIClient(HTTP_HOST=host_of("beta"))
    with tenant_context(beta):
        beta_patient = PatientFactory(user__first_name="Jane", terms_accepted_at=timezone.now())
        beta_api.force_login(beta_patient.user)

        body = beta_api.get("/api/v1/me/referrals").json()

        assert body["code"] != code.code
        assert body["referrals"]["count"] == 0 and body["stats"]["friends_joined_count"] == 0
        assert "Anna" not in json.dumps(body)
    assert api.get("/api/v1/me/referrals").json()["referrals"]["count"] == 1


def test_the_openapi_schema_describes_the_referral_endpoints(api, alpha):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert "200" in paths["/api/v1/me/referrals"]["get"]["responses"]
    invite_responses = paths["/api/v1/me/referrals/invite"]["post"]["responses"]
    assert {"201", "400", "429"} <= set(invite_responses)
    assert "image/png" in paths["/api/v1/me/referrals/qr.png"]["get"]["responses"]["200"]["content"]
