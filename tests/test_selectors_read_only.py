"""Selectors only read: the staff dashboard's, the patient home's and the rewards pages' reads all run in a
transaction PostgreSQL keeps read-only, where any INSERT, UPDATE or DELETE fails.

The settings rows are removed first (in the test's transaction), and one patient has no points account: a read
that created what is missing, instead of falling back to the defaults, would fail here.
"""

from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from analytics import desk, rollups
from analytics import selectors as analytics_selectors
from analytics.models import EarnerRanking
from analytics.periods import preset_period
from loyalty.errors import InsufficientPoints
from loyalty.models import LedgerEntry, PointsAccount, ProgramSettings
from loyalty.panels import home_panel_context as points_panel
from loyalty.services import post_points
from practices import audit_selectors
from practices.models import StaffMember
from referrals import selectors as referral_selectors
from referrals import staff_selectors as referral_staff_selectors
from referrals.codes import code_for_patient
from referrals.models import ReferralSettings
from referrals.services import record_signup
from rewards import selectors as reward_selectors
from rewards import staff_selectors as reward_staff_selectors
from rewards.models import Redemption, RewardSettings
from rewards.services import redeem_reward
from tests.factories import PatientFactory, RewardFactory


class _Done(Exception):
    pass


@contextmanager
def read_only():
    """A savepoint in which the transaction is read-only; rolled back after, so the test can go on writing."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION READ ONLY")
            yield
            raise _Done
    except _Done:
        pass


def test_a_write_fails_inside_read_only_and_works_after_it(alpha):
    with read_only(), pytest.raises(DatabaseError, match="read-only transaction"), transaction.atomic():
        RewardFactory()
    assert RewardFactory().pk is not None


@pytest.fixture
def world(alpha):
    """A practice with points, a voucher, a referral, audit entries, and nothing stored that a read could create."""
    member, friend, newcomer = PatientFactory(), PatientFactory(), PatientFactory()
    PointsAccount.objects.filter(patient=newcomer).delete()  # every patient has one; a read must not need it
    post_points(account_id=member.points_account.pk, delta=1_200, kind=LedgerEntry.Kind.BONUS)
    reward = RewardFactory(points_cost=500)
    RewardFactory(points_cost=5_000, per_patient_limit=1)
    owner = StaffMember.objects.filter(role=StaffMember.Role.OWNER).select_related("user").first()
    voucher = redeem_reward(patient=member, reward=reward, actor=owner.user)
    # What the patient's pages (a write, before the reads) and joining do.
    code = code_for_patient(member)
    code_for_patient(newcomer)
    record_signup(patient=friend, code=code.code)
    # Writes may have created the settings rows; the reads below must do without them.
    ReferralSettings.objects.all().delete()
    RewardSettings.objects.all().delete()
    ProgramSettings.objects.all().delete()
    return {
        "member": member,
        "newcomer": newcomer,
        "reward": reward,
        "voucher": voucher,
        "owner": owner,
        "practice": alpha,
    }


def test_the_staff_dashboard_and_desk_only_read(world):
    now = timezone.now()
    zone = timezone.get_current_timezone()
    period = preset_period("30d", today=timezone.localdate(now), zone=zone)
    rollups.build(now=now)  # the past days come from the rollups, and their top earners from a ranking
    assert not EarnerRanking.objects.exists()
    with read_only():
        figures = analytics_selectors.dashboard(period, with_money=True)
        desk.find_patients(world["member"].user.first_name, now=now)
        desk.new_members(day=timezone.localdate(now), zone=zone)
        desk.birthdays(day=timezone.localdate(now))
        desk.ready_vouchers(now=now)
        list(analytics_selectors.at_risk_accounts(now=now))
    assert [row["patient_id"] for row in figures["top_earners"]] == [world["member"].pk]
    assert figures["liability"]["points"] == 1_200 - 500
    assert figures["rolled_through"] is not None


def test_the_patient_home_only_reads(world):
    for patient in (world["member"], world["newcomer"]):
        with read_only():
            panel = points_panel(None, patient)
            summary = referral_selectors.patient_referral_summary(patient=patient)
            referral_selectors.shareable_code(patient=patient)
            list(referral_selectors.patient_referrals(patient=patient))
            referral_selectors.share_link(code=summary.code.code)
        assert summary.program.enabled == ReferralSettings().enabled  # the defaults, not a stored row
    assert panel["summary"].balance == 0  # the newcomer, with no account


def test_the_rewards_pages_only_read(world):
    member, newcomer, reward = world["member"], world["newcomer"], world["reward"]
    for patient in (member, newcomer):
        with read_only():
            overview = reward_selectors.rewards_overview(patient=patient)
            reward_selectors.reward_for(patient=patient, reward_id=reward.pk)
            list(reward_selectors.patient_vouchers(patient=patient))
            reward_selectors.redeemed_with_form(patient=patient, token="a-token")
            if patient == member:
                assert reward_staff_selectors.redeem_preview(patient=patient, reward=reward).balance_after == 200
            else:
                with pytest.raises(InsufficientPoints):  # what the redemption itself would say
                    reward_staff_selectors.redeem_preview(patient=patient, reward=reward)
        assert overview.balance == (700 if patient == member else 0)
    with read_only():
        list(reward_staff_selectors.rewards_with_counts())
        reward_staff_selectors.has_redemptions(reward=reward)
        assert list(reward_staff_selectors.desk_vouchers()) == [world["voucher"]]
        assert reward_selectors.points_account(patient=newcomer).pk is None
    assert Redemption.objects.count() == 1


def test_the_staff_referral_and_audit_pages_only_read(world):
    with read_only():
        list(referral_staff_selectors.referral_log())
        referral_staff_selectors.patient_referrals(patient=world["member"], practice=world["practice"])
        list(audit_selectors.trail())
