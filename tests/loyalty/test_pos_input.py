"""The POS purchase endpoint's fast path answers exactly as PurchaseIn and PurchaseOut would.

Sales are read without the DRF serializer when the body is plainly well formed (loyalty.api_pos), and
their answer is built without PurchaseOut; these tests hold both shortcuts to the serializers' results.
"""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from loyalty.api_pos import PurchaseIn, PurchaseOut, _plain_purchase, _validated, purchase_body
from loyalty.models import Purchase
from loyalty.selectors import purchase_lines_and_balance
from tests.factories import CatalogItemFactory, PatientFactory
from tests.loyalty.pos_helpers import new_key, pos_client, post_json

PHONE = "+14155550123"
PURCHASES = "/api/v1/pos/purchases"


@pytest.fixture
def catalog(alpha):
    CatalogItemFactory(name="Botox", category="Injectables", external_id="SKU-BOTOX", price_cents=12_000)
    CatalogItemFactory(name="Peel", category="Facials", external_id="SKU-PEEL", price_cents=9_000)


def serializer_result(body):
    """PurchaseIn's validated data, or None where it refuses the body."""
    try:
        return _validated(PurchaseIn, body)
    except ValidationError:
        return None


@pytest.mark.parametrize(
    "body",
    [
        {"transaction_id": "T-1", "patient": {"phone": PHONE}, "lines": [{"item_id": "SKU-BOTOX"}]},
        {"transaction_id": "  T-1 ", "patient": {"phone": "(415) 555-0123"}, "lines": [{"item_id": " SKU-PEEL "}]},
        {
            "transaction_id": "T-1",
            "patient": {"id": 7, "other": "ignored"},
            "lines": [
                {"item_id": "SKU-BOTOX", "quantity": 3, "unit_price_cents": 0, "category": "  "},
                {"name": " Gift wrap ", "category": "Extras", "unit_price_cents": 500},
            ],
            "payment_method": " card ",
            "unknown": [1, 2],
        },
        {"transaction_id": "T-1", "patient": {"member_code": "M-42"}, "lines": [{"item_id": "SKU-BOTOX"}]},
        {
            "transaction_id": "T-1",
            "patient": {"phone": PHONE},
            "lines": [{"item_id": "SKU-BOTOX"}],
            "purchased_at": "2026-01-15T10:30:00",
        },
        {
            "transaction_id": "T-1",
            "patient": {"phone": PHONE},
            "lines": [{"item_id": "SKU-BOTOX"}],
            "purchased_at": "2026-01-15T10:30:00+01:00",
            "payment_method": "",
        },
    ],
)
def test_a_well_formed_sale_is_read_as_the_serializer_reads_it(catalog, body):
    plain = _plain_purchase(body)

    assert plain is not None
    assert plain == _validated(PurchaseIn, body)


@pytest.mark.parametrize(
    "body",
    [
        {"transaction_id": 12, "patient": {"phone": PHONE}, "lines": [{"item_id": "SKU-BOTOX"}]},
        {"transaction_id": "T-1", "patient": {"phone": PHONE}, "lines": [{"item_id": "SKU-BOTOX", "quantity": "2"}]},
        {"transaction_id": "T-1", "patient": {"phone": PHONE}, "lines": [{"item_id": "SKU-BOTOX", "quantity": True}]},
        {"transaction_id": "T-1", "patient": {"phone": PHONE}, "lines": [{"item_id": "SKU-BOTOX", "quantity": 2.0}]},
        {"transaction_id": "T-1", "patient": {"id": "7"}, "lines": [{"item_id": "SKU-BOTOX"}]},
        {"transaction_id": "T-1", "patient": {"phone": PHONE}, "lines": [{"item_id": "SKU-NOPE"}]},
        {"transaction_id": "T-\x00", "patient": {"phone": PHONE}, "lines": [{"item_id": "SKU-BOTOX"}]},
        {"transaction_id": "T-\ud800", "patient": {"phone": PHONE}, "lines": [{"item_id": "SKU-BOTOX"}]},
        {
            "transaction_id": "T-1",
            "patient": {"phone": PHONE},
            "lines": [{"item_id": "SKU-BOTOX"}],
            "purchased_at": None,
        },
        {"transaction_id": "T-1", "patient": {"phone": PHONE}, "lines": [{"name": "Gift wrap"}]},
        {"transaction_id": "T-1", "patient": {"phone": PHONE, "id": 1}, "lines": [{"item_id": "SKU-BOTOX"}]},
    ],
)
def test_anything_unusual_is_left_to_the_serializer(catalog, body):
    assert _plain_purchase(body) is None


def text():
    return st.one_of(
        st.sampled_from(["SKU-BOTOX", " SKU-PEEL", "SKU-NOPE", "", " ", "T-1", PHONE, "415 555 0123", "12", "\x00"]),
        st.text(max_size=8),
        st.text(min_size=60, max_size=130),
    )


def scalar():
    return st.one_of(text(), st.integers(-3, 10_001), st.sampled_from([2**70, 100_000_001]), st.booleans(), st.none())


@st.composite
def bodies(draw):
    """Sales in every shape: mostly plausible, with the odd wrong type, blank, oversized or missing field."""
    line_keys = ["item_id", "name", "category", "quantity", "unit_price_cents"]
    lines = draw(
        st.one_of(
            st.lists(
                st.dictionaries(st.sampled_from(line_keys), scalar(), max_size=5),
                max_size=3,
            ),
            scalar(),
        )
    )
    body = draw(
        st.fixed_dictionaries(
            {"lines": st.just(lines)},
            optional={
                "transaction_id": scalar(),
                "patient": st.one_of(
                    st.dictionaries(st.sampled_from(["phone", "id", "member_code"]), scalar(), max_size=2), scalar()
                ),
                "payment_method": scalar(),
                "purchased_at": st.sampled_from(["2026-01-15T10:30:00", "2026-01-15", "yesterday", None, 5]),
            },
        )
    )
    return body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies())
def test_the_fast_reader_never_disagrees_with_the_serializer(catalog, body):
    plain = _plain_purchase(body)
    event("read directly" if plain is not None else "left to the serializer")
    if plain is not None:
        assert plain == serializer_result(body)


def test_the_answer_is_the_one_purchase_out_gives(alpha, catalog):
    patient = PatientFactory(user__phone=PHONE)
    client = pos_client("alpha", new_key())
    lines = [{"item_id": "SKU-BOTOX", "quantity": 2}, {"name": "Gift wrap", "unit_price_cents": 500}]
    response = post_json(client, PURCHASES, {"transaction_id": "T-1", "patient": {"id": patient.pk}, "lines": lines})
    purchase = Purchase.objects.get()
    purchase.purchased_at = datetime(2026, 1, 15, 15, 30, tzinfo=UTC)  # with and without microseconds
    purchase.line_rows, purchase.balance = purchase_lines_and_balance(
        purchase=purchase, fields=("id", "name", "quantity", "unit_price_cents", "total_cents", "refunded_quantity")
    )

    assert response.status_code == 201
    assert json.loads(json.dumps(purchase_body(purchase))) == json.loads(json.dumps(PurchaseOut(purchase).data))
    assert purchase_body(purchase)["balance"] == 240
