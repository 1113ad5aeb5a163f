"""The referral program's rules, through its services: recorded only at sign-up, rejected for the
listed reasons, qualified by the first purchase at or above the minimum, rewarded exactly once,
milestones, limits and clawback on refund."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import LineIn, record_purchase, refund_purchase
from patients.models import Activity, Notification, Patient
from patients.services import complete_join
from referrals import services
from referrals.codes import code_for_partner, code_for_patient, code_for_staff, name_part, new_code
from referrals.models import Milestone, Partner, Referral, ReferralCode, ReferralReward, RewardKind
from rewards.models import Redemption
from tests.factories import CatalogItemFactory, PatientFactory, StaffMemberFactory, UserFactory


def friend(**user):
    return PatientFactory(user__first_name=user.pop("first_name", "Sam"), user__last_name="Taylor", **user)


def buy(patient, cents: int, **options):
    item = CatalogItemFactory(price_cents=cents, category="Facials")
    purchase, _ = record_purchase(
        patient=patient, lines=[LineIn(quantity=1, unit_price_cents=cents, item=item)], source="desk", **options
    )
    return purchase


def balance(patient) -> int:
    return PointsAccount.objects.get(patient=patient).balance


def referral_points(patient) -> int:
    entries = LedgerEntry.objects.filter(account__patient=patient, kind=LedgerEntry.Kind.REFERRAL)
    return sum(entries.values_list("delta", flat=True))


def qualify_and_reward(purchase):
    referral = services.qualify(purchase_id=purchase.pk)
    if referral is not None:
        services.issue_rewards(referral_id=referral.pk)
    return referral


# ---------------------------------------------------------------- codes


def test_codes_are_short_readable_and_unique(alpha):
    assert name_part("Olivia") == "VA"  # no O, L or I: they read like 0 and 1
    assert name_part("Zoë") == "ZE"
    assert name_part("李") == "REF"
    code = new_code("Jane")
    assert code.startswith("JANE") and len(code) == 7
    assert not set(code) & set("0O1IL")
    codes = {code_for_patient(PatientFactory(user__first_name="Jane")).code for _ in range(30)}
    assert len(codes) == 30


def test_every_owner_kind_gets_one_code_that_does_not_change(alpha, jane):
    first = code_for_patient(jane)
    assert code_for_patient(jane) == first
    member = StaffMemberFactory(user__first_name="Fiona")
    assert ReferralCode.objects.get(staff=member).code.startswith("FNA")  # made with the staff account
    partner = Partner.objects.create(name="Bella Beauty Blog")
    assert code_for_partner(partner).owner_kind == ReferralCode.OwnerKind.PARTNER


def test_a_code_is_also_made_when_a_patient_joins(alpha, program):
    user = UserFactory(phone="+14155550199", email=None)
    with_signals = complete_join(
        user=user,
        first_name="Ana",
        last_name="Lee",
        email="",
        birthday=datetime(1990, 1, 2).date(),
        code="",
        arrived_from="qr",
        sms_consent=False,
        sms_consent_text="",
    )
    # complete_join announces the join on commit; the test transaction never commits, so run it.
    from referrals.receivers import on_patient_joined

    on_patient_joined(None, patient=with_signals, signup_code="", schema_name=connection.schema_name)
    assert ReferralCode.objects.filter(patient=with_signals).exists()
    assert not Referral.objects.filter(referred=with_signals).exists()


# ---------------------------------------------------------------- sign-up


def test_a_code_used_at_sign_up_makes_a_pending_referral(program, jane, jane_code):
    sam = friend()
    referral = services.record_signup(patient=sam, code=jane_code.code.lower(), source="qr")
    assert referral.status == Referral.Status.PENDING
    assert (referral.code, referral.source, referral.owner_kind) == (jane_code, "qr", "patient")
    assert Activity.objects.filter(patient=jane, kind=Activity.Kind.REFERRAL, summary__contains="Sam T.").exists()
    assert Notification.objects.filter(patient=jane, title__contains="Sam joined").exists()


def test_one_referral_per_referred_patient(program, jane_code):
    sam = friend()
    first = services.record_signup(patient=sam, code=jane_code.code)
    other = code_for_patient(PatientFactory())
    assert services.record_signup(patient=sam, code=other.code) == first
    assert Referral.objects.filter(referred=sam).count() == 1


def test_the_practice_invite_code_is_not_a_referral(program, alpha):
    assert services.record_signup(patient=friend(), code=alpha.invite_code) is None
    assert not Referral.objects.exists()


def test_a_referral_is_never_retroactive(program, jane_code):
    """Joining without a code and giving it later (finishing the profile again) attaches nothing."""
    sam = friend()
    assert sam.status == Patient.Status.ACTIVE
    complete_join(
        user=sam.user,
        first_name="Sam",
        last_name="Taylor",
        email="",
        birthday=datetime(1991, 5, 6).date(),
        code=jane_code.code,
        arrived_from="",
        sms_consent=False,
        sms_consent_text="",
    )
    sam.refresh_from_db()
    assert sam.signup_code == ""  # an existing member's sign-up code is never rewritten
    assert not Referral.objects.filter(referred=sam).exists()


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("unknown", Referral.Reason.UNKNOWN_CODE),
        ("disabled", Referral.Reason.DISABLED),
        ("inactive", Referral.Reason.INACTIVE_CODE),
        ("own_code", Referral.Reason.SELF_REFERRAL),
    ],
)
def test_rejected_referrals_keep_the_reason_and_tell_the_patient(program, jane, jane_code, setup, reason):
    patient, code = friend(), jane_code.code
    if setup == "unknown":
        code = "NOPE7K7"
    elif setup == "disabled":
        program.enabled = False
        program.save()
    elif setup == "inactive":
        services.set_code_active(code=jane_code, is_active=False)
    elif setup == "own_code":
        patient = jane
    referral = services.record_signup(patient=patient, code=code)
    assert (referral.status, referral.reason) == (Referral.Status.REJECTED, reason)
    assert referral.code_used == code
    message = Notification.objects.get(patient=patient, title="About the code you joined with")
    assert code in message.body and referral.get_reason_display().lower() in message.body


def test_a_partner_with_the_same_phone_cannot_refer_themselves(program):
    partner = Partner.objects.create(name="Glow Blog", phone="+14155550142")
    code = code_for_partner(partner)
    referral = services.record_signup(patient=friend(user__phone="+14155550142"), code=code.code)
    assert referral.reason == Referral.Reason.SELF_REFERRAL


def test_a_staff_member_cannot_refer_themselves_as_a_patient(program):
    member = StaffMemberFactory(user__phone="+14155550143")
    as_patient = PatientFactory(user=member.user)  # one person, one account: staff and patient
    referral = services.record_signup(patient=as_patient, code=code_for_staff(member).code)
    assert referral.reason == Referral.Reason.SELF_REFERRAL


def test_the_yearly_limit_counts_per_calendar_year_in_the_practice_time_zone(program, jane_code):
    program.yearly_limit = 2
    program.save()
    # alpha is in New York: 2026-12-31 23:30 there is already 2027 in UTC.
    with time_machine.travel(datetime(2026, 12, 31, 20, 0, tzinfo=UTC), tick=False):
        assert services.record_signup(patient=friend(), code=jane_code.code).status == Referral.Status.PENDING
        assert services.record_signup(patient=friend(), code=jane_code.code).status == Referral.Status.PENDING
    with time_machine.travel(datetime(2027, 1, 1, 4, 30, tzinfo=UTC), tick=False):  # 23:30 on 31 Dec local
        third = services.record_signup(patient=friend(), code=jane_code.code)
        assert (third.status, third.reason) == (Referral.Status.REJECTED, Referral.Reason.LIMIT_REACHED)
    with time_machine.travel(datetime(2027, 1, 1, 5, 30, tzinfo=UTC), tick=False):  # 00:30 on 1 Jan local
        assert services.record_signup(patient=friend(), code=jane_code.code).status == Referral.Status.PENDING


def test_rejected_referrals_do_not_count_toward_the_limit(program, jane, jane_code):
    program.yearly_limit = 1
    program.save()
    services.record_signup(patient=jane, code=jane_code.code)  # self-referral: rejected
    assert services.record_signup(patient=friend(), code=jane_code.code).status == Referral.Status.PENDING


# ---------------------------------------------------------------- qualification and rewards


def test_only_the_first_purchase_at_or_above_the_minimum_qualifies(program, jane, jane_code):
    sam = friend()
    referral = services.record_signup(patient=sam, code=jane_code.code)
    assert qualify_and_reward(buy(sam, 9_999)) is None
    referral.refresh_from_db()
    assert referral.status == Referral.Status.PENDING
    qualifying = buy(sam, 10_000)
    assert qualify_and_reward(qualifying) == referral
    referral.refresh_from_db()
    assert referral.status == Referral.Status.REWARDED
    assert referral.qualifying_purchase == qualifying
    assert qualify_and_reward(buy(sam, 50_000)) is None  # later purchases do nothing
    assert referral_points(jane) == 500
    assert referral_points(sam) == 250


def test_rewards_are_issued_once_when_the_task_runs_twice(program, jane, jane_code):
    sam = friend()
    referral = services.record_signup(patient=sam, code=jane_code.code)
    services.qualify(purchase_id=buy(sam, 20_000).pk)
    assert len(services.issue_rewards(referral_id=referral.pk)) == 2
    assert services.issue_rewards(referral_id=referral.pk) == []
    assert ReferralReward.objects.filter(referral=referral).count() == 2
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).count() == 2
    assert Activity.objects.filter(patient=jane, kind=Activity.Kind.REFERRAL_CREDITED).count() == 1
    assert Activity.objects.filter(patient=sam, kind=Activity.Kind.REFERRAL_CREDITED).count() == 1


def test_the_whole_chain_runs_from_the_purchase_signal_through_the_tasks(
    program, jane, jane_code, django_capture_on_commit_callbacks
):
    sam = friend()
    services.record_signup(patient=sam, code=jane_code.code, source="link")
    with django_capture_on_commit_callbacks(execute=True):
        buy(sam, 15_000)
    referral = Referral.objects.get(referred=sam)
    assert referral.status == Referral.Status.REWARDED
    assert balance(jane) == 500
    assert balance(sam) == 150 + 250  # the purchase's points and the welcome reward


def test_a_milestone_bonus_comes_with_the_right_qualified_referral(program, jane, jane_code):
    Milestone.objects.create(count=3, points=1_000)
    for n in range(4):
        sam = friend()
        services.record_signup(patient=sam, code=jane_code.code)
        qualify_and_reward(buy(sam, 10_000))
        milestones = ReferralReward.objects.filter(patient=jane, role=ReferralReward.Role.MILESTONE)
        assert milestones.count() == (1 if n >= 2 else 0)
    assert milestones.get().milestone_count == 3
    assert referral_points(jane) == 4 * 500 + 1_000


def test_credit_and_discount_rewards_are_gift_vouchers(program, jane, jane_code):
    program.referrer_reward_kind = RewardKind.CREDIT
    program.referrer_credit_cents = 5_000
    program.referee_reward_kind = RewardKind.PERCENT
    program.referee_percent_off = 20
    program.save()
    sam = friend()
    services.record_signup(patient=sam, code=jane_code.code)
    qualify_and_reward(buy(sam, 10_000))
    jane_voucher = Redemption.objects.get(patient=jane)
    sam_voucher = Redemption.objects.get(patient=sam)
    assert (jane_voucher.points_cost, jane_voucher.reward.credit_cents, jane_voucher.reward.is_gift) == (0, 5_000, True)
    assert sam_voucher.reward.percent_off == 20
    assert referral_points(jane) == 0


def test_staff_referrals_count_but_reward_the_new_patient_only_if_the_practice_says_so(program):
    member = StaffMemberFactory()
    code = code_for_staff(member)
    program.reward_staff_referrals = False
    program.save()
    sam = friend()
    referral = services.record_signup(patient=sam, code=code.code)
    qualify_and_reward(buy(sam, 10_000))
    referral.refresh_from_db()
    assert referral.status == Referral.Status.REWARDED
    assert referral_points(sam) == 0
    program.reward_staff_referrals = True
    program.save()
    ana = friend(first_name="Ana")
    services.record_signup(patient=ana, code=code.code)
    qualify_and_reward(buy(ana, 10_000))
    assert referral_points(ana) == 250


def test_a_partner_can_have_their_own_new_patient_reward(program):
    partner = Partner.objects.create(name="Glow Blog", referee_reward_kind=RewardKind.POINTS, referee_points=1_000)
    sam = friend()
    services.record_signup(patient=sam, code=code_for_partner(partner).code)
    qualify_and_reward(buy(sam, 10_000))
    assert referral_points(sam) == 1_000


# ---------------------------------------------------------------- clawback


def test_a_refund_of_the_qualifying_purchase_in_the_window_takes_the_rewards_back(program, jane, jane_code):
    sam = friend()
    referral = services.record_signup(patient=sam, code=jane_code.code)
    purchase = buy(sam, 10_000)
    qualify_and_reward(purchase)
    refund, _ = refund_purchase(purchase=purchase)
    assert services.claw_back(refund_id=refund.pk) == referral
    referral.refresh_from_db()
    assert referral.status == Referral.Status.REVERSED
    assert referral_points(jane) == 0 and referral_points(sam) == 0
    assert balance(jane) == 0 and balance(sam) == 0
    assert services.claw_back(refund_id=refund.pk) is None  # once


def test_spent_referral_points_are_taken_back_only_as_far_as_the_balance_goes(program, jane, jane_code):
    sam = friend()
    services.record_signup(patient=sam, code=jane_code.code)
    purchase = buy(sam, 10_000)
    qualify_and_reward(purchase)
    from loyalty.services import adjust_points

    adjust_points(patient=jane, delta=-400, reason="spent", actor=UserFactory())
    refund, _ = refund_purchase(purchase=purchase)
    services.claw_back(refund_id=refund.pk)
    reward = ReferralReward.objects.get(patient=jane)
    assert (reward.points_taken_back, balance(jane)) == (100, 0)


def test_no_clawback_after_the_window_or_while_the_minimum_is_still_paid(program, jane, jane_code):
    program.clawback_days = 30
    program.save()
    sam = friend()
    services.record_signup(patient=sam, code=jane_code.code)
    item = CatalogItemFactory(price_cents=10_000)
    purchase, _ = record_purchase(
        patient=sam, lines=[LineIn(quantity=3, unit_price_cents=10_000, item=item)], source="desk"
    )
    qualify_and_reward(purchase)
    partial, _ = refund_purchase(purchase=purchase, lines=[(purchase.lines.get().pk, 1)])
    assert services.claw_back(refund_id=partial.pk) is None  # $200 of $300 still paid
    with time_machine.travel(purchase.purchased_at + timedelta(days=31)):
        late, _ = refund_purchase(purchase=purchase)
        assert services.claw_back(refund_id=late.pk) is None
    assert referral_points(jane) == 500


def test_a_clawback_withdraws_unused_gift_vouchers(program, jane, jane_code, django_capture_on_commit_callbacks):
    program.referrer_reward_kind = RewardKind.CREDIT
    program.referrer_credit_cents = 2_500
    program.save()
    sam = friend()
    services.record_signup(patient=sam, code=jane_code.code)
    with django_capture_on_commit_callbacks(execute=True):
        purchase = buy(sam, 10_000)
    with django_capture_on_commit_callbacks(execute=True):
        refund_purchase(purchase=purchase)  # the refund signal queues the clawback task
    assert Redemption.objects.get(patient=jane).status == Redemption.Status.CANCELLED
    assert Referral.objects.get(referred=sam).status == Referral.Status.REVERSED


def test_a_reversed_milestone_can_be_earned_again(program, jane, jane_code):
    Milestone.objects.create(count=1, points=300)
    sam = friend()
    services.record_signup(patient=sam, code=jane_code.code)
    purchase = buy(sam, 10_000)
    qualify_and_reward(purchase)
    refund, _ = refund_purchase(purchase=purchase)
    services.claw_back(refund_id=refund.pk)
    ana = friend(first_name="Ana")
    services.record_signup(patient=ana, code=jane_code.code)
    qualify_and_reward(buy(ana, 10_000))
    assert referral_points(jane) == 500 + 300


def test_referral_codes_are_unique_across_practices_and_resolve_to_theirs(public_client, alpha, jane_code):
    from practices.models import CodeDirectory

    assert CodeDirectory.objects.get(code=jane_code.code).practice == alpha
    response = public_client.get("/api/v1/practices/resolve", {"code": jane_code.code.lower()})
    assert response.status_code == 200
    assert response.json()["slug"] == "alpha"


def test_a_purchase_dated_before_the_sign_up_does_not_qualify(program, jane_code):
    sam = friend()
    referral = services.record_signup(patient=sam, code=jane_code.code)
    earlier = buy(sam, 20_000, purchased_at=referral.created_at - timedelta(days=3))
    assert services.qualify(purchase_id=earlier.pk) is None
