"""The POS API: a practice's point-of-sale system records purchases and refunds and looks patients up."""

import secrets
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import tenant_context

from loyalty.models import EarningAction, LedgerEntry, PointsAccount, Purchase, Refund
from loyalty.services import program_settings
from patients.models import Activity, Message, Patient
from practices import audit
from practices.api_keys import revoke_api_key
from practices.models import ApiKey, Practice
from practices.services import create_practice
from tests.factories import (
    CatalogItemFactory,
    EarningActionFactory,
    PatientFactory,
    StaffMemberFactory,
    TierFactory,
)
from tests.loyalty.pos_helpers import new_key, pos_client, post_json

PURCHASES = "/api/v1/pos/purchases"
PHONE = "+14155550123"


@pytest.fixture
def key(alpha) -> str:
    return new_key()


@pytest.fixture
def pos(key):
    """A POS client of alpha, with a valid key."""
    return pos_client("alpha", key)


@pytest.fixture
def patient(alpha) -> Patient:
    return PatientFactory(user__phone=PHONE, user__first_name="Ada", user__last_name="Lovelace", external_id="M-42")


@pytest.fixture
def botox(alpha):
    return CatalogItemFactory(name="Botox", category="Injectables", external_id="SKU-BOTOX", price_cents=12_000)


def sale(transaction_id: str = "T-1", patient_ref: dict | None = None, lines: list | None = None, **fields) -> dict:
    return {
        "transaction_id": transaction_id,
        "patient": patient_ref or {"phone": PHONE},
        "lines": lines if lines is not None else [{"item_id": "SKU-BOTOX", "quantity": 1}],
        **fields,
    }


def error(response) -> dict:
    return response.json()["error"]


# ---------------------------------------------------------------- authentication


def test_it_refuses_a_request_without_a_key(alpha, patient, botox):
    response = post_json(pos_client("alpha"), PURCHASES, sale())

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert error(response)["code"] == "not_authenticated"
    assert "Authorization: Bearer" in error(response)["message"]
    assert not Purchase.objects.exists()


def test_it_refuses_an_unknown_key(alpha, patient, botox):
    response = post_json(pos_client("alpha", "pk_live_not-a-real-key"), PURCHASES, sale())

    assert response.status_code == 401
    assert error(response) == {
        "code": "invalid_api_key",
        "message": "This API key is not valid or has been revoked.",
        "fields": {},
    }


def test_it_accepts_the_key_in_an_x_api_key_header(alpha, key, patient):
    client = pos_client("alpha")
    client.credentials(HTTP_X_API_KEY=key)

    response = client.get("/api/v1/pos/patients", {"phone": PHONE})

    assert response.status_code == 200
    assert response.json()["id"] == patient.pk


def test_a_revoked_key_stops_working_immediately(alpha, pos, patient, botox):
    assert post_json(pos, PURCHASES, sale("T-1")).status_code == 201

    revoke_api_key(key=ApiKey.objects.get(), actor=audit.System("test setup"))
    response = post_json(pos, PURCHASES, sale("T-2"))

    assert response.status_code == 401
    assert error(response)["code"] == "invalid_api_key"
    assert list(Purchase.objects.values_list("external_id", flat=True)) == ["T-1"]


def test_a_key_of_another_practice_opens_nothing(alpha, beta, patient, botox):
    with tenant_context(beta):
        beta_key = new_key()

    response = post_json(pos_client("alpha", beta_key), PURCHASES, sale())

    assert response.status_code == 401
    assert error(response)["code"] == "invalid_api_key"
    assert not Purchase.objects.exists()


def test_a_signed_in_staff_session_is_not_enough(alpha, alpha_client, patient):
    alpha_client.force_login(StaffMemberFactory(role="owner").user)

    response = alpha_client.get("/api/v1/pos/patients", {"phone": PHONE})

    assert response.status_code == 401


# Signed requests: tests/loyalty/test_pos_signing.py.


# ---------------------------------------------------------------- recording purchases


def test_it_records_a_purchase_and_pays_its_points(alpha, pos, patient, botox):
    response = post_json(
        pos,
        PURCHASES,
        sale(
            lines=[
                {"item_id": "SKU-BOTOX", "quantity": 2},
                {"name": "Gift wrap", "category": "Extras", "quantity": 1, "unit_price_cents": 500},
            ],
            payment_method="card",
        ),
    )

    assert response.status_code == 201
    purchase = Purchase.objects.get()
    line_ids = list(purchase.lines.values_list("id", flat=True))
    assert response.json() == {
        "id": purchase.pk,
        "transaction_id": "T-1",
        "patient_id": patient.pk,
        "total_cents": 24_500,
        "points": 240,  # $240 of Botox at the default 1 point per dollar; the gift wrap earns nothing
        "purchased_at": purchase.purchased_at.isoformat().replace("+00:00", "Z"),
        "lines": [
            {
                "id": line_ids[0],
                "name": "Botox",
                "quantity": 2,
                "unit_price_cents": 12_000,
                "total_cents": 24_000,
                "refunded_quantity": 0,
            },
            {
                "id": line_ids[1],
                "name": "Gift wrap",
                "quantity": 1,
                "unit_price_cents": 500,
                "total_cents": 500,
                "refunded_quantity": 0,
            },
        ],
        "balance": 240,
    }
    assert (purchase.source, purchase.payment_method, purchase.recorded_by) == ("pos", "card", None)
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.delta, entry.purchase_id) == ("purchase", 240, purchase.pk)


def test_the_balance_answered_counts_a_cross_booking_bonus(alpha, pos, patient, botox):
    EarningActionFactory(kind=EarningAction.Kind.CROSS_BOOKING, points=75, limit=EarningAction.Limit.UNLIMITED)
    CatalogItemFactory(category="Facials", external_id="SKU-PEEL", price_cents=9_000)
    post_json(pos, PURCHASES, sale("T-1"))

    response = post_json(pos, PURCHASES, sale("T-2", lines=[{"item_id": "SKU-PEEL"}]))

    assert response.status_code == 201
    assert response.json()["points"] == 90
    assert response.json()["balance"] == 120 + 90 + 75 == PointsAccount.objects.get(patient=patient).balance
    assert pos.get(f"{PURCHASES}/{response.json()['id']}").json() == response.json()


def test_a_line_takes_the_catalog_price_unless_the_pos_sends_one(alpha, pos, patient, botox):
    response = post_json(
        pos,
        PURCHASES,
        sale(lines=[{"item_id": "SKU-BOTOX"}, {"item_id": "SKU-BOTOX", "unit_price_cents": 9_000}]),
    )

    assert [line["unit_price_cents"] for line in response.json()["lines"]] == [12_000, 9_000]
    assert response.json()["total_cents"] == 21_000


def test_a_repeated_transaction_id_answers_200_with_the_first_purchase(alpha, pos, patient, botox):
    first = post_json(pos, PURCHASES, sale("T-1"))
    again = post_json(pos, PURCHASES, sale("T-1"))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Purchase.objects.count() == 1
    assert PointsAccount.objects.get(patient=patient).balance == 120


def test_a_transaction_id_reused_for_another_patient_is_refused(alpha, pos, patient, botox):
    other = PatientFactory()
    post_json(pos, PURCHASES, sale("T-1"))

    response = post_json(pos, PURCHASES, sale("T-1", patient_ref={"id": other.pk}))

    assert response.status_code == 409
    assert error(response)["code"] == "idempotency_conflict"
    assert error(response)["fields"] == {"transaction_id": [error(response)["message"]]}
    assert not Purchase.objects.filter(patient=other).exists()


def test_a_transaction_id_reused_for_an_unknown_phone_invites_no_one(alpha, pos, patient, botox):
    post_json(pos, PURCHASES, sale("T-1"))

    response = post_json(pos, PURCHASES, sale("T-1", patient_ref={"phone": "(202) 555-0143"}))

    assert response.status_code == 409
    assert error(response)["code"] == "idempotency_conflict"
    assert not Patient.objects.filter(user__phone="+12025550143").exists()
    assert not Message.objects.exists()


def test_the_patient_can_be_named_by_id(alpha, pos, patient, botox):
    response = post_json(pos, PURCHASES, sale(patient_ref={"id": patient.pk}))

    assert response.json()["patient_id"] == patient.pk


def test_the_member_code_is_the_practices_own_patient_id(alpha, pos, patient, botox):
    response = post_json(pos, PURCHASES, sale(patient_ref={"member_code": "M-42"}))

    assert response.status_code == 201
    assert response.json()["patient_id"] == patient.pk


def test_a_member_code_shared_by_two_patients_is_refused(alpha, pos, patient, botox):
    PatientFactory(external_id="M-42")

    response = post_json(pos, PURCHASES, sale(patient_ref={"member_code": "M-42"}))

    assert response.status_code == 409
    assert error(response)["code"] == "ambiguous_member_code"
    assert not Purchase.objects.exists()


@pytest.mark.parametrize(
    ("patient_ref", "field", "message"),
    [
        ({"id": 999_999_999}, "patient.id", "No patient with this id."),
        ({"member_code": "NOPE"}, "patient.member_code", "No patient with this member code."),
    ],
)
def test_an_unknown_patient_is_not_found(alpha, pos, botox, patient_ref, field, message):
    response = post_json(pos, PURCHASES, sale(patient_ref=patient_ref))

    assert response.status_code == 404
    assert error(response) == {"code": "patient_not_found", "message": message, "fields": {field: [message]}}


def test_a_naive_purchase_time_is_read_in_the_practices_time_zone(alpha, pos, patient, botox):
    response = post_json(pos, PURCHASES, sale(purchased_at="2026-01-15T10:30:00"))

    # Alpha is in New York (UTC-5 in January).
    assert Purchase.objects.get().purchased_at == datetime(2026, 1, 15, 15, 30, tzinfo=UTC)
    assert response.json()["purchased_at"] == "2026-01-15T15:30:00Z"


def test_a_purchase_in_the_future_is_refused(alpha, pos, patient, botox):
    later = (timezone.now() + timedelta(minutes=10)).isoformat()

    response = post_json(pos, PURCHASES, sale(purchased_at=later))

    assert response.status_code == 400
    assert error(response)["fields"] == {"purchased_at": ["A purchase can't be in the future; check the POS's clock."]}
    assert not Purchase.objects.exists()


def test_a_purchase_a_few_seconds_ahead_of_our_clock_is_accepted(alpha, pos, patient, botox):
    response = post_json(pos, PURCHASES, sale(purchased_at=(timezone.now() + timedelta(minutes=2)).isoformat()))

    assert response.status_code == 201


# ---------------------------------------------------------------- unknown phone numbers


def test_an_unknown_phone_becomes_an_invited_patient_who_is_texted(alpha, pos, botox):
    response = post_json(pos, PURCHASES, sale(patient_ref={"phone": "(202) 555-0143"}))

    assert response.status_code == 201
    patient = Patient.objects.get(user__phone="+12025550143")
    assert (patient.status, patient.source) == ("pending", "desk")
    assert response.json()["patient_id"] == patient.pk
    assert response.json()["balance"] == 120
    assert patient.activities.filter(kind=Activity.Kind.INVITED).exists()
    invitation = Message.objects.get(patient=patient)
    assert invitation.purpose == "invite"
    assert invitation.body.startswith("Alpha Aesthetics: you earned 120 points today. Join our rewards program")
    assert "/join/" in invitation.body


def test_a_repeat_for_a_new_phone_neither_creates_nor_texts_twice(alpha, pos, botox):
    post_json(pos, PURCHASES, sale(patient_ref={"phone": "(202) 555-0143"}))
    again = post_json(pos, PURCHASES, sale(patient_ref={"phone": "(202) 555-0143"}))

    assert again.status_code == 200
    assert Patient.objects.filter(user__phone="+12025550143").count() == 1
    assert Message.objects.count() == 1


def test_an_unknown_phone_is_refused_when_the_program_does_not_invite(alpha, pos, botox):
    settings_row = program_settings()
    settings_row.invite_unknown_pos_patients = False
    settings_row.save()

    response = post_json(pos, PURCHASES, sale(patient_ref={"phone": "(202) 555-0143"}))

    assert response.status_code == 404
    assert error(response)["message"] == "No patient with this phone number."
    assert error(response)["fields"] == {"patient.phone": ["No patient with this phone number."]}
    assert not Patient.objects.exists()
    assert not Message.objects.exists()


def test_a_refused_purchase_leaves_no_invited_patient_behind(alpha, pos):
    response = post_json(pos, PURCHASES, sale(patient_ref={"phone": "(202) 555-0143"}, lines=[{"item_id": "GONE"}]))

    assert response.status_code == 400
    assert not Patient.objects.exists()
    assert not Message.objects.exists()


# ---------------------------------------------------------------- bad input never 500s


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"patient": {"phone": PHONE}, "lines": [{"item_id": "SKU-BOTOX"}]},
            {"transaction_id": ["This field is required."]},
        ),
        (sale(transaction_id=""), {"transaction_id": ["This field may not be blank."]}),
        (sale(transaction_id="x" * 101), {"transaction_id": ["Ensure this field has no more than 100 characters."]}),
        (sale(lines=[]), {"lines": ["This list may not be empty."]}),
        (
            sale(lines=[{"item_id": "SKU-BOTOX", "quantity": -1}]),
            {"lines[0].quantity": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            sale(lines=[{"item_id": "SKU-BOTOX"}, {"item_id": "SKU-NOPE"}]),
            {"lines[1].item_id": ["No catalog item has the POS id “SKU-NOPE”."]},
        ),
        (
            sale(lines=[{"name": "Consultation", "quantity": 1}]),
            {"lines[0].unit_price_cents": ["A line without item_id needs its price."]},
        ),
        (
            sale(lines=[{"quantity": 1, "unit_price_cents": 100}]),
            {"lines[0].item_id": ["Give a catalog item's item_id, or a name."]},
        ),
        (
            sale(lines=[{"item_id": "SKU-BOTOX", "unit_price_cents": -5}]),
            {"lines[0].unit_price_cents": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            sale(lines=[{"item_id": "SKU-BOTOX", "quantity": 10_000, "unit_price_cents": 100_000}]),
            {"lines": ["A purchase can't total more than $1,000,000."]},
        ),
        (sale(lines="SKU-BOTOX"), {"lines": ['Expected a list of items but got type "str".']}),
        (
            sale(patient_ref={"phone": "12"}),
            {"patient.phone": ["That phone number isn't valid. Check the digits and the area code."]},
        ),
        (
            sale(patient_ref={"phone": PHONE, "id": 1}),
            {"patient": ["Name the patient by exactly one of phone, id or member_code."]},
        ),
        (
            sale(patient_ref={"id": 2**70}),
            {"patient.id": ["Ensure this value is less than or equal to 9223372036854775807."]},
        ),
    ],
)
def test_invalid_input_is_refused_field_by_field(alpha, pos, patient, botox, body, fields):
    response = post_json(pos, PURCHASES, body)

    assert response.status_code == 400
    assert error(response)["code"] == "invalid"
    assert error(response)["fields"] == fields
    assert not Purchase.objects.exists()


def test_an_unreadable_purchase_time_is_refused(alpha, pos, patient, botox):
    response = post_json(pos, PURCHASES, sale(purchased_at="yesterday"))

    assert response.status_code == 400
    assert error(response)["fields"]["purchased_at"][0].startswith("Datetime has wrong format.")


@pytest.mark.parametrize("raw", [b'{"transaction_id": "T-1", ', b"", b"[1, 2]", b'"just a string"'])
def test_a_body_that_is_not_a_json_object_is_refused(alpha, pos, raw):
    response = post_json(pos, PURCHASES, None, raw=raw)

    assert response.status_code == 400
    assert error(response)["code"] in {"parse_error", "invalid"}
    assert error(response)["message"]


def test_a_form_encoded_body_is_refused(alpha, pos, patient, botox):
    response = pos.post(PURCHASES, {"transaction_id": "T-1"}, format="multipart")

    assert response.status_code == 415
    assert error(response)["code"] == "unsupported_media_type"
    assert not Purchase.objects.exists()


# ---------------------------------------------------------------- reading a purchase


def test_a_purchase_can_be_read_back(alpha, pos, patient, botox):
    created = post_json(pos, PURCHASES, sale()).json()

    response = pos.get(f"{PURCHASES}/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created


@pytest.mark.parametrize("purchase_id", ["999999", "99999999999999999999999"])
def test_an_unknown_purchase_is_not_found(alpha, pos, purchase_id):
    response = pos.get(f"{PURCHASES}/{purchase_id}")

    assert response.status_code == 404
    assert error(response)["message"] == f"No purchase with the id {purchase_id}."


# ---------------------------------------------------------------- refunds


@pytest.fixture
def bought(alpha, pos, patient, botox) -> dict:
    """A purchase of two Botox ($240, 240 points) and a gift wrap line, recorded through the API."""
    lines = [{"item_id": "SKU-BOTOX", "quantity": 2}, {"name": "Gift wrap", "unit_price_cents": 500}]
    return post_json(pos, PURCHASES, sale(lines=lines)).json()


def refunds_of(purchase_id: int) -> str:
    return f"{PURCHASES}/{purchase_id}/refunds"


def test_a_whole_purchase_is_refunded_and_its_points_taken_back(alpha, pos, bought):
    response = post_json(pos, refunds_of(bought["id"]), {"reason": "Changed her mind"})

    assert response.status_code == 201
    refund = Refund.objects.get()
    assert response.json() == {
        "id": refund.pk,
        "refund_id": None,
        "purchase_id": bought["id"],
        "created_at": refund.created_at.isoformat().replace("+00:00", "Z"),
        "amount_cents": 24_500,
        "points": 240,
        "points_taken": 240,
        "shortfall_points": 0,
        "balance": 0,
    }
    assert refund.reason == "Changed her mind"


def test_some_lines_can_be_refunded(alpha, pos, bought):
    botox_line = bought["lines"][0]["id"]

    response = post_json(pos, refunds_of(bought["id"]), {"lines": [{"line_id": botox_line, "quantity": 1}]})

    assert response.status_code == 201
    assert (response.json()["amount_cents"], response.json()["points"], response.json()["balance"]) == (
        12_000,
        120,
        120,
    )
    assert pos.get(f"{PURCHASES}/{bought['id']}").json()["lines"][0]["refunded_quantity"] == 1


def test_a_repeated_refund_id_answers_200_with_the_first_refund(alpha, pos, bought):
    first = post_json(pos, refunds_of(bought["id"]), {"refund_id": "R-1"})
    again = post_json(pos, refunds_of(bought["id"]), {"refund_id": "R-1"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Refund.objects.count() == 1


def test_a_refund_id_reused_on_another_purchase_is_refused(alpha, pos, bought):
    other = post_json(pos, PURCHASES, sale("T-2")).json()
    post_json(pos, refunds_of(bought["id"]), {"refund_id": "R-1"})

    response = post_json(pos, refunds_of(other["id"]), {"refund_id": "R-1"})

    assert response.status_code == 409
    assert error(response)["fields"] == {"refund_id": [error(response)["message"]]}
    assert not Refund.objects.filter(purchase_id=other["id"]).exists()


def test_a_repeated_refund_without_refund_id_is_refused_and_applied_once(alpha, pos, bought):
    one_botox = {"lines": [{"line_id": bought["lines"][0]["id"], "quantity": 1}]}

    first = post_json(pos, refunds_of(bought["id"]), one_botox)
    again = post_json(pos, refunds_of(bought["id"]), one_botox)

    assert (first.status_code, again.status_code) == (201, 409)
    assert error(again)["code"] == "duplicate_refund"
    assert error(again)["message"] == (
        f"The same refund was recorded for this purchase 1 minute ago (refund {first.json()['id']}), so it was "
        "not applied again. To refund the same lines once more, send a refund_id: a new one for each refund."
    )
    assert error(again)["fields"] == {"refund_id": [error(again)["message"]]}
    assert Refund.objects.count() == 1
    assert PointsAccount.objects.get(patient_id=bought["patient_id"]).balance == 120
    assert pos.get(f"{PURCHASES}/{bought['id']}").json()["lines"][0]["refunded_quantity"] == 1


def test_a_repeated_whole_refund_without_refund_id_is_refused(alpha, pos, bought):
    first = post_json(pos, refunds_of(bought["id"]), {})
    again = post_json(pos, refunds_of(bought["id"]), {"reason": "Sent twice"})

    assert (first.status_code, again.status_code) == (201, 409)
    assert error(again)["code"] == "duplicate_refund"
    assert Refund.objects.count() == 1


def test_the_same_lines_are_refunded_again_with_a_refund_id(alpha, pos, bought):
    one_botox = {"lines": [{"line_id": bought["lines"][0]["id"], "quantity": 1}]}

    first = post_json(pos, refunds_of(bought["id"]), one_botox)
    second = post_json(pos, refunds_of(bought["id"]), {**one_botox, "refund_id": "R-2"})

    assert (first.status_code, second.status_code) == (201, 201)
    assert PointsAccount.objects.get(patient_id=bought["patient_id"]).balance == 0


def test_a_different_refund_without_refund_id_is_applied(alpha, pos, bought):
    botox_line, wrap_line = (line["id"] for line in bought["lines"])

    first = post_json(pos, refunds_of(bought["id"]), {"lines": [{"line_id": botox_line, "quantity": 1}]})
    other_line = post_json(pos, refunds_of(bought["id"]), {"lines": [{"line_id": wrap_line, "quantity": 1}]})
    more = post_json(pos, refunds_of(bought["id"]), {"lines": [{"line_id": botox_line, "quantity": 1}]})

    assert (first.status_code, other_line.status_code) == (201, 201)
    assert more.status_code == 409  # the first one again
    assert Refund.objects.count() == 2


def test_the_same_refund_without_refund_id_is_applied_after_the_window(alpha, pos, bought, settings):
    settings.POS_DUPLICATE_REFUND_MINUTES = 10
    one_botox = {"lines": [{"line_id": bought["lines"][0]["id"], "quantity": 1}]}
    now = timezone.now()

    with time_machine.travel(now, tick=False):
        first = post_json(pos, refunds_of(bought["id"]), one_botox)
    with time_machine.travel(now + timedelta(minutes=9, seconds=59), tick=False):
        within = post_json(pos, refunds_of(bought["id"]), one_botox)
    with time_machine.travel(now + timedelta(minutes=10, seconds=1), tick=False):
        after = post_json(pos, refunds_of(bought["id"]), one_botox)

    assert (first.status_code, within.status_code, after.status_code) == (201, 409, 201)
    assert "10 minutes ago" in error(within)["message"]
    assert Refund.objects.count() == 2


def test_refunding_more_than_was_bought_is_refused(alpha, pos, bought):
    botox_line = bought["lines"][0]["id"]

    response = post_json(pos, refunds_of(bought["id"]), {"lines": [{"line_id": botox_line, "quantity": 3}]})

    assert response.status_code == 400
    assert error(response)["fields"] == {"lines": [f"Line {botox_line} has 2 left to refund."]}
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"lines": []}, {"lines": ["This list may not be empty."]}),
        (
            {"lines": [{"line_id": 1, "quantity": 0}]},
            {"lines[0].quantity": ["Ensure this value is greater than or equal to 1."]},
        ),
        ({"lines": [{"quantity": 1}]}, {"lines[0].line_id": ["This field is required."]}),
        ({"refund_id": "r" * 101}, {"refund_id": ["Ensure this field has no more than 100 characters."]}),
    ],
)
def test_an_invalid_refund_is_refused_field_by_field(alpha, pos, bought, body, fields):
    response = post_json(pos, refunds_of(bought["id"]), body)

    assert response.status_code == 400
    assert error(response)["fields"] == fields
    assert not Refund.objects.exists()


def test_a_practice_cannot_refund_another_practices_purchase(alpha, beta, bought):
    with tenant_context(beta):
        beta_key = new_key()
        assert not Purchase.objects.filter(pk=bought["id"]).exists()  # ids are per practice schema

    response = post_json(pos_client("beta", beta_key), refunds_of(bought["id"]), {})

    assert response.status_code == 404
    connection.set_tenant(alpha)  # the request left the connection in beta's schema
    assert not Refund.objects.exists()
    assert PointsAccount.objects.get(patient_id=bought["patient_id"]).balance == 240


# ---------------------------------------------------------------- looking a patient up


def test_a_patient_is_found_by_phone_in_any_format(alpha, pos, patient):
    gold = TierFactory(name="Gold", threshold_points=0)
    PointsAccount.objects.filter(patient=patient).update(balance=350, tier=gold)

    response = pos.get("/api/v1/pos/patients", {"phone": "415.555.0123"})

    assert response.status_code == 200
    assert response.json() == {
        "id": patient.pk,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": PHONE,
        "status": "active",
        "balance": 350,
        "tier": "Gold",
    }


def test_an_unknown_phone_is_not_found(alpha, pos):
    response = pos.get("/api/v1/pos/patients", {"phone": "(202) 555-0143"})

    assert response.status_code == 404
    assert error(response)["code"] == "patient_not_found"


@pytest.mark.parametrize(("query", "message"), [({"phone": "12"}, "isn't valid"), ({}, "Enter")])
def test_an_invalid_or_missing_phone_is_a_field_error(alpha, pos, query, message):
    response = pos.get("/api/v1/pos/patients", query)

    assert response.status_code == 400
    assert message in error(response)["fields"]["phone"][0]


# ---------------------------------------------------------------- the schema


def test_the_schema_documents_the_pos_api_and_its_key(alpha_client):
    response = alpha_client.get("/api/schema/")

    assert response.status_code == 200
    schema = response.content.decode()
    for path in ["/api/v1/pos/purchases:", "/api/v1/pos/purchases/{purchase_id}/refunds:", "/api/v1/pos/patients:"]:
        assert path in schema
    assert "posApiKey" in schema
    assert "scheme: bearer" in schema


# ---------------------------------------------------------------- concurrency


@pytest.fixture
def committed_practice(django_db_setup, django_db_blocker):
    """A practice of its own, whose writes really commit, for tests where threads race.

    Threads use their own database connections, so they only see committed rows: the usual per-test
    transaction cannot be used. Nor can @pytest.mark.django_db(transaction=True): its teardown flushes
    (TRUNCATE) every table of the schema the connection is in, which is the public schema, and so deletes
    the alpha and beta practices every later test relies on (tried: Practice rows gone, alpha's rows left).
    Instead the test creates a practice, lets everything commit, and drops the practice and its schema.
    """
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        slug = f"pos-race-{secrets.token_hex(3)}"
        practice = create_practice(name="Race Clinic", slug=slug, owner_email=f"owner@{slug}.test").practice
        try:
            connection.set_tenant(practice)
            yield practice
        finally:
            connection.set_schema_to_public()
            Practice.objects.get(pk=practice.pk).delete(force_drop=True)


def race(count: int, send) -> list:
    """Run `send()` in `count` threads released at the same moment; returns their responses."""
    barrier = threading.Barrier(count)
    responses: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            responses[index] = send()
        finally:
            connections.close_all()  # the schema is dropped after the test: no connection may linger

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_concurrent_repeats_of_a_transaction_record_one_purchase(committed_practice):
    raw_key = new_key()
    patient = PatientFactory(user__phone=PHONE)
    CatalogItemFactory(external_id="SKU-BOTOX", price_cents=12_000)

    responses = race(8, lambda: post_json(pos_client(committed_practice.slug, raw_key), PURCHASES, sale("T-RACE")))

    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Purchase.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert PointsAccount.objects.get(patient=patient).balance == 120


def test_concurrent_sales_to_the_same_new_phone_invite_one_patient(committed_practice):
    raw_key = new_key()
    CatalogItemFactory(external_id="SKU-BOTOX", price_cents=12_000)
    new_patient = {"phone": "(202) 555-0143"}

    responses = race(
        6, lambda: post_json(pos_client(committed_practice.slug, raw_key), PURCHASES, sale("T-NEW", new_patient))
    )

    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    patient = Patient.objects.get()
    assert Purchase.objects.get().patient_id == patient.pk
    assert Message.objects.filter(patient=patient, purpose="invite").count() == 1


def bought_in(practice, raw_key: str) -> dict:
    PatientFactory(user__phone=PHONE)
    CatalogItemFactory(external_id="SKU-BOTOX", price_cents=12_000)
    return post_json(
        pos_client(practice.slug, raw_key), PURCHASES, sale("T-1", lines=[{"item_id": "SKU-BOTOX", "quantity": 2}])
    ).json()


@pytest.mark.parametrize(
    "body",
    [{"refund_id": "R-RACE"}, {"refund_id": "R-RACE", "lines": [{"line_id": 0, "quantity": 1}]}],
    ids=["whole", "one line"],
)
def test_concurrent_repeats_of_a_refund_id_record_one_refund(committed_practice, body):
    raw_key = new_key()
    purchase = bought_in(committed_practice, raw_key)
    if "lines" in body:
        body = {**body, "lines": [{"line_id": purchase["lines"][0]["id"], "quantity": 1}]}

    responses = race(
        6, lambda: post_json(pos_client(committed_practice.slug, raw_key), refunds_of(purchase["id"]), body)
    )

    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Refund.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1


def test_concurrent_repeats_of_a_refund_without_refund_id_record_one_refund(committed_practice):
    raw_key = new_key()
    purchase = bought_in(committed_practice, raw_key)
    body = {"lines": [{"line_id": purchase["lines"][0]["id"], "quantity": 1}]}

    responses = race(
        6, lambda: post_json(pos_client(committed_practice.slug, raw_key), refunds_of(purchase["id"]), body)
    )

    assert sorted(r.status_code for r in responses) == [201] + [409] * 5
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"duplicate_refund"}
    assert Refund.objects.count() == 1
    assert PointsAccount.objects.get(patient_id=purchase["patient_id"]).balance == 120
