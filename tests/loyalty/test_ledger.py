import pytest
from django.db import IntegrityError, connection, transaction

from loyalty.errors import InsufficientPoints
from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import post_points
from tests.factories import PatientFactory


@pytest.fixture
def account(alpha):
    return PatientFactory().points_account


def test_every_patient_gets_an_account(alpha):
    patient = PatientFactory()
    assert PointsAccount.objects.get(patient=patient).balance == 0


def test_posting_moves_the_balance_and_records_balance_after(account):
    post_points(account_id=account.pk, delta=120, kind=LedgerEntry.Kind.PURCHASE)
    entry = post_points(account_id=account.pk, delta=-20, kind=LedgerEntry.Kind.REDEMPTION)
    account.refresh_from_db()
    assert (account.balance, account.lifetime_earned) == (100, 120)
    assert entry.balance_after == 100


def test_the_balance_never_goes_below_zero(account):
    post_points(account_id=account.pk, delta=50, kind=LedgerEntry.Kind.BONUS)
    with pytest.raises(InsufficientPoints, match="450 more needed") as refused:
        post_points(account_id=account.pk, delta=-500, kind=LedgerEntry.Kind.REDEMPTION)
    assert (refused.value.needed, refused.value.available) == (500, 50)
    account.refresh_from_db()
    assert account.balance == 50
    assert account.entries.count() == 1


def test_a_partial_debit_takes_what_is_there(account):
    post_points(account_id=account.pk, delta=30, kind=LedgerEntry.Kind.BONUS)
    entry = post_points(account_id=account.pk, delta=-100, kind=LedgerEntry.Kind.REFUND, allow_partial_debit=True)
    assert (entry.delta, entry.balance_after) == (-30, 0)


def test_the_same_idempotency_key_posts_once(account):
    first = post_points(account_id=account.pk, delta=10, kind=LedgerEntry.Kind.BONUS, idempotency_key="k-1")
    again = post_points(account_id=account.pk, delta=10, kind=LedgerEntry.Kind.BONUS, idempotency_key="k-1")
    assert first.pk == again.pk
    account.refresh_from_db()
    assert account.balance == 10


def test_ledger_entries_cannot_be_updated_or_deleted(account):
    entry = post_points(account_id=account.pk, delta=10, kind=LedgerEntry.Kind.BONUS)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_ledgerentry SET delta = 1000 WHERE id = %s", [entry.pk])
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.delta == 10


def test_the_database_refuses_a_negative_balance_too(account):
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsAccount.objects.filter(pk=account.pk).update(balance=-1)


def test_points_earned_with_no_purchase_date_running_get_their_own_expiry(account):
    from datetime import timedelta

    from django.utils import timezone

    post_points(account_id=account.pk, delta=100, kind=LedgerEntry.Kind.BONUS)
    account.refresh_from_db()
    assert abs(account.expires_at - (timezone.now() + timedelta(days=365))) < timedelta(minutes=1)
    # A later bonus does not move a date that is still running.
    first = account.expires_at
    post_points(account_id=account.pk, delta=5, kind=LedgerEntry.Kind.BONUS)
    account.refresh_from_db()
    assert account.expires_at == first
