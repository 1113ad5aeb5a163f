"""Referrals a lost task left half-way are finished by the five-minute sweep, once."""

from datetime import timedelta

import pytest
import time_machine
from django.db import DatabaseError
from django.utils import timezone

from loyalty.models import PointsAccount, Purchase
from practices.models import BackgroundTask
from referrals import services
from referrals.models import Referral, ReferralReward
from tests.referrals.test_referrals import buy, friend, referral_points

pytestmark = pytest.mark.usefixtures("program")


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def referral(jane_code):
    return services.record_signup(patient=friend(), code=jane_code.code, source="link")


def lose_queued_tasks() -> None:
    """What a worker killed with tasks in hand, or a broker that lost them, leaves: no task rows behind the
    referral's state (as for purchases recorded before tasks were written with them)."""
    BackgroundTask.objects.all().delete()


def later(minutes: int):
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


def test_a_referral_left_qualified_is_rewarded_once_by_the_sweep(referral, jane, commit):
    purchase = buy(referral.referred, 15_000)  # the qualification is queued, not run: nothing commits here
    services.qualify(purchase_id=purchase.pk)
    lose_queued_tasks()
    referral.refresh_from_db()
    assert referral.status == Referral.Status.QUALIFIED

    assert services.redrive_stuck_referrals() == 0  # too soon: the usual path may still be on its way
    with later(6), commit():
        assert services.redrive_stuck_referrals() == 1

    referral.refresh_from_db()
    assert referral.status == Referral.Status.REWARDED
    assert referral_points(jane) == 500
    assert referral_points(referral.referred) == 250
    with later(12), commit():
        assert services.redrive_stuck_referrals() == 0
    assert ReferralReward.objects.filter(referral=referral).count() == 2


def test_a_referral_left_pending_after_a_qualifying_purchase_is_qualified_by_the_sweep(referral, jane, commit):
    buy(referral.referred, 4_000)  # below the minimum: never qualifies
    buy(referral.referred, 12_000)
    lose_queued_tasks()

    with later(6), commit():
        assert services.redrive_stuck_referrals() == 1

    referral.refresh_from_db()
    assert referral.status == Referral.Status.REWARDED
    assert referral.qualifying_purchase.total_cents == 12_000
    assert referral_points(jane) == 500


def test_a_purchase_whose_qualification_ran_is_not_queued_again(referral, commit):
    buy(referral.referred, 4_000)  # its qualification task is recorded (and finds it below the minimum)
    with later(6), commit():
        assert services.redrive_stuck_referrals() == 0


def test_the_qualification_task_is_written_with_the_purchase(referral):
    purchase = buy(referral.referred, 12_000)
    task = BackgroundTask.objects.get(key=f"qualify:{purchase.pk}")
    assert (task.func, task.args, task.status) == ("referrals.tasks.qualify", [purchase.pk], "pending")


def test_a_purchase_whose_follow_up_cannot_be_written_is_not_recorded_either(referral, monkeypatch):
    """Both or neither: the qualification task is written in the purchase's transaction."""

    def database_refuses(*args, **kwargs):
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr(BackgroundTask.objects, "create", database_refuses)
    with pytest.raises(DatabaseError):
        buy(referral.referred, 12_000)
    assert not Purchase.objects.filter(patient=referral.referred).exists()
    assert not PointsAccount.objects.filter(patient=referral.referred, balance__gt=0).exists()


def test_a_rewards_task_given_up_on_is_left_for_an_operator_not_retried_by_every_sweep(referral, commit):
    purchase = buy(referral.referred, 15_000)
    services.qualify(purchase_id=purchase.pk)
    BackgroundTask.objects.filter(func="referrals.tasks.issue_rewards").update(status=BackgroundTask.Status.FAILED)

    with later(6), commit():
        assert services.redrive_stuck_referrals() == 0

    task = BackgroundTask.objects.get(func="referrals.tasks.issue_rewards")
    assert task.status == BackgroundTask.Status.FAILED
