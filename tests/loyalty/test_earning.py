"""What purchases, refunds and actions earn: the arithmetic of the points engine, through its services."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from loyalty.errors import ActionLimitReached
from loyalty.models import ActionAward, Campaign, CatalogItem, EarningAction, LedgerEntry, PointsAccount
from loyalty.services import LineIn, award_action, post_points, program_settings, record_purchase, refund_purchase
from tests.conftest import set_time_zone
from tests.factories import CatalogItemFactory, EarningActionFactory, PatientFactory, TierFactory


@pytest.fixture
def patient(alpha):
    return PatientFactory()


@pytest.fixture
def los_angeles(alpha):
    """Practice alpha in Los Angeles, its zone the current one (the Practice row is public: saved in place, then
    put back)."""
    previous = alpha.time_zone
    set_time_zone(alpha, "America/Los_Angeles")
    yield alpha
    set_time_zone(alpha, previous)


def buy(patient, *lines: LineIn, **options):
    purchase, _ = record_purchase(patient=patient, lines=list(lines), source="desk", **options)
    return purchase


def line(item: CatalogItem, quantity: int = 1, unit_price_cents: int | None = None) -> LineIn:
    price = item.price_cents if unit_price_cents is None else unit_price_cents
    return LineIn(quantity=quantity, unit_price_cents=price, item=item)


def balance(patient) -> int:
    return PointsAccount.objects.get(patient=patient).balance


# ---------------------------------------------------------------- purchases


def test_an_item_earns_the_programs_default_points_per_dollar(patient):
    settings_row = program_settings()
    settings_row.points_per_dollar = 2
    settings_row.save()
    purchase = buy(patient, line(CatalogItemFactory(price_cents=12_500)))
    assert purchase.points == 250
    assert balance(patient) == 250


def test_an_items_own_rate_overrides_the_default(patient):
    purchase = buy(patient, line(CatalogItemFactory(price_cents=10_000, points_per_dollar=3)))
    assert purchase.points == 300


def test_a_fixed_points_item_earns_its_points_per_unit(patient):
    item = CatalogItemFactory(earning=CatalogItem.Earning.FIXED, fixed_points=40, price_cents=2_500)
    assert buy(patient, line(item, quantity=3)).points == 120


def test_a_non_earning_item_earns_nothing_and_writes_no_entry(patient):
    purchase = buy(patient, line(CatalogItemFactory(earning=CatalogItem.Earning.NONE, price_cents=50_000)))
    assert purchase.points == 0
    assert not LedgerEntry.objects.filter(account__patient=patient).exists()


def test_an_ad_hoc_line_without_a_catalog_item_earns_nothing(patient):
    purchase = buy(patient, LineIn(quantity=1, unit_price_cents=20_000, name="Gift card", category="Gifts"))
    assert (purchase.total_cents, purchase.points) == (20_000, 0)


def test_points_per_dollar_round_down(patient):
    assert buy(patient, line(CatalogItemFactory(), unit_price_cents=1_099)).points == 10


def test_the_tier_multiplier_applies_to_the_next_purchase(patient):
    TierFactory(name="Gold", threshold_points=100, multiplier_percent=150)
    buy(patient, line(CatalogItemFactory(price_cents=10_000)))
    purchase = buy(patient, line(CatalogItemFactory(price_cents=10_000)))
    assert (purchase.tier_multiplier_percent, purchase.points) == (150, 150)
    assert balance(patient) == 250


def test_multipliers_round_down_once_on_the_whole_purchase(patient):
    TierFactory(threshold_points=1, multiplier_percent=125)
    buy(patient, line(CatalogItemFactory(price_cents=100)))
    # 3 × $3.33 = $9.99 → 9 base points × 125% = 11.25 → 11.
    assert buy(patient, line(CatalogItemFactory(price_cents=333), quantity=3)).points == 11


def active_campaign(**fields) -> Campaign:
    now = timezone.now()
    return Campaign.objects.create(starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1), **fields)


def test_a_global_campaign_multiplies_every_earning_line(patient):
    active_campaign(name="Double weekend", multiplier_percent=200)
    purchase = buy(patient, line(CatalogItemFactory(category="Facials", price_cents=5_000)))
    assert purchase.points == 100
    assert purchase.lines.get().campaign.name == "Double weekend"


def test_a_category_campaign_multiplies_only_its_category(patient):
    active_campaign(name="Filler month", multiplier_percent=300, category="injectables")
    purchase = buy(
        patient,
        line(CatalogItemFactory(category="Injectables", price_cents=10_000)),
        line(CatalogItemFactory(category="Facials", price_cents=10_000)),
    )
    assert purchase.points == 300 + 100


def test_the_best_campaign_for_a_line_applies(patient):
    active_campaign(name="Everything ×1.5", multiplier_percent=150)
    active_campaign(name="Injectables ×2", multiplier_percent=200, category="Injectables")
    purchase = buy(
        patient,
        line(CatalogItemFactory(category="Injectables", price_cents=10_000)),
        line(CatalogItemFactory(category="Facials", price_cents=10_000)),
    )
    assert [(p.category, p.campaign.name) for p in purchase.lines.order_by("id")] == [
        ("Injectables", "Injectables ×2"),
        ("Facials", "Everything ×1.5"),
    ]
    assert purchase.points == 200 + 150


def test_a_campaign_outside_its_window_does_not_apply(patient):
    now = timezone.now()
    Campaign.objects.create(name="Over", multiplier_percent=300, starts_at=now - timedelta(days=9), ends_at=now)
    assert buy(patient, line(CatalogItemFactory(price_cents=10_000))).points == 100


def test_campaign_and_tier_multiply_together(patient):
    TierFactory(threshold_points=1, multiplier_percent=150)
    buy(patient, line(CatalogItemFactory(price_cents=100)))
    active_campaign(name="Double", multiplier_percent=200)
    assert buy(patient, line(CatalogItemFactory(price_cents=10_000))).points == 300


def test_a_repeated_till_transaction_id_records_one_purchase(patient):
    item = CatalogItemFactory()
    first, created = record_purchase(patient=patient, lines=[line(item)], source="pos", external_id="T-1")
    again, created_again = record_purchase(patient=patient, lines=[line(item)], source="pos", external_id="T-1")
    assert (first.pk, created, created_again) == (again.pk, True, False)
    assert balance(patient) == 100


# ---------------------------------------------------------------- refunds


def test_refunding_a_line_takes_back_exactly_its_points(patient):
    purchase = buy(patient, line(CatalogItemFactory(price_cents=10_000)), line(CatalogItemFactory(price_cents=5_000)))
    second = purchase.lines.order_by("id").last()
    refund, _ = refund_purchase(purchase=purchase, lines=[(second.pk, 1)])
    assert (refund.points, refund.points_taken, refund.amount_cents) == (50, 50, 5_000)
    assert balance(patient) == 100


def test_a_full_refund_after_a_partial_one_returns_the_rest_exactly(patient):
    TierFactory(threshold_points=1, multiplier_percent=125)
    buy(patient, line(CatalogItemFactory(price_cents=100)))
    before = balance(patient)
    purchase = buy(patient, line(CatalogItemFactory(price_cents=333), quantity=3))
    assert purchase.points == 11
    partial, _ = refund_purchase(purchase=purchase, lines=[(purchase.lines.get().pk, 1)])
    rest, _ = refund_purchase(purchase=purchase)
    # One of three units is a third of 11.25 points: 3; the rest (rounding included) comes back last.
    assert (partial.points, rest.points) == (3, 8)
    assert balance(patient) == before


def test_a_full_refund_returns_every_point_of_the_purchase(patient):
    purchase = buy(patient, line(CatalogItemFactory(price_cents=1_099), quantity=3))
    refund, _ = refund_purchase(purchase=purchase)
    assert refund.points == purchase.points == 32
    assert balance(patient) == 0


def test_refunding_spent_points_stops_at_zero_and_records_the_shortfall(patient):
    purchase = buy(patient, line(CatalogItemFactory(price_cents=10_000)))
    post_points(account_id=patient.points_account.pk, delta=-80, kind=LedgerEntry.Kind.REDEMPTION)
    refund, _ = refund_purchase(purchase=purchase)
    assert (refund.points, refund.points_taken, refund.shortfall_points) == (100, 20, 80)
    assert balance(patient) == 0


def test_a_repeated_refund_id_refunds_once(patient):
    purchase = buy(patient, line(CatalogItemFactory(price_cents=10_000), quantity=2))
    line_id = purchase.lines.get().pk
    first, _ = refund_purchase(purchase=purchase, lines=[(line_id, 1)], external_id="R-1")
    again, created = refund_purchase(purchase=purchase, lines=[(line_id, 1)], external_id="R-1")
    assert (again.pk, created) == (first.pk, False)
    assert balance(patient) == 100


# ---------------------------------------------------------------- cross-booking


@pytest.fixture
def cross_booking(alpha):
    return EarningActionFactory(
        kind=EarningAction.Kind.CROSS_BOOKING, name="New treatment", points=75, limit=EarningAction.Limit.UNLIMITED
    )


def cross_booking_awards(patient) -> int:
    return ActionAward.objects.filter(patient=patient, action__kind=EarningAction.Kind.CROSS_BOOKING).count()


def test_a_first_purchase_earns_no_cross_booking_bonus(patient, cross_booking):
    buy(patient, line(CatalogItemFactory(category="Injectables")), line(CatalogItemFactory(category="Facials")))
    assert cross_booking_awards(patient) == 0


def test_a_purchase_in_a_new_category_earns_the_cross_booking_bonus_once(patient, cross_booking):
    buy(patient, line(CatalogItemFactory(category="Injectables")))
    buy(patient, line(CatalogItemFactory(category="Facials")), line(CatalogItemFactory(category="Skincare")))
    assert cross_booking_awards(patient) == 1
    assert balance(patient) == 100 + 200 + 75


def test_buying_the_same_new_category_again_earns_no_second_bonus(patient, cross_booking):
    buy(patient, line(CatalogItemFactory(category="Injectables")))
    buy(patient, line(CatalogItemFactory(category="Facials")))
    buy(patient, line(CatalogItemFactory(category="facials")))
    assert cross_booking_awards(patient) == 1


# ---------------------------------------------------------------- action limits


def test_a_once_ever_action_is_given_once(patient):
    action = EarningActionFactory(kind=EarningAction.Kind.GOOGLE_REVIEW, limit=EarningAction.Limit.ONCE)
    award_action(patient=patient, action=action)
    with pytest.raises(ActionLimitReached, match="already received"):
        award_action(patient=patient, action=action)
    assert balance(patient) == 100


def test_a_yearly_action_is_given_again_in_the_next_calendar_year(patient):
    action = EarningActionFactory(kind=EarningAction.Kind.OPEN_HOUSE, limit=EarningAction.Limit.YEARLY)
    with time_machine.travel(datetime(2026, 12, 30, 15, tzinfo=UTC), tick=False) as clock:
        award_action(patient=patient, action=action)
        with pytest.raises(ActionLimitReached, match="this year"):
            award_action(patient=patient, action=action)
        clock.move_to(datetime(2027, 1, 2, 15, tzinfo=UTC))
        award_action(patient=patient, action=action)
    assert balance(patient) == 200


def test_a_yearly_action_follows_the_practices_calendar_year(patient, los_angeles):
    action = EarningActionFactory(kind=EarningAction.Kind.CHARITY, limit=EarningAction.Limit.YEARLY)
    # 21:00 on 31 December 2026 in Los Angeles (already 2027 in UTC): this award counts for 2026...
    with time_machine.travel(datetime(2027, 1, 1, 5, tzinfo=UTC), tick=False) as clock:
        award_action(patient=patient, action=action)
        # ...so the patient can have it again during 2027.
        clock.move_to(datetime(2027, 6, 1, 17, tzinfo=UTC))
        award_action(patient=patient, action=action)
    assert balance(patient) == 200


def test_an_unlimited_action_can_be_given_many_times(patient):
    action = EarningActionFactory(kind=EarningAction.Kind.CUSTOM, limit=EarningAction.Limit.UNLIMITED, points=10)
    for _ in range(3):
        award_action(patient=patient, action=action)
    assert balance(patient) == 30


# ---------------------------------------------------------------- expiry date and tiers


def test_a_purchase_sets_the_expiry_date_from_the_programs_expiry_days(patient):
    settings_row = program_settings()
    settings_row.expiry_days = 90
    settings_row.save()
    bought_at = datetime(2026, 3, 1, 18, tzinfo=UTC)
    with time_machine.travel(bought_at, tick=False):
        buy(patient, line(CatalogItemFactory()))
    account = PointsAccount.objects.get(patient=patient)
    assert (account.last_purchase_at, account.expires_at) == (bought_at, bought_at + timedelta(days=90))


def test_every_purchase_moves_the_expiry_date_forward(patient):
    with time_machine.travel(datetime(2026, 3, 1, 18, tzinfo=UTC), tick=False) as clock:
        buy(patient, line(CatalogItemFactory()))
        clock.move_to(datetime(2026, 8, 1, 18, tzinfo=UTC))
        buy(patient, line(CatalogItemFactory(earning=CatalogItem.Earning.NONE)))
    assert PointsAccount.objects.get(patient=patient).expires_at == datetime(2027, 8, 1, 18, tzinfo=UTC)


def test_a_backdated_older_purchase_does_not_move_the_expiry_date_back(patient):
    recent = datetime(2026, 5, 1, 18, tzinfo=UTC)
    buy(patient, line(CatalogItemFactory()), purchased_at=recent)
    buy(patient, line(CatalogItemFactory()), purchased_at=recent - timedelta(days=60))
    account = PointsAccount.objects.get(patient=patient)
    assert (account.last_purchase_at, account.expires_at) == (recent, recent + timedelta(days=365))
    assert account.balance == 200


def test_earning_enough_moves_the_patient_up_a_tier(patient):
    TierFactory(name="Silver", threshold_points=200, multiplier_percent=110)
    gold = TierFactory(name="Gold", threshold_points=400, multiplier_percent=125)
    buy(patient, line(CatalogItemFactory(price_cents=25_000)))
    buy(patient, line(CatalogItemFactory(price_cents=20_000)))
    account = PointsAccount.objects.get(patient=patient)
    assert account.tier == gold
    assert patient.activities.filter(kind="tier_changed", summary="Reached Gold (was Silver)").exists()
