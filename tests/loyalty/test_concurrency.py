"""Real threads against the real database: row locks and unique keys hold when requests race.

They commit, so they run in a throwaway practice of this module's (tests/throwaway.py explains why).
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from loyalty.errors import InsufficientPoints
from loyalty.jobs import run_daily_jobs
from loyalty.ledger_check import check_ledger
from loyalty.models import ActionAward, EarningAction, ExpiryReminder, LedgerEntry, PointsAccount, Purchase
from loyalty.services import LineIn, post_points, record_purchase
from patients.models import Notification
from practices.models import Practice
from tests.factories import CatalogItemFactory, EarningActionFactory, PatientFactory, TierFactory
from tests.throwaway import entered, kinds, throwaway_practice
from tests.throwaway import race as throwaway_race

THREADS = 20


@pytest.fixture(scope="module")
def throwaway(django_db_setup, django_db_blocker):
    yield from throwaway_practice(django_db_blocker, prefix="conc", name="Concurrency")


@pytest.fixture
def practice(throwaway):
    yield from entered(throwaway)


def race(practice: Practice, work: Callable[[int], object], count: int = THREADS) -> list[object]:
    return throwaway_race(practice, work, count)


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_debits_of_10_from_100_let_exactly_10_through(practice):
    account = PatientFactory().points_account
    post_points(account_id=account.pk, delta=100, kind=LedgerEntry.Kind.PURCHASE)

    results = race(practice, lambda i: post_points(account_id=account.pk, delta=-10, kind=LedgerEntry.Kind.REDEMPTION))

    assert kinds(results) == {"LedgerEntry": 10, "InsufficientPoints": 10}
    assert all(isinstance(r, LedgerEntry | InsufficientPoints) for r in results)
    account.refresh_from_db()
    entries = LedgerEntry.objects.filter(account=account)
    assert account.balance == 0 == sum(entries.values_list("delta", flat=True))
    assert sorted(entries.values_list("balance_after", flat=True)) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert check_ledger().is_consistent


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_repeats_of_one_till_purchase_record_it_once(practice):
    patient = PatientFactory()
    item = CatalogItemFactory(price_cents=12_000)

    results = race(
        practice,
        lambda i: record_purchase(
            patient=patient,
            lines=[LineIn(quantity=1, unit_price_cents=12_000, item=item)],
            source="pos",
            external_id="POS-42",
        ),
    )

    assert kinds(results) == {"tuple": THREADS}
    assert [created for _, created in results].count(True) == 1
    assert {purchase.pk for purchase, _ in results} == {Purchase.objects.get(external_id="POS-42").pk}
    assert LedgerEntry.objects.filter(account__patient=patient).count() == 1
    assert PointsAccount.objects.get(patient=patient).balance == 120
    assert check_ledger().is_consistent


@pytest.mark.django_db(transaction=True)
def test_simultaneous_purchases_that_move_a_patient_up_a_tier_each_earn_at_the_tier_reached_before_it(practice):
    # A purchase waiting for the account's lock while another moves the tier must see the new tier: each
    # one earns at the tier its predecessors reached, and none fails.
    TierFactory(name="Silver", threshold_points=300, multiplier_percent=150)
    patient = PatientFactory()
    item = CatalogItemFactory(price_cents=10_000)

    results = race(
        practice,
        lambda i: record_purchase(
            patient=patient, lines=[LineIn(quantity=1, unit_price_cents=10_000, item=item)], source="pos"
        ),
        count=10,
    )

    assert kinds(results) == {"tuple": 10}
    earned = 0
    for entry in LedgerEntry.objects.filter(account__patient=patient).order_by("pk").select_related("purchase"):
        multiplier = 150 if earned >= 300 else 100
        assert (entry.purchase.tier_multiplier_percent, entry.delta) == (multiplier, multiplier)
        earned += entry.delta
    account = PointsAccount.objects.select_related("tier").get(patient=patient)
    assert (account.balance, account.tier.name) == (300 + 7 * 150, "Silver")
    assert check_ledger().is_consistent


@pytest.mark.django_db(transaction=True)
def test_daily_jobs_racing_each_other_do_everything_once(practice):
    EarningActionFactory(kind=EarningAction.Kind.BIRTHDAY, points=50, limit=EarningAction.Limit.YEARLY)
    today = datetime(2026, 9, 1, 15, tzinfo=UTC)
    with time_machine.travel(today - timedelta(days=400), tick=False):
        celebrating = PatientFactory(birthday=date(1990, 9, 1))
        expiring, reminded = PatientFactory(), PatientFactory()
    for patient, bought_at in ((expiring, today - timedelta(days=366)), (reminded, today - timedelta(days=358))):
        with time_machine.travel(bought_at, tick=False):
            record_purchase(
                patient=patient,
                lines=[LineIn(quantity=1, unit_price_cents=10_000, item=CatalogItemFactory())],
                source="desk",
            )

    with time_machine.travel(today, tick=False):
        results = race(practice, lambda i: run_daily_jobs(), count=5)

    assert kinds(results) == {"dict": 5}
    assert sum(r["expired"] for r in results) == sum(r["birthdays"] for r in results) == 1
    assert sum(r["reminders"] for r in results) == 1
    assert ActionAward.objects.filter(patient=celebrating).count() == 1
    assert LedgerEntry.objects.filter(account__patient=expiring, kind=LedgerEntry.Kind.EXPIRY).count() == 1
    reminders = ExpiryReminder.objects.filter(account__patient=reminded)
    assert sorted(reminders.values_list("days_before", flat=True)) == [7, 30, 180]  # 7 sent, the rest overdue
    assert sorted(Notification.objects.values_list("title", flat=True)) == [
        "100 points expired",
        "Happy birthday!",
        "Your 100 points expire on September 8",
    ]
    assert check_ledger().is_consistent
