import pytest

from loyalty.errors import InsufficientPoints
from loyalty.models import LedgerEntry
from loyalty.services import post_points
from rewards.errors import OutOfStock, VoucherNotCancellable
from rewards.models import VOUCHER_ALPHABET, Redemption
from rewards.services import cancel_redemption, expire_vouchers, redeem_reward, use_voucher
from tests.factories import PatientFactory, RewardFactory


@pytest.fixture
def patient(alpha):
    patient = PatientFactory()
    post_points(account_id=patient.points_account.pk, delta=1000, kind=LedgerEntry.Kind.BONUS)
    return patient


def balance(patient) -> int:
    patient.points_account.refresh_from_db()
    return patient.points_account.balance


def test_redeeming_takes_the_points_and_issues_a_voucher(patient):
    redemption = redeem_reward(patient=patient, reward=RewardFactory(points_cost=600))
    assert balance(patient) == 400
    assert redemption.status == Redemption.Status.ISSUED
    assert len(redemption.voucher_code) == 8 and set(redemption.voucher_code) <= set(VOUCHER_ALPHABET)
    entry = LedgerEntry.objects.get(source_type="rewards.redemption", source_id=redemption.pk)
    assert (entry.kind, entry.delta) == ("redemption", -600)


def test_not_enough_points_says_how_many_more(patient):
    with pytest.raises(InsufficientPoints, match="200 more needed"):
        redeem_reward(patient=patient, reward=RewardFactory(points_cost=1200))
    assert balance(patient) == 1000


def test_stock_runs_out(patient):
    reward = RewardFactory(points_cost=100, stock=1)
    redeem_reward(patient=patient, reward=reward)
    with pytest.raises(OutOfStock):
        redeem_reward(patient=patient, reward=reward)


def test_a_voucher_is_used_once_and_the_second_use_says_when(patient):
    redemption = redeem_reward(patient=patient, reward=RewardFactory())
    used, now = use_voucher(code=redemption.voucher_code.lower())
    again, now_again = use_voucher(code=redemption.voucher_code)
    assert now and not now_again
    assert again.used_at == used.used_at


def test_cancelling_returns_points_once(patient):
    redemption = redeem_reward(patient=patient, reward=RewardFactory(points_cost=300, stock=5))
    cancel_redemption(redemption=redemption)
    assert balance(patient) == 1000
    with pytest.raises(VoucherNotCancellable):
        cancel_redemption(redemption=redemption)
    assert balance(patient) == 1000
    redemption.reward.refresh_from_db()
    assert redemption.reward.stock == 5


def test_expiry_returns_points_once_even_if_run_twice(patient):
    import time_machine
    from django.utils import timezone

    redemption = redeem_reward(patient=patient, reward=RewardFactory(points_cost=300))
    with time_machine.travel(redemption.expires_at + timezone.timedelta(minutes=1)):
        assert expire_vouchers() == 1
        assert expire_vouchers() == 0
    redemption.refresh_from_db()
    assert redemption.status == Redemption.Status.EXPIRED
    assert balance(patient) == 1000
