"""Merges racing each other and the till, with real threads against the real database: nothing deadlocks,
nothing moves twice, every point is still somewhere, and the ledger checks clean.

They commit, so they run in a throwaway practice of this module's (tests/throwaway.py explains why).
"""

import pytest
from django.utils import timezone

from loyalty.ledger_check import check_ledger
from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import post_points
from patients.merging import MergeRefused, merge_patients
from patients.models import Patient, PatientMerge
from practices.models import StaffMember
from referrals import services as referrals
from referrals.codes import code_for_patient
from referrals.models import Referral
from tests.factories import PatientFactory, StaffMemberFactory
from tests.throwaway import entered, kinds, race, throwaway_practice


@pytest.fixture(scope="module")
def throwaway(django_db_setup, django_db_blocker):
    yield from throwaway_practice(django_db_blocker, prefix="merge", name="Merges")


@pytest.fixture
def practice(throwaway):
    yield from entered(throwaway)


def with_points(points: int) -> Patient:
    patient = PatientFactory()
    post_points(account_id=patient.points_account.pk, delta=points, kind=LedgerEntry.Kind.BONUS)
    return patient


def balances(*patients: Patient) -> list[int]:
    return [PointsAccount.objects.get(patient=patient).balance for patient in patients]


@pytest.fixture
def manager(practice):
    return StaffMemberFactory(role=StaffMember.Role.MANAGER).user


@pytest.mark.django_db(transaction=True)
def test_two_merges_of_the_same_pair_in_opposite_directions_make_one(practice, manager):
    ada, ben = with_points(100), with_points(250)
    pairs = [(ada, ben), (ben, ada)]

    results = race(practice, lambda i: merge_patients(kept=pairs[i][0], merged=pairs[i][1], actor=manager), 2)

    assert kinds(results) == {"PatientMerge": 1, "MergeRefused": 1}
    merge = next(r for r in results if isinstance(r, PatientMerge))
    assert balances(merge.kept, merge.merged) == [350, 0]
    assert PatientMerge.objects.count() == 1
    assert check_ledger().is_consistent


@pytest.mark.django_db(transaction=True)
def test_one_record_merged_into_two_others_at_once_moves_once(practice, manager):
    ada, ben, cat = with_points(100), with_points(250), with_points(40)
    keepers = [ada, cat]

    results = race(practice, lambda i: merge_patients(kept=keepers[i], merged=ben, actor=manager), 2)

    assert kinds(results) == {"PatientMerge": 1, "MergeRefused": 1}
    refused = next(r for r in results if isinstance(r, MergeRefused))
    assert "archived (merged into" in refused.message or "just merged" in refused.message
    assert sorted(balances(ada, cat)) in ([40, 350], [100, 290])
    assert sum(balances(ada, ben, cat)) == 390
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.MERGE).count() == 2
    assert check_ledger().is_consistent


@pytest.mark.django_db(transaction=True)
def test_a_chain_of_merges_at_once_keeps_every_point(practice, manager):
    # Ten overlapping merges (each record merged into the next one) in ten threads: each either happens or is
    # refused because its record was merged meanwhile; none deadlocks, and no point is lost or made.
    records = [with_points(10 * (n + 1)) for n in range(11)]

    results = race(practice, lambda i: merge_patients(kept=records[i + 1], merged=records[i], actor=manager), 10)

    assert set(kinds(results)) <= {"PatientMerge", "MergeRefused"}
    assert sum(balances(*records)) == sum(10 * (n + 1) for n in range(11))
    active = Patient.objects.filter(pk__in=[r.pk for r in records]).exclude(status=Patient.Status.ARCHIVED)
    assert active.count() == 11 - kinds(results)["PatientMerge"]
    assert check_ledger().is_consistent


@pytest.mark.django_db(transaction=True)
def test_points_earned_while_a_merge_runs_are_never_lost(practice, manager):
    ada, ben = with_points(100), with_points(250)

    def work(i):
        if i == 0:
            return merge_patients(kept=ada, merged=ben, actor=manager)
        return post_points(account_id=PointsAccount.objects.get(patient=ben).pk, delta=5, kind=LedgerEntry.Kind.BONUS)

    results = race(practice, work, 6)

    assert kinds(results) == {"PatientMerge": 1, "LedgerEntry": 5}
    # Whatever landed on the merged account before the merge moved with it; anything after stays visible there.
    assert sum(balances(ada, ben)) == 375
    assert check_ledger().is_consistent


@pytest.mark.django_db(transaction=True)
def test_a_merge_and_the_referral_rewards_of_the_merged_patient_at_once_do_not_deadlock(practice, manager):
    # The rewards task locks the referral, then the referrer's account; the merge takes the referrals first too.
    program = referrals.referral_settings()
    program.min_purchase_cents, program.referrer_points, program.referee_points = 10_000, 500, 250
    program.save()
    for _ in range(5):
        kim, ada, sam = with_points(10), with_points(20), PatientFactory()
        referral = referrals.record_signup(patient=sam, code=code_for_patient(ada).code)
        # Qualified, its rewards not given yet (as between the qualifying purchase and the rewards task).
        Referral.objects.filter(pk=referral.pk).update(status=Referral.Status.QUALIFIED, qualified_at=timezone.now())

        def work(i, kim=kim, ada=ada, referral=referral):
            if i == 0:
                return merge_patients(kept=kim, merged=ada, actor=manager)
            return referrals.issue_rewards(referral_id=referral.pk)

        results = race(practice, work, 2)

        assert kinds(results) == {"PatientMerge": 1, "list": 1}, results
        assert balances(kim, ada) == [10 + 20 + 500, 0]
    assert check_ledger().is_consistent
