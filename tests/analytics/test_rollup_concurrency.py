"""Daily jobs that run at the same moment build the rollups once (real threads, real transactions).

They commit, so they run in a throwaway practice of this module's (tests/throwaway.py explains why).
"""

from datetime import timedelta

import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone

from analytics import rollups
from analytics.models import DailyPoints, RollupState
from loyalty.models import LedgerEntry
from loyalty.services import LineIn, record_purchase
from tests.factories import CatalogItemFactory, PatientFactory
from tests.throwaway import entered, race, throwaway_practice

THREADS = 4


@pytest.fixture(scope="module")
def throwaway(django_db_setup, django_db_blocker):
    yield from throwaway_practice(django_db_blocker, prefix="anconc", name="Rollup races")


@pytest.fixture
def practice(throwaway):
    yield from entered(throwaway)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_builds_roll_each_day_up_once(practice):
    item = CatalogItemFactory(price_cents=5_000)
    for days_ago in (3, 2):
        with time_machine.travel(timezone.now() - timedelta(days=days_ago), tick=False):
            record_purchase(
                patient=PatientFactory(), lines=[LineIn(item=item, quantity=1, unit_price_cents=5_000)], source="desk"
            )
    results = race(practice, lambda i: rollups.build(), THREADS)

    assert all(isinstance(result, rollups.BuildResult) for result in results), results
    assert sorted(result.days_built > 0 for result in results) == [False] * (THREADS - 1) + [True]
    assert RollupState.objects.count() == 1
    rolled = DailyPoints.objects.filter(kind="purchase").aggregate(points=Sum("points_in"))["points"]
    assert rolled == LedgerEntry.objects.filter(kind="purchase").aggregate(points=Sum("delta"))["points"] == 100
