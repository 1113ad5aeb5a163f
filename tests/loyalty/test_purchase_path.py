"""How purchases are read and written: one context read (fetch_purchase_context) for the quote, the checkout and
every batch, and a fixed number of statements whatever the number of sales."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty.errors import IdempotencyConflict
from loyalty.models import Campaign, EarningAction, LedgerEntry, PointsAccount, ProgramSettings, PurchaseLine, Tier
from loyalty.services import (
    LineIn,
    Sale,
    fetch_purchase_context,
    lock_patient_accounts,
    points_earned_recently,
    post_points,
    program_settings,
    record_purchase,
    record_purchases,
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
        account = lock_patient_accounts([patient.pk])[patient.pk]
        return fetch_purchase_context(accounts=[account], times=[at])


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
    assert {c.pk for c in context.campaigns_at(NOW)} == set(running.values_list("pk", flat=True))
    assert {(c.category, c.multiplier_percent) for c in context.campaigns_at(NOW)} == {("", 200), ("Facials", 200)}
    account = PointsAccount.objects.get(patient=patient)
    # In the window: 600 (facials, 3 per dollar), 330 (injectables, at Silver), 25 (cross-booking), -600 (refund).
    assert max(context.earned_recently[patient.pk], 0) == points_earned_recently(account=account) == 355
    categories = PurchaseLine.objects.filter(purchase__patient=patient).values_list("category", flat=True)
    assert context.categories_bought[patient.pk] == {category.lower() for category in categories}


def test_without_a_cross_booking_bonus_the_categories_bought_are_not_read(patient):
    buy(patient, CatalogItemFactory(category="Facials"))

    assert context_of(patient).categories_bought == {}


def test_a_practice_without_program_settings_gets_the_defaults(patient):
    ProgramSettings.objects.all().delete()

    context = context_of(patient)

    assert (context.settings.points_per_dollar, context.settings.expiry_days) == (1, 365)
    assert not ProgramSettings.objects.filter(pk=1).exists()  # reading never writes


def test_the_earnings_sum_can_be_negative_before_the_purchase_counts(patient):
    # A refund of points earned before the 12 months leaves the window's sum below zero: the purchase's
    # points are added to that sum, and only then is it floored at zero (as points_earned_recently does).
    TierFactory(name="Silver", threshold_points=100, multiplier_percent=110)
    with time_machine.travel(NOW - timedelta(days=400), tick=False):
        old = buy(patient, CatalogItemFactory(price_cents=30_000))
    with time_machine.travel(NOW, tick=False):
        refund_purchase(purchase=old)
        assert context_of(patient).earned_recently[patient.pk] == -300
        buy(patient, CatalogItemFactory(price_cents=35_000))

    assert PointsAccount.objects.get(patient=patient).tier is None  # -300 + 350 = 50 < 100


def test_a_purchase_that_reaches_a_tier_writes_it_with_the_balance(patient):
    silver = TierFactory(name="Silver", threshold_points=100, multiplier_percent=110)
    item = CatalogItemFactory(price_cents=15_000)

    with CaptureQueriesContext(connection) as queries:
        purchase = buy(patient, item)

    writes = [q["sql"] for q in queries.captured_queries if '"loyalty_pointsaccount"' in q["sql"].split("(")[0]]
    writes = [sql for sql in writes if sql.startswith(("UPDATE", "INSERT"))]
    assert len(writes) == 1  # balance, tier and expiry in one statement
    assert '"tier_id" = EXCLUDED."tier_id"' in writes[0] and '"balance" = EXCLUDED."balance"' in writes[0]
    account = PointsAccount.objects.get(patient=patient)
    assert (account.tier, account.balance, purchase.tier_multiplier_percent) == (silver, 150, 100)
    timeline = list(patient.activities.order_by("id").values_list("kind", "summary"))
    assert timeline == [
        (Activity.Kind.PURCHASE, "Purchase of $150.00: earned 150 points"),
        ("tier_changed", "Reached Silver"),
    ]


def test_a_repeated_transaction_id_answers_the_first_and_writes_nothing(patient):
    item = CatalogItemFactory(price_cents=10_000)
    first = buy(patient, item, external_id="T-9")

    purchase, created = record_purchase(
        patient=patient, lines=[LineIn(quantity=1, unit_price_cents=10_000, item=item)], source="pos", external_id="T-9"
    )

    assert (purchase.pk, created) == (first.pk, False)
    assert LedgerEntry.objects.filter(account__patient=patient).count() == 1
    assert patient.activities.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"lines": [LineIn(quantity=2, unit_price_cents=10_000)]},
        {"price": 9_000},
        {"other_patient": True},
        {"purchased_at": NOW - timedelta(days=1)},
    ],
    ids=["quantity", "price", "patient", "time"],
)
def test_a_transaction_id_sent_again_for_a_different_sale_is_refused(patient, change):
    item = CatalogItemFactory(price_cents=10_000)
    buy(patient, item, external_id="T-9", purchased_at=NOW)
    quantity = change.get("lines", [LineIn(quantity=1, unit_price_cents=0)])[0].quantity
    lines = [LineIn(quantity=quantity, unit_price_cents=change.get("price", 10_000), item=item)]
    who = PatientFactory() if change.get("other_patient") else patient

    with pytest.raises(IdempotencyConflict):
        record_purchase(
            patient=who, lines=lines, source="pos", external_id="T-9", purchased_at=change.get("purchased_at", NOW)
        )

    assert LedgerEntry.objects.count() == 1


def test_a_batch_costs_the_same_statements_as_one_sale(patient):
    items = [CatalogItemFactory(price_cents=1_000 * n, category=f"C{n}") for n in range(1, 4)]
    EarningActionFactory(kind=EarningAction.Kind.CROSS_BOOKING, points=25)
    TierFactory(name="Silver", threshold_points=30, multiplier_percent=110)
    patients = [PatientFactory() for _ in range(20)]
    buy(patients[0], items[0])

    def statements(sales):
        with CaptureQueriesContext(connection) as queries:
            results = record_purchases(sales)
        assert all(result.created for result in results)
        return len(queries.captured_queries)

    one = statements([Sale(patient=patients[1], lines=[LineIn(1, 1_000, items[0])], source="pos")])
    many = statements(
        [
            Sale(patient=p, lines=[LineIn(1, 1_000 * (n % 3 + 1), items[n % 3])], source="pos", external_id=f"B{n}")
            for n, p in enumerate(patients * 3)
        ]
    )

    assert many <= one + 2  # the accounts opened for the new patients, and the bonus awards


def test_the_categories_bought_before_are_read_one_row_per_category(patient):
    EarningActionFactory(kind=EarningAction.Kind.CROSS_BOOKING, points=25)
    facials = CatalogItemFactory(category="Facials", price_cents=1_000)
    for _ in range(5):
        buy(patient, facials)

    with CaptureQueriesContext(connection) as queries:
        context = context_of(patient)

    assert context.categories_bought == {patient.pk: {"facials"}}
    (read,) = [q["sql"] for q in queries.captured_queries if '"loyalty_purchaseline"' in q["sql"]]
    assert '"loyalty_purchaseline"."id"' not in read  # DISTINCT over the lines' ids would return each line
