"""How record_purchase reads and writes: the same rules as the ORM functions, in fewer statements."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty.models import Campaign, EarningAction, LedgerEntry, PointsAccount, ProgramSettings, PurchaseLine, Tier
from loyalty.rows import fetch_rows, insert_rows, update_row
from loyalty.services import (
    LineIn,
    _lock_account_for_purchase,
    _purchase_context,
    points_earned_recently,
    post_points,
    program_settings,
    record_purchase,
    refund_purchase,
)
from patients.models import Activity
from tests.factories import CatalogItemFactory, EarningActionFactory, PatientFactory, TierFactory

NOW = datetime(2026, 6, 10, 15, tzinfo=UTC)


@pytest.fixture
def patient(alpha):
    return PatientFactory()


def buy(patient, *items, **options):
    lines = [LineIn(quantity=1, unit_price_cents=item.price_cents, item=item) for item in items]
    return record_purchase(patient=patient, lines=lines, source="pos", **options)[0]


def context_of(patient, at=NOW):
    with transaction.atomic():
        account, _ = _lock_account_for_purchase(patient=patient, external_id=None)
        return _purchase_context(account=account, patient=patient, at=at)


@time_machine.travel(NOW, tick=False)
def test_the_purchase_context_reads_what_the_orm_functions_read(patient):
    settings_row = program_settings()
    settings_row.points_per_dollar, settings_row.expiry_days = 3, 200
    settings_row.save()
    TierFactory(name="Silver", threshold_points=300, multiplier_percent=110)
    TierFactory(name="Gold", threshold_points=900, multiplier_percent=125)
    for name, starts, ends, active, category in [
        ("Running", -1, 1, True, ""),
        ("Facials week", -1, 1, True, "Facials"),
        ("Switched off", -1, 1, False, ""),
        ("Over", -3, -1, True, ""),
        ("Next week", 5, 7, True, ""),
    ]:
        Campaign.objects.create(
            name=name,
            multiplier_percent=200,
            starts_at=NOW + timedelta(days=starts),
            ends_at=NOW + timedelta(days=ends),
            is_active=active,
            category=category,
        )
    EarningActionFactory(kind=EarningAction.Kind.CROSS_BOOKING, points=25)
    with time_machine.travel(NOW - timedelta(days=400), tick=False):  # outside the 12 months tiers count
        buy(patient, CatalogItemFactory(category="Skincare", price_cents=50_000))
    with time_machine.travel(NOW - timedelta(days=30), tick=False):
        purchase = buy(patient, CatalogItemFactory(category="FACIALS", price_cents=20_000))
        buy(patient, CatalogItemFactory(category="Injectables", price_cents=10_000))
        refund_purchase(purchase=purchase)
        post_points(account_id=patient.points_account.pk, delta=-10, kind=LedgerEntry.Kind.REDEMPTION)

    context = context_of(patient)

    assert (context.settings.points_per_dollar, context.settings.expiry_days) == (3, 200)
    assert [tier.pk for tier in context.tiers] == list(
        Tier.objects.order_by("-threshold_points").values_list("pk", flat=True)
    )
    running = Campaign.objects.filter(is_active=True, starts_at__lte=NOW, ends_at__gt=NOW)
    assert {c.pk for c in context.campaigns} == set(running.values_list("pk", flat=True))
    assert {(c.category, c.multiplier_percent) for c in context.campaigns} == {("", 200), ("Facials", 200)}
    account = PointsAccount.objects.get(patient=patient)
    # In the window: 600 (facials, 3 per dollar), 330 (injectables, at Silver), 25 (cross-booking), -600 (refund).
    assert max(context.earned_recently, 0) == points_earned_recently(account=account) == 355
    categories = PurchaseLine.objects.filter(purchase__patient=patient).values_list("category", flat=True)
    assert context.known_categories == {category.lower() for category in categories}


def test_without_a_cross_booking_bonus_the_categories_bought_are_not_read(patient):
    buy(patient, CatalogItemFactory(category="Facials"))

    assert context_of(patient).known_categories == set()


def test_a_practice_without_program_settings_gets_the_defaults(patient):
    ProgramSettings.objects.all().delete()

    context = context_of(patient)

    assert (context.settings.points_per_dollar, context.settings.expiry_days) == (1, 365)
    assert ProgramSettings.objects.filter(pk=1).exists()


def test_the_earnings_sum_can_be_negative_before_the_purchase_counts(patient):
    # A refund of points earned before the 12 months leaves the window's sum below zero: the purchase's
    # points are added to that sum, and only then is it floored at zero (as points_earned_recently does).
    TierFactory(name="Silver", threshold_points=100, multiplier_percent=110)
    with time_machine.travel(NOW - timedelta(days=400), tick=False):
        old = buy(patient, CatalogItemFactory(price_cents=30_000))
    with time_machine.travel(NOW, tick=False):
        refund_purchase(purchase=old)
        assert context_of(patient).earned_recently == -300
        buy(patient, CatalogItemFactory(price_cents=35_000))

    assert PointsAccount.objects.get(patient=patient).tier is None  # -300 + 350 = 50 < 100


def test_a_purchase_that_reaches_a_tier_writes_it_with_the_balance(patient):
    silver = TierFactory(name="Silver", threshold_points=100, multiplier_percent=110)
    item = CatalogItemFactory(price_cents=15_000)

    with CaptureQueriesContext(connection) as queries:
        purchase = buy(patient, item)

    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "loyalty_pointsaccount"')]
    assert len(updates) == 1
    assert '"tier_id"' in updates[0] and '"balance"' in updates[0]
    account = PointsAccount.objects.get(patient=patient)
    assert (account.tier, account.balance, purchase.tier_multiplier_percent) == (silver, 150, 100)
    timeline = list(patient.activities.order_by("id").values_list("kind", "summary"))
    assert timeline == [
        (Activity.Kind.PURCHASE, "Purchase of $150.00: earned 150 points"),
        ("tier_changed", "Reached Silver"),
    ]


def test_a_repeated_transaction_id_is_found_under_the_lock_and_writes_nothing(patient):
    item = CatalogItemFactory(price_cents=10_000)
    first = buy(patient, item, external_id="T-9")

    purchase, created = record_purchase(
        patient=patient, lines=[LineIn(quantity=2, unit_price_cents=1, item=item)], source="pos", external_id="T-9"
    )

    assert (purchase.pk, created) == (first.pk, False)
    assert LedgerEntry.objects.filter(account__patient=patient).count() == 1
    assert patient.activities.count() == 1


# ---------------------------------------------------------------- the statements themselves


def test_insert_and_update_write_what_save_would(patient):
    account = PointsAccount.objects.get(patient=patient)
    entry = LedgerEntry(account=account, kind=LedgerEntry.Kind.BONUS, delta=5, balance_after=5, note="Welcome")

    insert_rows([entry])
    account.balance = 5
    update_row(account, ["balance", "updated_at"])

    stored = LedgerEntry.objects.get(pk=entry.pk)
    assert (stored.kind, stored.delta, stored.note, stored.idempotency_key, stored.source_type) == (
        "bonus",
        5,
        "Welcome",
        None,
        "",
    )
    assert stored.created_at == entry.created_at is not None
    account.refresh_from_db()
    assert account.balance == 5


def test_fetch_rows_builds_instances_as_the_orm_does(patient):
    found = fetch_rows(
        PointsAccount,
        "SELECT {columns}, 41 + 1 FROM loyalty_pointsaccount t WHERE t.patient_id = %s",
        [patient.pk],
        extra=("answer",),
    )

    assert found == [PointsAccount.objects.get(patient=patient)]
    assert found[0].answer == 42
    assert found[0].patient_id == patient.pk
