"""A batch of sales writes exactly what the same sales recorded one by one write: every row of every table the
purchase path touches (purchases, lines, ledger, accounts, bonus awards, timeline), in the same order."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction

from loyalty.models import ActionAward, Campaign, CatalogItem, EarningAction, LedgerEntry, PointsAccount, Purchase
from loyalty.services import LineIn, Sale, record_purchase, record_purchases
from patients.models import Activity
from tests.factories import CatalogItemFactory, EarningActionFactory, PatientFactory, TierFactory

NOW = datetime(2026, 6, 10, 15, tzinfo=UTC)


class Rollback(Exception):
    pass


@pytest.fixture
def world(alpha):
    items = [
        CatalogItemFactory(category="Injectables", price_cents=40_000),
        CatalogItemFactory(category="Facials", price_cents=12_500, points_per_dollar=3),
        CatalogItemFactory(category="Skincare", price_cents=4_999, earning=CatalogItem.Earning.FIXED, fixed_points=25),
        CatalogItemFactory(category="Gift cards", price_cents=5_000, earning=CatalogItem.Earning.NONE),
        CatalogItemFactory(category="Laser", price_cents=90_000),
    ]
    TierFactory(name="Silver", threshold_points=500, multiplier_percent=110)
    TierFactory(name="Gold", threshold_points=2_000, multiplier_percent=125)
    Campaign.objects.create(
        name="Facial fortnight",
        category="Facials",
        multiplier_percent=200,
        starts_at=NOW - timedelta(days=20),
        ends_at=NOW - timedelta(days=5),
    )
    Campaign.objects.create(
        name="Double days", multiplier_percent=150, starts_at=NOW - timedelta(days=3), ends_at=NOW + timedelta(days=1)
    )
    patients = [PatientFactory() for _ in range(8)]
    with time_machine.travel(NOW - timedelta(days=100), tick=False):
        # Some history: an earlier category for half of them, one already Silver.
        for patient in patients[:4]:
            record_purchase(patient=patient, lines=[LineIn(1, 40_000, items[0])], source="desk")
        record_purchase(patient=patients[0], lines=[LineIn(2, 90_000, items[4])], source="desk")
    return items, patients


def random_sales(items, patients, seed: int) -> list[Sale]:
    chance = random.Random(seed)
    sales = []
    for number in range(40):
        lines = []
        for _ in range(chance.randint(1, 3)):
            if chance.random() < 0.15:
                lines.append(LineIn(chance.randint(1, 2), chance.randint(0, 20_000), name="Custom", category="Misc"))
            else:
                item = chance.choice(items)
                price = item.price_cents if chance.random() < 0.8 else chance.randint(0, 100_000)
                lines.append(LineIn(chance.randint(1, 3), price, item))
        sales.append(
            Sale(
                patient=chance.choice(patients),
                lines=lines,
                source="pos",
                external_id=f"T-{seed}-{number}" if chance.random() < 0.9 else None,
                # Out of order on purpose: an older sale must not move the expiry clock back.
                purchased_at=NOW - timedelta(days=chance.randint(0, 25), minutes=chance.randint(0, 600)),
            )
        )
    # A repeat of an earlier sale in the same batch, and one of another patient's id (refused).
    sales.append(sales[3])
    first = sales[5]
    stranger = next(p for p in patients if p.pk != first.patient.pk)
    sales.append(Sale(patient=stranger, lines=first.lines, source="pos", external_id=first.external_id))
    return sales


def snapshot(patients) -> dict:
    """Every row written, with keys replaced by their position, so two runs compare."""
    purchases = list(Purchase.objects.filter(created_at=NOW).order_by("pk"))
    position = {purchase.pk: index for index, purchase in enumerate(purchases)}
    awards = list(ActionAward.objects.filter(awarded_at=NOW).order_by("pk"))
    award_position = {award.pk: index for index, award in enumerate(awards)}

    def key(value: str | None):
        if value and value.startswith("purchase:"):
            return ("purchase", position[int(value.split(":")[1])])
        if value and value.startswith("award:"):
            return ("award", award_position[int(value.split(":")[1])])
        return value

    def data(values: dict) -> dict:
        values = dict(values)
        if values.get("purchase_id") is not None:
            values["purchase_id"] = position[values["purchase_id"]]
        if values.get("award_id") is not None:
            values["award_id"] = award_position[values["award_id"]]
        return values

    return {
        "purchases": [
            (p.patient_id, p.source, p.external_id, p.total_cents, p.points, p.tier_multiplier_percent, p.purchased_at)
            for p in purchases
        ],
        "lines": [
            (
                position[line.purchase_id],
                line.item_id,
                line.name,
                line.category,
                line.quantity,
                line.unit_price_cents,
                line.total_cents,
                line.base_points,
                line.weighted_points,
                line.campaign_id,
            )
            for purchase in purchases
            for line in purchase.lines.order_by("pk")
        ],
        "ledger": [
            (
                e.account.patient_id,
                e.kind,
                e.delta,
                e.balance_after,
                position.get(e.purchase_id),
                award_position.get(e.award_id),
                e.note,
                key(e.idempotency_key),
            )
            for e in LedgerEntry.objects.filter(created_at=NOW).select_related("account").order_by("pk")
        ],
        "awards": [(a.action_id, a.patient_id, a.limit_key, a.points, a.note) for a in awards],
        "timeline": [
            (a.patient_id, a.kind, a.summary, data(a.data))
            for a in Activity.objects.filter(created_at=NOW, patient__in=patients).order_by("pk")
        ],
        "accounts": [
            (a.patient_id, a.balance, a.lifetime_earned, a.last_purchase_at, a.expires_at, a.tier_id, a.updated_at)
            for a in PointsAccount.objects.filter(patient__in=patients).order_by("patient_id")
        ],
    }


def one_by_one(sales) -> list:
    outcomes = []
    for sale in sales:
        outcomes.append(record_purchases([sale])[0])
    return outcomes


@pytest.mark.parametrize(
    ("seed", "limit"),
    [(1, EarningAction.Limit.ONCE), (2, EarningAction.Limit.UNLIMITED), (3, EarningAction.Limit.YEARLY)],
)
def test_a_batch_writes_what_the_same_sales_one_by_one_write(world, seed, limit):
    items, patients = world
    EarningActionFactory(kind=EarningAction.Kind.CROSS_BOOKING, points=40, limit=limit)
    sales = random_sales(items, patients, seed)
    runs = {}
    for name, record in (("single", one_by_one), ("batch", record_purchases)):
        try:
            with transaction.atomic(), time_machine.travel(NOW, tick=False):
                outcomes = record(sales)
                runs[name] = (snapshot(patients), [(o.created, type(o.error).__name__) for o in outcomes])
                raise Rollback
        except Rollback:
            pass

    single, batch = runs["single"], runs["batch"]
    assert batch[1] == single[1]
    assert single[1][-2:] == [(False, "NoneType"), (False, "IdempotencyConflict")]
    for table in single[0]:
        assert batch[0][table] == single[0][table], table
    # The sales did something worth comparing: points, bonuses and tier changes.
    assert len(single[0]["purchases"]) == 40
    assert any(kind == "bonus" for _, kind, *_ in single[0]["ledger"])
    assert any(kind == "tier_changed" for _, kind, *_ in single[0]["timeline"])
