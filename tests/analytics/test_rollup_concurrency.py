"""Daily jobs that run at the same moment build the rollups once (real threads, real transactions).

Like tests/loyalty/test_concurrency.py, the tests run in a throwaway practice made for this module, so the
flush after a transactional test empties only its tables; it is dropped at the end.
"""

import secrets
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from analytics import rollups
from analytics.models import DailyPoints, RollupState
from loyalty.models import LedgerEntry
from loyalty.services import LineIn, record_purchase
from practices.models import Practice
from practices.services import create_practice
from tests.factories import CatalogItemFactory, PatientFactory

THREADS = 4


@pytest.fixture(scope="module")
def throwaway_practice(django_db_setup, django_db_blocker):
    slug = f"anconc-{secrets.token_hex(4)}"
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        for leftover in Practice.objects.filter(slug__startswith="anconc-"):
            leftover.delete(force_drop=True)
        practice = create_practice(name="Rollup races", slug=slug, owner_email="owner@anconc.test").practice
    yield practice
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        practice.delete(force_drop=True)


@pytest.fixture
def practice(throwaway_practice):
    connection.set_tenant(throwaway_practice)
    yield throwaway_practice
    connection.set_tenant(throwaway_practice)  # left entered: the flush empties this practice's tables


@pytest.mark.django_db(transaction=True)
def test_simultaneous_builds_roll_each_day_up_once(practice):
    item = CatalogItemFactory(price_cents=5_000)
    for days_ago in (3, 2):
        with time_machine.travel(timezone.now() - timedelta(days=days_ago), tick=False):
            record_purchase(
                patient=PatientFactory(), lines=[LineIn(item=item, quantity=1, unit_price_cents=5_000)], source="desk"
            )
    start = threading.Barrier(THREADS)
    results = [None] * THREADS

    def build(i: int) -> None:
        try:
            connection.set_tenant(practice)
            start.wait()
            results[i] = rollups.build()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=build, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(isinstance(result, rollups.BuildResult) for result in results), results
    assert sorted(result.days_built > 0 for result in results) == [False] * (THREADS - 1) + [True]
    assert RollupState.objects.count() == 1
    rolled = DailyPoints.objects.filter(kind="purchase").aggregate(points=Sum("points_in"))["points"]
    assert rolled == LedgerEntry.objects.filter(kind="purchase").aggregate(points=Sum("delta"))["points"] == 100
