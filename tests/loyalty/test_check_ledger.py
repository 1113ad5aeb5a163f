"""`manage.py check_ledger`: every balance is the sum of its entries, in every practice."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from loyalty.ledger_check import check_ledger
from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import adjust_points, post_points
from tests.factories import PatientFactory, StaffMemberFactory


def run_check(*args: str) -> str:
    out = StringIO()
    call_command("check_ledger", *args, stdout=out)
    return out.getvalue()


def failing_check(*args: str) -> tuple[str, CommandError]:
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("check_ledger", *args, stdout=out)
    return out.getvalue(), failed.value


@pytest.fixture
def account(alpha):
    account = PatientFactory().points_account
    post_points(account_id=account.pk, delta=120, kind=LedgerEntry.Kind.PURCHASE)
    post_points(account_id=account.pk, delta=-20, kind=LedgerEntry.Kind.REDEMPTION)
    return account


def test_a_clean_ledger_passes_with_a_summary_per_practice(account):
    output = run_check()
    assert "p_alpha: 1 accounts, 2 entries, 0 discrepancies" in output
    assert "p_beta: 0 accounts, 0 entries, 0 discrepancies" in output


def test_one_practice_can_be_checked_alone(account):
    output = run_check("--practice", "alpha")
    assert "p_alpha: 1 accounts, 2 entries, 0 discrepancies" in output
    assert "p_beta" not in output


def test_the_check_leaves_the_connection_in_the_practice_it_was_in(account, alpha):
    run_check()
    assert PointsAccount.objects.filter(pk=account.pk).exists()


def test_a_balance_that_disagrees_with_its_entries_fails_with_a_non_zero_exit(account):
    PointsAccount.objects.filter(pk=account.pk).update(balance=250)
    _, error = failing_check()
    assert "1 discrepancies" in str(error)
    assert error.returncode == 1  # what manage.py exits with


def test_the_failing_check_prints_the_account_the_patient_and_the_problem(account):
    PointsAccount.objects.filter(pk=account.pk).update(balance=250)
    output, _ = failing_check()
    assert "p_alpha: 1 accounts, 2 entries, 1 discrepancies" in output
    expected = f"account {account.pk} (patient {account.patient_id}): balance is 250 but its entries add up to 100"
    assert expected in output


def test_a_broken_balance_after_chain_is_found(account):
    # Entries cannot be updated, but nothing stops a careless INSERT that skips post_points.
    bad = LedgerEntry.objects.create(account=account, kind=LedgerEntry.Kind.BONUS, delta=5, balance_after=500)
    PointsAccount.objects.filter(pk=account.pk).update(balance=105, lifetime_earned=125)
    problems = [d.problem for d in check_ledger().discrepancies]
    assert problems == [
        f"entry {bad.pk} has balance_after 500, expected 105 (the previous balance_after plus its delta)"
    ]


def test_a_lifetime_earned_that_disagrees_with_the_earning_entries_is_found(account):
    PointsAccount.objects.filter(pk=account.pk).update(lifetime_earned=90)
    problems = [d.problem for d in check_ledger().discrepancies]
    assert problems == ["lifetime earned is 90 but its earning entries add up to 120"]


def test_adjustments_and_debits_do_not_count_as_earned(account):
    adjust_points(patient=account.patient, delta=30, reason="Goodwill", actor=StaffMemberFactory().user)
    assert check_ledger().is_consistent


def test_an_account_without_entries_must_have_a_zero_balance(alpha):
    account = PatientFactory().points_account
    PointsAccount.objects.filter(pk=account.pk).update(balance=10)
    assert [d.account_id for d in check_ledger().discrepancies] == [account.pk]


def test_a_discrepancy_in_one_practice_is_reported_under_that_practice(account, beta):
    with tenant_context(beta):
        other = PatientFactory().points_account
        PointsAccount.objects.filter(pk=other.pk).update(balance=7)
    output, _ = failing_check()
    assert "p_alpha: 1 accounts, 2 entries, 0 discrepancies" in output
    assert "p_beta: 1 accounts, 0 entries, 1 discrepancies" in output


def test_an_unknown_practice_is_a_clear_error(alpha):
    with pytest.raises(CommandError, match="No practice has the slug “nope”"):
        run_check("--practice", "nope")
