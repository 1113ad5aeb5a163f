"""Every staff write of the rewards is in the audit trail: rewards, their order, the voucher settings, and
vouchers used or cancelled at the desk."""

import pytest

from accounts.models import AuditEvent
from loyalty.models import LedgerEntry
from loyalty.services import post_points
from practices import audit
from rewards import staff_services
from rewards.models import Redemption, Reward
from rewards.services import redeem_reward, reward_settings
from tests.factories import PatientFactory, RewardFactory, StaffMemberFactory


@pytest.fixture
def manager(alpha):
    return StaffMemberFactory(role="manager").user


def entry(action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=action)


def reward_values(**changes) -> dict:
    values = {
        "name": "$50 credit",
        "description": "",
        "kind": Reward.Kind.CREDIT,
        "credit_cents": 5_000,
        "percent_off": None,
        "item": None,
        "points_cost": 500,
        "min_tier": None,
        "starts_at": None,
        "ends_at": None,
        "stock": None,
        "per_patient_limit": None,
        "limit_period": Reward.LimitPeriod.YEAR,
        "is_active": True,
    }
    return {**values, **changes}


def voucher() -> Redemption:
    patient = PatientFactory()
    post_points(account_id=patient.points_account.pk, delta=1_000, kind=LedgerEntry.Kind.BONUS)
    return redeem_reward(patient=patient, reward=RewardFactory(name="Facial", points_cost=400))


def test_a_reward_is_recorded_when_created_and_edited(manager):
    reward = staff_services.save_reward(reward=None, actor=manager, **reward_values())
    edited = Reward.objects.get(pk=reward.pk)
    edited.points_cost = 1  # a form bound to the reward changes it before the service runs

    staff_services.save_reward(reward=edited, actor=manager, **reward_values(points_cost=450, stock=10))

    created, updated = entry("reward.created"), entry("reward.updated")
    assert (created.target_label, created.after["points_cost"], created.after["credit_cents"]) == (
        "$50 credit",
        500,
        5_000,
    )
    assert (updated.before, updated.after) == ({"points_cost": 500, "stock": None}, {"points_cost": 450, "stock": 10})


def test_switching_moving_and_deleting_a_reward_are_recorded(manager):
    first, second = RewardFactory(display_order=0), RewardFactory(display_order=1)

    staff_services.set_reward_active(reward=second, is_active=False, actor=manager)
    staff_services.move_reward(reward=second, direction="up", actor=manager)
    staff_services.remove_reward(reward=first, actor=manager)

    off = entry("reward.switched_off")
    assert (off.target_id, off.before, off.after) == (str(second.pk), {"is_active": True}, {"is_active": False})
    moved = entry("reward.moved")
    assert (moved.target_id, moved.before, moved.after) == (str(second.pk), {"position": 2}, {"position": 1})
    deleted = entry("reward.deleted")
    assert (deleted.target_id, deleted.before["name"]) == (str(first.pk), first.name)


def test_removing_a_redeemed_reward_is_recorded_as_switched_off(manager):
    reward = voucher().reward

    assert staff_services.remove_reward(reward=reward, actor=manager) is False

    assert entry("reward.switched_off").target_id == str(reward.pk)


def test_voucher_settings_are_recorded_and_refused_without_an_actor(manager):
    row = reward_settings()
    old_days = row.voucher_valid_days

    with pytest.raises(audit.ActorRequired):
        staff_services.update_reward_settings(voucher_valid_days=old_days + 1, refund_expired_vouchers=True, actor=None)
    staff_services.update_reward_settings(
        voucher_valid_days=old_days + 30, refund_expired_vouchers=row.refund_expired_vouchers, actor=manager
    )

    event = entry("reward_settings.updated")
    assert (event.before, event.after) == ({"voucher_valid_days": old_days}, {"voucher_valid_days": old_days + 30})


def test_a_voucher_used_at_the_desk_is_recorded_once(manager):
    issued = voucher()

    staff_services.use_voucher_by_staff(code=issued.voucher_code, actor=manager)
    staff_services.use_voucher_by_staff(code=issued.voucher_code, actor=manager)  # already used: nothing new

    event = entry("voucher.used")
    assert (event.actor, event.target_id, event.before, event.after) == (
        manager,
        str(issued.pk),
        {"status": "issued"},
        {"status": "used"},
    )


def test_a_voucher_cancelled_by_staff_is_recorded_with_the_points_returned(manager):
    issued = voucher()

    staff_services.cancel_voucher_by_staff(voucher=issued, actor=manager)

    event = entry("voucher.cancelled")
    assert event.after == {"status": "cancelled", "points_returned": 400}


def test_a_voucher_is_not_used_without_an_actor(alpha):
    issued = voucher()

    with pytest.raises(audit.ActorRequired):
        staff_services.use_voucher_by_staff(code=issued.voucher_code, actor=None)

    issued.refresh_from_db()
    assert issued.status == Redemption.Status.ISSUED
