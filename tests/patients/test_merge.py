"""Merging two records of one person, through the service: points moved by two linked ledger entries, the
rest moved, the merged record archived, both timelines told, the audit trail written, and the referral
conflicts refused with their reason."""

import pytest
from django.apps import apps

from accounts.models import AuditEvent
from loyalty.ledger_check import check_ledger
from loyalty.models import ActionAward, LedgerEntry, PointsAccount, Purchase
from loyalty.services import LineIn, award_action, record_purchase
from patients.merging import MergeRefused, merge_patients, merge_refusals
from patients.models import Activity, Message, Notification, Patient, PatientMerge, PushSubscription
from patients.records import record_parts
from practices.models import StaffMember
from referrals import services as referrals
from referrals.codes import code_for_patient
from referrals.models import Referral, ReferralCode, ReferralReward
from rewards.models import Redemption
from rewards.services import redeem_reward
from tests.factories import (
    CatalogItemFactory,
    EarningActionFactory,
    PatientFactory,
    RewardFactory,
    StaffMemberFactory,
)


@pytest.fixture
def manager(alpha):
    return StaffMemberFactory(role=StaffMember.Role.MANAGER).user


def patient(first="Ada", last="Lovelace", **fields):
    return PatientFactory(user__first_name=first, user__last_name=last, **fields)


def buy(person, cents: int):
    item = CatalogItemFactory(price_cents=cents)
    purchase, _ = record_purchase(
        patient=person, lines=[LineIn(quantity=1, unit_price_cents=cents, item=item)], source="desk"
    )
    return purchase


def balance(person) -> int:
    return PointsAccount.objects.get(patient=person).balance


def test_the_kept_balance_is_the_sum_and_the_ledger_stays_consistent(alpha, manager):
    kept, merged = patient(), patient("Ada", "L.")
    buy(kept, 12_000)
    buy(merged, 30_000)
    assert (balance(kept), balance(merged)) == (120, 300)

    merge = merge_patients(kept=kept, merged=merged, actor=manager)

    assert balance(kept) == 420
    assert balance(merged) == 0
    assert check_ledger().is_consistent
    out, into = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.MERGE).order_by("delta")
    assert (out.account.patient_id, out.delta, into.account.patient_id, into.delta) == (merged.pk, -300, kept.pk, 300)
    assert {(e.source_type, e.source_id) for e in (out, into)} == {("patients.merge", merge.pk)}
    assert merge.moved["points"] == 300


def test_an_empty_balance_moves_no_points_and_writes_no_entry(alpha, manager):
    kept, merged = patient(), patient()

    merge_patients(kept=kept, merged=merged, actor=manager)

    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.MERGE).exists()
    assert check_ledger().is_consistent


def test_purchases_vouchers_inbox_messages_and_timeline_move_to_the_kept_patient(alpha, manager):
    kept, merged = patient(), patient()
    purchase = buy(merged, 60_000)
    voucher = redeem_reward(patient=merged, reward=RewardFactory(points_cost=100))
    Notification.objects.create(patient=merged, title="Hello")
    Message.objects.create(patient=merged, to=merged.phone, body="Hi", purpose="transactional")
    PushSubscription.objects.create(patient=merged, endpoint="https://push.example.test/1", p256dh="k", auth="a")

    merge_patients(kept=kept, merged=merged, actor=manager)

    assert Purchase.objects.get(pk=purchase.pk).patient_id == kept.pk
    assert Redemption.objects.get(pk=voucher.pk).patient_id == kept.pk
    assert Notification.objects.get(title="Hello").patient_id == kept.pk
    assert Message.objects.get(body="Hi").patient_id == kept.pk
    assert kept.activities.filter(kind=Activity.Kind.PURCHASE).exists()
    # The device signed in to the merged record is not the kept patient's.
    assert not PushSubscription.objects.exists()
    assert balance(kept) == 500


def test_a_refund_after_the_merge_takes_points_from_the_kept_account(alpha, manager):
    from loyalty.services import refund_purchase

    kept, merged = patient(), patient()
    purchase = buy(merged, 20_000)
    merge_patients(kept=kept, merged=merged, actor=manager)

    refund_purchase(purchase=Purchase.objects.get(pk=purchase.pk), actor=manager)

    assert balance(kept) == 0
    assert check_ledger().is_consistent


def test_the_merged_record_is_archived_cannot_sign_in_and_gives_up_its_number(alpha, manager, alpha_client):
    kept, merged = patient(), patient(user__email="ada@old.test")
    alpha_client.force_login(merged.user)
    old_phone = merged.phone

    merge_patients(kept=kept, merged=merged, actor=manager)

    merged.refresh_from_db()
    merged.user.refresh_from_db()
    assert merged.status == Patient.Status.ARCHIVED
    assert merged.merged_into == kept
    assert not merged.user.is_active
    assert merged.user.phone is None
    assert PatientMerge.objects.get(merged=merged).merged_details["phone"] == old_phone
    # Its session ends: the next page is the sign-in page.
    assert alpha_client.get("/me/").status_code == 302
    # What the kept record lacked comes from the merged one: here the email address.
    kept.user.refresh_from_db()
    assert kept.user.email == "ada@old.test"


def test_both_timelines_show_the_merge_and_the_audit_trail_has_it(alpha, manager):
    kept, merged = patient("Ada", "Lovelace"), patient("Ada", "Byron")
    buy(merged, 10_000)

    merge = merge_patients(kept=kept, merged=merged, actor=manager)

    line = kept.activities.get(kind=Activity.Kind.MERGED)
    assert f"Ada Byron (#{merged.pk})" in line.summary and "100 points" in line.summary
    assert line.actor == manager
    assert merged.activities.get(kind=Activity.Kind.MERGED).summary.startswith("Merged into the record Ada Lovelace")
    event = AuditEvent.objects.get(action="patient.merged")
    assert (event.actor, event.target_id) == (manager, str(kept.pk))
    assert event.before["merged"]["id"] == merged.pk and event.after["moved"] == merge.moved


def test_a_bonus_both_received_once_stays_with_the_merged_record(alpha, manager):
    action = EarningActionFactory(limit="once", points=50)
    kept, merged = patient(), patient()
    award_action(patient=kept, action=action, actor=manager)
    award_action(patient=merged, action=action, actor=manager)
    other = EarningActionFactory(limit="once", points=20)
    award_action(patient=merged, action=other, actor=manager)

    merge_patients(kept=kept, merged=merged, actor=manager)

    assert ActionAward.objects.filter(patient=kept, action=action).count() == 1
    assert ActionAward.objects.filter(patient=kept, action=other).count() == 1
    assert balance(kept) == 120
    assert check_ledger().is_consistent


def test_a_record_is_merged_once(alpha, manager):
    kept, merged, third = patient(), patient(), patient()
    merge_patients(kept=kept, merged=merged, actor=manager)

    with pytest.raises(MergeRefused) as refused:
        merge_patients(kept=third, merged=merged, actor=manager)

    assert f"#{merged.pk}" in refused.value.message and "archived (merged into" in refused.value.message


def test_a_patient_cannot_be_merged_with_themselves(alpha, manager):
    ada = patient()
    with pytest.raises(MergeRefused, match="two different patients"):
        merge_patients(kept=ada, merged=ada, actor=manager)


def test_a_merge_needs_an_actor(alpha):
    from practices.audit import ActorRequired

    with pytest.raises(ActorRequired):
        merge_patients(kept=patient(), merged=patient(), actor=None)


def test_records_merged_earlier_follow_to_the_new_kept_record(alpha, manager):
    first, second, third = patient(), patient(), patient()
    merge_patients(kept=second, merged=first, actor=manager)
    merge_patients(kept=third, merged=second, actor=manager)

    first.refresh_from_db()
    assert first.merged_into == third


# ---------------------------------------------------------------- referrals


@pytest.fixture
def program(alpha):
    row = referrals.referral_settings()
    row.min_purchase_cents = 10_000
    row.referrer_points, row.referee_points = 500, 250
    row.save()
    return row


def test_one_referred_the_other_is_refused_with_the_reason(program, manager):
    ada, ben = patient("Ada", "Lovelace"), patient("Ben", "Lovelace")
    code = code_for_patient(ada)
    referrals.record_signup(patient=ben, code=code.code)

    with pytest.raises(MergeRefused) as refused:
        merge_patients(kept=ada, merged=ben, actor=manager)

    assert f"Ben Lovelace (#{ben.pk}) joined with Ada Lovelace (#{ada.pk})'s referral code {code.code}" in (
        refused.value.message
    )
    assert "Nobody can refer themselves" in refused.value.message
    assert Patient.objects.get(pk=ben.pk).status == Patient.Status.ACTIVE
    assert not PatientMerge.objects.exists()


def test_a_referral_between_them_that_was_not_counted_does_not_block(program, manager):
    ada, ben = patient("Ada"), patient("Ben")
    code = code_for_patient(ada)
    referrals.record_signup(patient=ben, code=code.code)
    Referral.objects.filter(referred=ben).update(status=Referral.Status.REJECTED)

    assert merge_refusals(kept=ada, merged=ben) == []


def test_both_having_a_referral_is_refused(program, manager):
    jane = patient("Jane", "Doe")
    code = code_for_patient(jane)
    ada, ben = patient("Ada"), patient("Ben")
    referrals.record_signup(patient=ada, code=code.code)
    referrals.record_signup(patient=ben, code=code.code)

    reasons = merge_refusals(kept=ada, merged=ben)

    assert len(reasons) == 1 and "Both joined with a referral code" in reasons[0]


def test_referrals_made_and_received_move_and_the_old_code_is_retired(program, manager):
    jane = patient("Jane", "Doe")
    ada, ben = patient("Ada"), patient("Ben")
    referrals.record_signup(patient=ben, code=code_for_patient(jane).code)  # Ben was referred by Jane
    ben_code = code_for_patient(ben)
    friend = patient("Sam", "Taylor")
    referrals.record_signup(patient=friend, code=ben_code.code)  # and referred Sam

    merge_patients(kept=ada, merged=ben, actor=manager)

    assert Referral.objects.get(referred=ada).code.patient == jane
    sams = Referral.objects.get(referred=friend)
    assert sams.code.patient == ada and sams.code_used == ben_code.code
    assert not ReferralCode.objects.get(pk=ben_code.pk).is_active
    # Sam's first purchase now rewards Ada, the kept patient.
    purchase = buy(friend, 10_000)
    referrals.issue_rewards(referral_id=referrals.qualify(purchase_id=purchase.pk).pk)
    assert ReferralReward.objects.get(referral=sams, role="referrer").patient == ada
    assert balance(ada) == 500
    # A friend who types the retired code now is told it is no longer active.
    late = patient("Lee")
    assert referrals.record_signup(patient=late, code=ben_code.code).reason == Referral.Reason.INACTIVE_CODE


# ---------------------------------------------------------------- every relation is someone's


def test_every_relation_to_a_patient_is_handled_by_a_record_part():
    """A new model pointing at patients must say what merges and closures do with it (patients.records)."""
    handled = {relation for part in record_parts for relation in part.relations}
    relations = {
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if field.concrete and getattr(field, "related_model", None) is Patient
    }
    assert relations - handled == set()


# ---------------------------------------------------------------- tiers


def test_the_kept_patient_reaches_the_tier_both_records_earned_together_and_keeps_it(alpha, manager):
    from loyalty.jobs import reevaluate_tiers
    from tests.factories import TierFactory

    gold = TierFactory(name="Gold", threshold_points=500, multiplier_percent=200)
    kept, merged = patient(), patient()
    buy(kept, 30_000)
    buy(merged, 30_000)
    assert PointsAccount.objects.get(patient=kept).tier is None

    merge_patients(kept=kept, merged=merged, actor=manager)

    assert PointsAccount.objects.get(patient=kept).tier == gold
    assert kept.activities.filter(kind=Activity.Kind.TIER_CHANGED, summary__contains="Reached Gold").exists()
    # The nightly re-evaluation counts the merged record's earnings too, and the next purchase earns at Gold.
    from django.utils import timezone

    assert reevaluate_tiers(now=timezone.now()) == 0
    assert PointsAccount.objects.get(patient=kept).tier == gold
    assert buy(kept, 5_000).points == 100
    assert PointsAccount.objects.get(patient=kept).tier == gold  # re-evaluated with the purchase, on both
    assert check_ledger().is_consistent
