"""The patient rewards API: rewards with reasons, redeeming, and the patient's vouchers."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import post_points
from rewards.models import Redemption
from rewards.services import redeem_reward
from tests.conftest import host_of
from tests.factories import PatientFactory, RewardFactory, StaffMemberFactory, TierFactory


@pytest.fixture
def api(alpha):
    return APIClient(HTTP_HOST=host_of("alpha"))


@pytest.fixture
def patient(api):
    patient = PatientFactory(terms_accepted_at=timezone.now())
    post_points(account_id=patient.points_account.pk, delta=1000, kind=LedgerEntry.Kind.BONUS)
    api.force_login(patient.user)
    return patient


def balance(patient) -> int:
    return PointsAccount.objects.get(patient=patient).balance


def test_it_lists_rewards_redeemable_first_with_reasons(api, patient):
    gold = TierFactory(name="Gold")
    RewardFactory(name="Peel", points_cost=1450)
    RewardFactory(name="Credit", points_cost=600)
    RewardFactory(name="VIP", points_cost=100, min_tier=gold)
    RewardFactory(name="Gone", points_cost=100, stock=0)

    body = api.get("/api/v1/rewards").json()

    assert (body["count"], body["next"], body["previous"]) == (4, None, None)
    assert [
        (r["name"], r["can_redeem"], r["reason_code"], r["reason"], r["points_needed"]) for r in body["results"]
    ] == [
        ("Credit", True, "", "", 0),
        ("Peel", False, "insufficient_points", "450 more points", 450),
        ("Gone", False, "out_of_stock", "Out of stock", 0),
        ("VIP", False, "tier_required", "For Gold members", 0),
    ]


def test_a_reward_for_a_tier_the_patient_has_is_redeemable(api, patient):
    gold = TierFactory(name="Gold", threshold_points=500)
    PointsAccount.objects.filter(patient=patient).update(tier=TierFactory(name="Platinum", threshold_points=2000))
    RewardFactory(name="VIP", points_cost=100, min_tier=gold)
    assert api.get("/api/v1/rewards").json()["results"][0]["can_redeem"] is True


def test_the_yearly_limit_is_a_reason(api, patient):
    reward = RewardFactory(points_cost=100, per_patient_limit=1)
    redeem_reward(patient=patient, reward=reward)
    [row] = api.get("/api/v1/rewards").json()["results"]
    assert (row["can_redeem"], row["reason_code"]) == (False, "limit_reached")


def test_the_list_takes_a_constant_number_of_queries(api, patient, django_assert_max_num_queries):
    for _ in range(5):
        RewardFactory(min_tier=TierFactory(), per_patient_limit=2)
    # 4 of them count the request against the patient's limit in the database cache (none with Redis).
    with django_assert_max_num_queries(12 + 4):
        assert len(api.get("/api/v1/rewards").json()["results"]) == 5


def test_rewards_come_in_pages_in_the_same_order(api, patient):
    for cost in (900, 100, 1500, 300, 2000):
        RewardFactory(name=f"Costs {cost}", points_cost=cost)
    everything = [row["name"] for row in api.get("/api/v1/rewards").json()["results"]]

    first = api.get("/api/v1/rewards?page_size=2").json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    assert first["count"] == 5 and third["next"] is None
    assert [row["name"] for page in (first, second, third) for row in page["results"]] == everything
    assert everything[:3] == ["Costs 100", "Costs 300", "Costs 900"]  # redeemable first


def test_redeeming_answers_201_with_the_voucher(api, patient):
    reward = RewardFactory(points_cost=600, credit_cents=5_000)
    response = api.post(f"/api/v1/rewards/{reward.pk}/redeem")
    assert response.status_code == 201
    body = response.json()
    voucher = Redemption.objects.get(patient=patient)
    assert (body["id"], body["code"], body["status"]) == (voucher.pk, voucher.voucher_code, "issued")
    assert body["value"] == "$50.00 credit" and body["qr_svg"].startswith("<svg")
    assert balance(patient) == 400


def test_redeeming_without_enough_points_is_409_saying_how_many_more(api, patient):
    reward = RewardFactory(points_cost=1200)
    response = api.post(f"/api/v1/rewards/{reward.pk}/redeem")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "insufficient_points"
    assert "200 more needed" in error["message"]
    assert not Redemption.objects.exists()


def test_redeeming_an_unknown_reward_is_404(api, patient):
    assert api.post("/api/v1/rewards/999999/redeem").json()["error"]["code"] == "not_found"


def test_vouchers_are_paginated_ready_first(api, patient):
    old = redeem_reward(patient=patient, reward=RewardFactory(points_cost=100))
    Redemption.objects.filter(pk=old.pk).update(status=Redemption.Status.USED)
    new = redeem_reward(patient=patient, reward=RewardFactory(points_cost=100))
    post_points(account_id=PatientFactory().points_account.pk, delta=100, kind=LedgerEntry.Kind.BONUS)

    body = api.get("/api/v1/me/vouchers").json()

    assert body["count"] == 2
    assert [(row["code"], row["status"]) for row in body["results"]] == [
        (new.voucher_code, "issued"),
        (old.voucher_code, "used"),
    ]


def test_a_voucher_has_its_qr_code(api, patient):
    voucher = redeem_reward(patient=patient, reward=RewardFactory())
    body = api.get(f"/api/v1/me/vouchers/{voucher.pk}").json()
    assert body["code"] == voucher.voucher_code and body["is_usable"] is True
    assert f"QR code of voucher {voucher.voucher_code}" in body["qr_svg"]


def test_cancelling_a_voucher_returns_the_points(api, patient):
    voucher = redeem_reward(patient=patient, reward=RewardFactory(points_cost=300))
    response = api.post(f"/api/v1/me/vouchers/{voucher.pk}/cancel")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["points_returned"]) == ("cancelled", 300)
    assert balance(patient) == 1000
    again = api.post(f"/api/v1/me/vouchers/{voucher.pk}/cancel")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "voucher_not_cancellable")


def test_another_patients_voucher_is_404(api, patient):
    other = PatientFactory()
    post_points(account_id=other.points_account.pk, delta=500, kind=LedgerEntry.Kind.BONUS)
    voucher = redeem_reward(patient=other, reward=RewardFactory())
    assert api.get(f"/api/v1/me/vouchers/{voucher.pk}").status_code == 404
    assert api.post(f"/api/v1/me/vouchers/{voucher.pk}/cancel").status_code == 404
    assert api.get("/api/v1/me/vouchers").json()["count"] == 0
    assert Redemption.objects.get(pk=voucher.pk).status == Redemption.Status.ISSUED


def test_staff_accounts_are_refused(api, alpha):
    api.force_login(StaffMemberFactory(role="owner").user)
    reward = RewardFactory()
    for response in (
        api.get("/api/v1/rewards"),
        api.post(f"/api/v1/rewards/{reward.pk}/redeem"),
        api.get("/api/v1/me/vouchers"),
    ):
        assert response.status_code == 403
    assert not Redemption.objects.exists()


def test_visitors_are_refused(api, alpha):
    reward = RewardFactory()
    assert api.get("/api/v1/rewards").status_code in (401, 403)
    assert api.post(f"/api/v1/rewards/{reward.pk}/redeem").status_code in (401, 403)
    assert api.get("/api/v1/me/vouchers").status_code in (401, 403)


def test_the_openapi_schema_describes_the_rewards_endpoints(alpha_client, alpha):
    schema = alpha_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths, components = schema["paths"], schema["components"]["schemas"]
    assert "get" in paths["/api/v1/rewards"]
    assert {"count", "next", "results"} <= set(components["PaginatedRewardOutList"]["properties"])
    assert "201" in paths["/api/v1/rewards/{reward_id}/redeem"]["post"]["responses"]
    assert "get" in paths["/api/v1/me/vouchers/{voucher_id}"]
    assert "post" in paths["/api/v1/pos/vouchers/{code}/use"]
    assert "qr_svg" in components["VoucherDetailOut"]["properties"]
    assert "used_now" in components["PosVoucherUseOut"]["properties"]
    assert {"count", "results"} <= set(components["PaginatedVoucherOutList"]["properties"])
