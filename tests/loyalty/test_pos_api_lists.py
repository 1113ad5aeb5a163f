"""The POS reads back what was recorded: GET /api/v1/pos/purchases and GET /api/v1/pos/refunds."""

import base64

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from loyalty.models import LedgerEntry, Purchase
from loyalty.services import post_points
from practices.pagination import MAX_PAGE_SIZE
from tests.factories import CatalogItemFactory, PatientFactory
from tests.loyalty.pos_helpers import new_key, pos_client, post_json

PURCHASES = "/api/v1/pos/purchases"
REFUNDS = "/api/v1/pos/refunds"
PHONE = "+14155550123"


@pytest.fixture
def pos(alpha):
    return pos_client("alpha", new_key())


@pytest.fixture
def patient(alpha):
    return PatientFactory(user__phone=PHONE)


@pytest.fixture
def botox(alpha):
    return CatalogItemFactory(name="Botox", category="Injectables", external_id="SKU-BOTOX", price_cents=12_000)


def sell(pos, transaction_id: str, *, phone: str = PHONE, quantity: int = 1, **fields) -> dict:
    sale = {
        "transaction_id": transaction_id,
        "patient": {"phone": phone},
        "lines": [{"item_id": "SKU-BOTOX", "quantity": quantity}, {"name": "Gift wrap", "unit_price_cents": 500}],
        **fields,
    }
    response = post_json(pos, PURCHASES, sale)
    assert response.status_code == 201, response.content
    return response.json()


def refund(pos, purchase: dict, refund_id: str, **fields) -> dict:
    response = post_json(pos, f"{PURCHASES}/{purchase['id']}/refunds", {"refund_id": refund_id, **fields})
    assert response.status_code == 201, response.content
    return response.json()


def ids(body: dict) -> list[int]:
    return [row["id"] for row in body["results"]]


def error(response) -> dict:
    return response.json()["error"]


# ---------------------------------------------------------------- purchases


def test_each_purchase_is_listed_as_the_pos_got_it_with_the_balance_now(pos, patient, botox):
    first = sell(pos, "T-1", quantity=2)
    second = sell(pos, "T-2")
    post_points(account_id=patient.points_account.pk, delta=7, kind=LedgerEntry.Kind.BONUS)

    body = pos.get(PURCHASES).json()

    assert body["previous"] is None and body["next"] is None
    detail = [pos.get(f"{PURCHASES}/{purchase['id']}").json() for purchase in (first, second)]
    assert body["results"] == detail
    assert body["results"][0]["lines"][0]["quantity"] == 2
    assert {row["balance"] for row in body["results"]} == {second["balance"] + 7}


def test_purchases_come_oldest_first_and_a_cursor_reads_on_from_the_last_page(pos, patient, botox):
    sold = [sell(pos, f"T-{number}")["id"] for number in range(5)]

    first = pos.get(f"{PURCHASES}?page_size=2").json()
    assert ids(first) == sold[:2]
    second = pos.get(first["next"]).json()
    assert ids(second) == sold[2:4]
    last = pos.get(second["next"]).json()
    assert ids(last) == sold[4:] and last["next"] is None

    # Sales recorded after the POS read its last page come after it, none skipped or repeated.
    later = [sell(pos, f"T-later-{number}")["id"] for number in range(3)]
    assert ids(pos.get(second["next"]).json()) == [sold[4], later[0]]
    assert ids(pos.get(pos.get(second["next"]).json()["next"]).json()) == later[1:]


def test_the_filters_narrow_the_list(pos, patient, botox):
    other = PatientFactory(user__phone="+14155550199")
    mine = sell(pos, "T-1")
    theirs = sell(pos, "T-2", phone="+14155550199")

    assert ids(pos.get(f"{PURCHASES}?patient={other.pk}").json()) == [theirs["id"]]
    assert ids(pos.get(f"{PURCHASES}?transaction_id=T-1").json()) == [mine["id"]]
    assert ids(pos.get(f"{PURCHASES}?transaction_id=T-1&patient={other.pk}").json()) == []
    assert ids(pos.get(f"{PURCHASES}?transaction_id=T-").json()) == []  # exact, not a prefix


def test_since_without_an_offset_is_practice_time(pos, patient, botox):
    # alpha is in New York: 09:00 there on 15 January is 14:00 UTC.
    early = sell(pos, "T-early", purchased_at="2026-01-15T13:59:00Z")
    on_time = sell(pos, "T-on-time", purchased_at="2026-01-15T14:00:00Z")
    late = sell(pos, "T-late", purchased_at="2026-01-16T10:00:00+00:00")

    assert ids(pos.get(f"{PURCHASES}?since=2026-01-15T09:00").json()) == [on_time["id"], late["id"]]
    assert ids(pos.get(f"{PURCHASES}?since=2026-01-15T13:59:00%2B00:00").json()) == [
        early["id"],
        on_time["id"],
        late["id"],
    ]
    assert ids(pos.get(f"{PURCHASES}?since=2026-01-16").json()) == [late["id"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "since"),
        ("since=2026-13-01T00:00", "since"),
        ("since=9999-12-31T23:59:59-12:00", "since"),
        ("since=0001-01-01T00:00:00%2B14:00", "since"),
        ("patient=abc", "patient"),
        ("patient=0", "patient"),
        ("patient=-4", "patient"),
        ("patient=99999999999999999999", "patient"),
        ("transaction_id=" + "T" * 101, "transaction_id"),
    ],
)
def test_a_malformed_filter_is_a_400_naming_it(pos, patient, botox, query, field):
    response = pos.get(f"{PURCHASES}?{query}")

    assert response.status_code == 400
    assert error(response)["code"] == "invalid"
    assert list(error(response)["fields"]) == [field]


def test_empty_filters_filter_nothing(pos, patient, botox):
    sold = sell(pos, "T-1")
    assert ids(pos.get(f"{PURCHASES}?since=&patient=&transaction_id=").json()) == [sold["id"]]


def encoded(cursor: str) -> str:
    return base64.b64encode(cursor.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    ["nonsense", "%00", encoded("p=abc"), encoded("p=1%00"), encoded("p=" + "9" * 30), encoded("o=-1"), "%C3%A9"],
)
def test_a_cursor_we_did_not_make_is_a_404(pos, patient, botox, cursor):
    sell(pos, "T-1")
    response = pos.get(f"{PURCHASES}?cursor={cursor}")
    assert response.status_code in (400, 404)
    assert error(response)["code"] in ("not_found", "bad_request", "invalid")


def test_a_page_holds_at_most_the_cap(pos, patient, botox):
    sold = sell(pos, "T-1")
    Purchase.objects.bulk_create(
        Purchase(patient=patient, source=Purchase.Source.DESK, total_cents=100, purchased_at=patient.created_at)
        for _ in range(MAX_PAGE_SIZE + 1)
    )
    body = pos.get(f"{PURCHASES}?page_size=5000").json()
    assert len(body["results"]) == MAX_PAGE_SIZE and ids(body)[0] == sold["id"]
    assert body["results"][1]["transaction_id"] is None and body["results"][1]["lines"] == []
    assert len(pos.get(PURCHASES).json()["results"]) == 50


def test_a_page_costs_the_same_queries_whatever_its_size(pos, patient, botox):
    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert pos.get(PURCHASES).status_code == 200
        return len(queries)

    sell(pos, "T-0")
    one = queries_for_page()
    for number in range(1, 8):
        sell(pos, f"T-{number}", phone=f"+1415555{number:04d}")
    assert queries_for_page() == one


def test_posting_a_sale_on_the_same_address_still_works(pos, patient, botox):
    response = post_json(pos, PURCHASES, {"transaction_id": "T-9", "patient": {"phone": PHONE}, "lines": []})
    assert response.status_code == 400  # PurchaseCreate's own validation
    assert sell(pos, "T-9")["transaction_id"] == "T-9"
    assert "GET" in pos.options(PURCHASES)["Allow"] and "POST" in pos.options(PURCHASES)["Allow"]


def test_the_list_needs_the_practices_key(alpha, patient, botox, beta):
    pos = pos_client("alpha", new_key())
    sell(pos, "T-1")
    assert pos_client("alpha").get(PURCHASES).status_code == 401
    with tenant_context(beta):
        beta_key = new_key()
    assert pos_client("alpha", beta_key).get(PURCHASES).status_code == 401
    # A session (a signed-in staff member's browser) opens nothing here.
    browser = pos_client("alpha")
    browser.force_login(patient.user)
    assert browser.get(PURCHASES).status_code == 401


def test_another_practice_lists_only_its_own(alpha, patient, botox, beta):
    sell(pos_client("alpha", new_key()), "T-1")
    with tenant_context(beta):
        beta_key = new_key()
        body = pos_client("beta", beta_key).get(PURCHASES).json()
    assert body["results"] == []


# ---------------------------------------------------------------- refunds


def test_each_refund_is_listed_as_the_pos_got_it(pos, patient, botox):
    purchase = sell(pos, "T-1", quantity=3)
    partial = refund(pos, purchase, "R-1", lines=[{"line_id": purchase["lines"][0]["id"], "quantity": 1}])
    rest = refund(pos, purchase, "R-2")
    post_points(account_id=patient.points_account.pk, delta=3, kind=LedgerEntry.Kind.BONUS)

    body = pos.get(REFUNDS).json()

    assert body["results"] == [{**partial, "balance": rest["balance"] + 3}, {**rest, "balance": rest["balance"] + 3}]


def test_refunds_are_filtered(pos, patient, botox):
    PatientFactory(user__phone="+14155550199")
    mine = sell(pos, "T-1")
    theirs = sell(pos, "T-2", phone="+14155550199")
    first = refund(pos, mine, "R-1")
    second = refund(pos, theirs, "R-2")

    assert ids(pos.get(f"{REFUNDS}?purchase={theirs['id']}").json()) == [second["id"]]
    assert ids(pos.get(f"{REFUNDS}?patient={patient.pk}").json()) == [first["id"]]
    assert ids(pos.get(f"{REFUNDS}?refund_id=R-2").json()) == [second["id"]]
    assert ids(pos.get(f"{REFUNDS}?since=2000-01-01T00:00").json()) == [first["id"], second["id"]]
    assert ids(pos.get(f"{REFUNDS}?since=2999-01-01T00:00").json()) == []


def test_refunds_come_in_pages(pos, patient, botox):
    purchases = [sell(pos, f"T-{number}") for number in range(3)]
    refunded = [refund(pos, purchase, f"R-{purchase['id']}")["id"] for purchase in purchases]

    first = pos.get(f"{REFUNDS}?page_size=2").json()
    assert ids(first) == refunded[:2]
    assert ids(pos.get(first["next"]).json()) == refunded[2:]


@pytest.mark.parametrize("query", ["purchase=x", "patient=1.5", "since=tomorrow", "refund_id=" + "R" * 101])
def test_a_malformed_refund_filter_is_a_400_naming_it(pos, alpha, query):
    response = pos.get(f"{REFUNDS}?{query}")
    assert response.status_code == 400
    assert list(error(response)["fields"]) == [query.split("=")[0]]
