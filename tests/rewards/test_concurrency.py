"""Real threads against the real database: redemptions and voucher uses that race stay correct.

Run in a throwaway practice, for the reasons given in tests/throwaway.py (these tests commit, and
the flush after each must empty that practice's tables, never public's or alpha's).
"""

import pytest
from rest_framework.test import APIClient

from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import post_points
from rewards.errors import OutOfStock
from rewards.models import Redemption, Reward
from rewards.services import redeem_reward, redeem_reward_once, use_voucher
from rewards.submit_once import new_token
from tests.conftest import host_of
from tests.factories import PatientFactory, RewardFactory
from tests.loyalty.test_concurrency import race
from tests.throwaway import entered, kinds, throwaway_practice


@pytest.fixture(scope="module")
def throwaway(django_db_setup, django_db_blocker):
    yield from throwaway_practice(django_db_blocker, prefix="conc", name="Concurrency")


@pytest.fixture
def practice(throwaway):
    yield from entered(throwaway)


def patient_with(points: int):
    patient = PatientFactory()
    post_points(account_id=patient.points_account.pk, delta=points, kind=LedgerEntry.Kind.BONUS)
    return patient


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_redemptions_with_points_for_one_make_one_voucher(practice):
    patient = patient_with(500)
    reward = RewardFactory(points_cost=400)

    results = race(practice, lambda i: redeem_reward(patient=patient, reward=reward))

    assert kinds(results) == {"Redemption": 1, "InsufficientPoints": 19}
    assert Redemption.objects.filter(patient=patient).count() == 1
    assert PointsAccount.objects.get(patient=patient).balance == 100
    assert not LedgerEntry.objects.filter(balance_after__lt=0).exists()


@pytest.mark.django_db(transaction=True)
def test_one_redeem_form_sent_five_times_at_once_issues_one_voucher(practice):
    patient = patient_with(2_000)
    reward = RewardFactory(points_cost=300)
    token = new_token()

    results = race(practice, lambda i: redeem_reward(patient=patient, reward=reward, form_token=token), count=5)

    assert kinds(results) == {"Redemption": 5}
    assert len({result.pk for result in results}) == 1
    assert Redemption.objects.filter(patient=patient).count() == 1
    assert PointsAccount.objects.get(patient=patient).balance == 1_700


@pytest.mark.django_db(transaction=True)
def test_the_last_one_in_stock_goes_to_one_of_two_patients(practice):
    patients = [patient_with(500), patient_with(500)]
    reward = RewardFactory(points_cost=100, stock=1)

    results = race(practice, lambda i: redeem_reward(patient=patients[i], reward=reward), count=2)

    assert kinds(results) == {"Redemption": 1, "OutOfStock": 1}
    assert any(isinstance(result, OutOfStock) for result in results)
    assert Reward.objects.get(pk=reward.pk).stock == 0
    assert Redemption.objects.count() == 1
    assert sorted(PointsAccount.objects.values_list("balance", flat=True)) == [400, 500]


@pytest.mark.django_db(transaction=True)
def test_a_voucher_used_at_the_desk_and_the_pos_at_once_is_used_once(practice):
    voucher = redeem_reward(patient=patient_with(500), reward=RewardFactory(points_cost=100))

    results = race(practice, lambda i: use_voucher(code=voucher.voucher_code, via="desk" if i % 2 else "pos"), count=6)

    assert kinds(results) == {"tuple": 6}
    assert [used_now for _, used_now in results].count(True) == 1
    voucher.refresh_from_db()
    assert voucher.status == Redemption.Status.USED
    assert {(redemption.used_at, redemption.used_via) for redemption, _ in results} == {
        (voucher.used_at, voucher.used_via)
    }


@pytest.mark.django_db(transaction=True)
def test_one_idempotency_key_sent_five_times_at_once_issues_one_voucher(practice):
    patient = patient_with(2_000)
    reward = RewardFactory(points_cost=300)

    results = race(
        practice, lambda i: redeem_reward_once(patient=patient, reward=reward, idempotency_key="K-1"), count=5
    )

    assert kinds(results) == {"tuple": 5}
    assert len({voucher.pk for voucher, _ in results}) == 1
    assert sorted(issued_now for _, issued_now in results) == [False, False, False, False, True]
    assert Redemption.objects.filter(patient=patient).count() == 1
    assert PointsAccount.objects.get(patient=patient).balance == 1_700


@pytest.mark.django_db(transaction=True)
def test_two_redeem_calls_with_one_key_at_once_answer_201_and_200_with_one_voucher(practice):
    patient = patient_with(2_000)
    reward = RewardFactory(points_cost=300)
    clients = [APIClient(HTTP_HOST=host_of(practice.slug)) for _ in range(2)]
    for client in clients:
        client.force_login(patient.user)

    responses = race(
        practice,
        lambda i: clients[i].post(f"/api/v1/rewards/{reward.pk}/redeem", HTTP_IDEMPOTENCY_KEY="K-2"),
        count=2,
    )

    assert sorted(response.status_code for response in responses) == [200, 201]
    assert responses[0].json() == responses[1].json()
    assert Redemption.objects.filter(patient=patient).count() == 1
    assert PointsAccount.objects.get(patient=patient).balance == 1_700
