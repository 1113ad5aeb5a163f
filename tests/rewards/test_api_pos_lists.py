"""The POS lists vouchers: GET /api/v1/pos/vouchers?patient=&status=&since=."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from loyalty.models import CatalogItem, LedgerEntry
from loyalty.services import post_points
from rewards.models import Redemption, Reward
from rewards.services import grant_voucher, redeem_reward, use_voucher
from tests.factories import CatalogItemFactory, PatientFactory, RewardFactory
from tests.loyalty.pos_helpers import new_key, pos_client

VOUCHERS = "/api/v1/pos/vouchers"


@pytest.fixture
def pos(alpha):
    return pos_client("alpha", new_key())


def rich_patient(**fields):
    patient = PatientFactory(**fields)
    post_points(account_id=patient.points_account.pk, delta=5_000, kind=LedgerEntry.Kind.BONUS)
    return patient


def ids(body: dict) -> list[int]:
    return [row["id"] for row in body["results"]]


def test_each_voucher_says_what_a_pos_needs(pos, alpha):
    patient = rich_patient()
    voucher = redeem_reward(patient=patient, reward=RewardFactory(name="Facial credit", credit_cents=5_000))
    used, _ = use_voucher(code=redeem_reward(patient=patient, reward=RewardFactory(name="Peel")).voucher_code)

    body = pos.get(VOUCHERS).json()

    assert body["next"] is None
    first, second = body["results"]
    assert first == {
        "id": voucher.pk,
        "code": voucher.voucher_code,
        "patient_id": patient.pk,
        "reward_id": voucher.reward_id,
        "reward_name": "Facial credit",
        "value": "$50.00 credit",
        "points_cost": 500,
        "status": "issued",
        "is_usable": True,
        "created_at": first["created_at"],
        "expires_at": first["expires_at"],
        "used_at": None,
    }
    assert first["expires_at"] == pos.get(f"{VOUCHERS}/{voucher.voucher_code}").json()["expires_at"]
    assert (second["id"], second["status"], second["is_usable"]) == (used.pk, "used", False)
    assert second["used_at"] is not None


def test_the_filters_narrow_the_list(pos, alpha):
    ada, bob = rich_patient(), rich_patient()
    reward = RewardFactory(points_cost=100)
    ada_issued = redeem_reward(patient=ada, reward=reward)
    ada_used, _ = use_voucher(code=redeem_reward(patient=ada, reward=reward).voucher_code)
    bob_issued = redeem_reward(patient=bob, reward=reward)

    assert ids(pos.get(f"{VOUCHERS}?patient={ada.pk}").json()) == [ada_issued.pk, ada_used.pk]
    assert ids(pos.get(f"{VOUCHERS}?status=issued").json()) == [ada_issued.pk, bob_issued.pk]
    assert ids(pos.get(f"{VOUCHERS}?status=used&patient={ada.pk}").json()) == [ada_used.pk]
    assert ids(pos.get(f"{VOUCHERS}?status=cancelled").json()) == []


def test_since_is_when_the_voucher_was_issued(pos, alpha):
    patient = rich_patient()
    reward = RewardFactory(points_cost=100)
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        old = redeem_reward(patient=patient, reward=reward)
    new = redeem_reward(patient=patient, reward=reward)
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()

    assert ids(pos.get(VOUCHERS, {"since": yesterday}).json()) == [new.pk]
    assert ids(pos.get(VOUCHERS, {"since": old.created_at.isoformat()}).json()) == [old.pk, new.pk]


def test_a_gift_and_a_free_item_show_their_value(pos, alpha):
    patient = rich_patient()
    gift = grant_voucher(patient=patient, kind=Reward.Kind.PERCENT, percent_off=10, name="Referral thank-you")
    item = CatalogItemFactory(name="Lip balm", kind=CatalogItem.Kind.PRODUCT)
    free = redeem_reward(
        patient=patient, reward=RewardFactory(kind=Reward.Kind.FREE_ITEM, credit_cents=None, item=item)
    )

    rows = {row["id"]: row for row in pos.get(VOUCHERS).json()["results"]}

    assert (rows[gift.pk]["value"], rows[gift.pk]["points_cost"]) == ("10% off", 0)
    assert rows[free.pk]["value"] == "Free Lip balm"


def test_a_voucher_past_its_expiry_is_not_usable(pos, alpha):
    voucher = redeem_reward(patient=rich_patient(), reward=RewardFactory(points_cost=100))
    Redemption.objects.filter(pk=voucher.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    [row] = pos.get(VOUCHERS).json()["results"]
    assert (row["status"], row["is_usable"]) == ("issued", False)


def test_vouchers_come_in_pages_oldest_first(pos, alpha):
    patient = rich_patient()
    reward = RewardFactory(points_cost=100)
    issued = [redeem_reward(patient=patient, reward=reward).pk for _ in range(3)]

    first = pos.get(f"{VOUCHERS}?page_size=2").json()
    assert ids(first) == issued[:2]
    assert ids(pos.get(first["next"]).json()) == issued[2:]


def test_a_page_costs_the_same_queries_whatever_its_size(pos, alpha):
    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert pos.get(VOUCHERS).status_code == 200
        return len(queries)

    patient = rich_patient()
    redeem_reward(patient=patient, reward=RewardFactory(points_cost=100))
    queries_for_page()  # the key's first use of the minute notes it (practices.api_keys)
    one = queries_for_page()
    for _ in range(6):
        item = CatalogItemFactory()
        redeem_reward(
            patient=patient,
            reward=RewardFactory(points_cost=100, kind=Reward.Kind.FREE_ITEM, credit_cents=None, item=item),
        )
    assert queries_for_page() == one


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=ready", "status"),
        ("status=ISSUED", "status"),
        ("patient=me", "patient"),
        ("patient=0", "patient"),
        ("since=soon", "since"),
        ("since=2026-02-30T10:00", "since"),
    ],
)
def test_a_malformed_filter_is_a_400_naming_it(pos, alpha, query, field):
    response = pos.get(f"{VOUCHERS}?{query}")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_it_needs_this_practices_key_and_lists_only_its_vouchers(alpha, beta):
    redeem_reward(patient=rich_patient(), reward=RewardFactory(points_cost=100))
    assert pos_client("alpha").get(VOUCHERS).status_code == 401
    with tenant_context(beta):
        beta_key = new_key()
        assert pos_client("alpha", beta_key).get(VOUCHERS).status_code == 401
        assert pos_client("beta", beta_key).get(VOUCHERS).json()["results"] == []
