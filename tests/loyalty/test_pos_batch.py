"""The POS's batch endpoints: up to 500 sales (or refunds) per request, one result each, in order."""

import pytest

from loyalty.models import LedgerEntry, Purchase, Refund
from loyalty.services import program_settings
from patients.models import Message, Patient
from practices.models import BackgroundTask
from referrals.codes import code_for_patient
from referrals.services import record_signup
from tests.factories import CatalogItemFactory, PatientFactory
from tests.loyalty.pos_helpers import new_key, pos_client, post_json

BATCH = "/api/v1/pos/purchases/batch"
REFUNDS = "/api/v1/pos/refunds/batch"
PHONE = "+14155550123"


@pytest.fixture
def pos(alpha):
    return pos_client("alpha", new_key())


@pytest.fixture
def patient(alpha) -> Patient:
    return PatientFactory(user__phone=PHONE)


@pytest.fixture
def botox(alpha):
    return CatalogItemFactory(name="Botox", category="Injectables", external_id="SKU-BOTOX", price_cents=12_000)


def sale(transaction_id: str, **fields) -> dict:
    return {
        "transaction_id": transaction_id,
        "patient": {"phone": PHONE},
        "lines": [{"item_id": "SKU-BOTOX", "quantity": 1}],
        **fields,
    }


def test_valid_sales_are_recorded_and_each_bad_one_answered_in_its_place(pos, patient, botox):
    settings_row = program_settings()
    settings_row.invite_unknown_pos_patients = False
    settings_row.save()
    post_json(pos, "/api/v1/pos/purchases", sale("T-0"))

    response = post_json(
        pos,
        BATCH,
        {
            "purchases": [
                sale("T-1"),
                sale("T-2", lines=[{"item_id": "SKU-BOTOX"}, {"item_id": "NOPE"}]),
                sale("T-0"),
                sale("T-3", lines=[{"item_id": "SKU-BOTOX", "quantity": 0}]),
                sale("T-4", patient={"phone": "+14155550999"}),
                sale("T-1"),
                {"transaction_id": 5},
            ]
        },
    )

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [
        "created",
        "error",
        "already_recorded",
        "error",
        "error",
        "already_recorded",
        "error",
    ]
    assert results[0]["purchase"]["points"] == 120 and results[0]["error"] is None
    assert results[1]["error"]["fields"] == {"lines[1].item_id": ["No catalog item has the POS id “NOPE”."]}
    assert results[1]["purchase"] is None
    assert results[2]["purchase"]["transaction_id"] == "T-0"
    assert list(results[3]["error"]["fields"]) == ["lines[0].quantity"]
    assert results[4]["error"]["code"] == "patient_not_found"
    assert results[5]["purchase"]["id"] == results[0]["purchase"]["id"]
    assert results[6]["error"]["fields"]["transaction_id"] == ["Send a string (in quotes)."]
    assert set(Purchase.objects.values_list("external_id", flat=True)) == {"T-0", "T-1"}
    assert results[5]["purchase"]["balance"] == results[0]["purchase"]["balance"] == 240


def test_a_repeat_for_a_different_sale_is_a_conflict_in_the_batch_and_alone(pos, patient, botox):
    post_json(pos, BATCH, {"purchases": [sale("T-1")]})

    batch = post_json(pos, BATCH, {"purchases": [sale("T-1", lines=[{"item_id": "SKU-BOTOX", "quantity": 2}])]})
    single = post_json(pos, "/api/v1/pos/purchases", sale("T-1", lines=[{"item_id": "SKU-BOTOX", "quantity": 2}]))

    assert batch.json()["results"][0]["error"]["code"] == "idempotency_conflict"
    assert single.status_code == 409
    assert single.json()["error"]["code"] == "idempotency_conflict"
    assert Purchase.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "purchases"),
        ({"purchases": []}, "purchases"),
        ({"purchases": "T-1"}, "purchases"),
        ([1, 2], "non_field_errors"),
    ],
)
def test_a_malformed_envelope_is_a_400(pos, body, field):
    response = post_json(pos, BATCH, body)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_more_than_500_sales_are_refused_whole(pos, patient, botox):
    response = post_json(pos, BATCH, {"purchases": [sale(f"T-{n}") for n in range(501)]})

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["purchases"] == ["Send at most 500 items per request."]
    assert not Purchase.objects.exists()


def test_unknown_phones_are_invited_once_with_their_first_purchase(pos, botox, django_capture_on_commit_callbacks):
    settings_row = program_settings()
    settings_row.invite_unknown_pos_patients = True
    settings_row.save()
    new = "+14155550777"

    response = post_json(
        pos,
        BATCH,
        {"purchases": [sale("T-1", patient={"phone": new}), sale("T-2", patient={"phone": new})]},
    )

    assert [r["status"] for r in response.json()["results"]] == ["created", "created"]
    patient = Patient.objects.get(user__phone=new)
    assert patient.status == Patient.Status.PENDING
    assert Message.objects.filter(patient=patient, purpose="invite").count() == 1


def test_a_referred_friends_purchases_in_a_batch_queue_their_qualification(pos, patient, botox):
    friend = PatientFactory(user__phone="+14155550444")
    record_signup(patient=friend, code=code_for_patient(patient).code, source="sms")

    response = post_json(
        pos,
        BATCH,
        {"purchases": [sale("T-1"), sale("T-2", patient={"phone": "+14155550444"})]},
    )

    friends_purchase = response.json()["results"][1]["purchase"]["id"]
    keys = set(BackgroundTask.objects.filter(func="referrals.tasks.qualify").values_list("key", flat=True))
    assert keys == {f"qualify:{friends_purchase}"}


def test_refunds_by_purchase_or_transaction_id_once_each(pos, patient, botox):
    results = post_json(pos, BATCH, {"purchases": [sale("T-1"), sale("T-2")]}).json()["results"]
    first = results[0]["purchase"]

    body = {
        "refunds": [
            {"purchase_id": first["id"], "refund_id": "R-1"},
            {"transaction_id": "T-2", "refund_id": "R-2", "reason": "Changed her mind"},
            {"transaction_id": "T-404", "refund_id": "R-3"},
            {"purchase_id": first["id"], "transaction_id": "T-2", "refund_id": "R-4"},
            {"transaction_id": "T-2"},
        ]
    }
    response = post_json(pos, REFUNDS, body)
    again = post_json(pos, REFUNDS, {"refunds": body["refunds"][:2]})

    answered = response.json()["results"]
    assert [r["status"] for r in answered] == ["created", "created", "error", "error", "error"]
    assert answered[0]["refund"]["points_taken"] == 120
    assert answered[1]["refund"]["balance"] == 0
    assert answered[2]["error"]["code"] == "not_found"
    assert answered[3]["error"]["fields"] == {
        "non_field_errors": ["Name the purchase by exactly one of purchase_id or transaction_id."]
    }
    assert list(answered[4]["error"]["fields"]) == ["refund_id"]
    assert [r["status"] for r in again.json()["results"]] == ["already_recorded", "already_recorded"]
    assert Refund.objects.count() == 2
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 2


def test_the_batch_endpoints_are_in_the_schema(alpha):
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    assert "post" in paths["/api/v1/pos/purchases/batch"]
    assert "post" in paths["/api/v1/pos/refunds/batch"]


def test_sales_that_would_overflow_a_patients_points_are_refused_not_a_500(pos, patient):
    CatalogItemFactory(external_id="BIG", price_cents=100_000_000, points_per_dollar=100)  # 100,000,000 points

    response = post_json(pos, BATCH, {"purchases": [sale(f"T-{n}", lines=[{"item_id": "BIG"}]) for n in range(25)]})

    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["created"] * 21 + ["error"] * 4
    assert response.json()["results"][21]["error"]["fields"] == {
        "lines": [
            "This purchase would take the patient's points beyond 2,147,483,647; "
            "check the amounts and the item's earning rate."
        ]
    }
    assert Purchase.objects.count() == 21
