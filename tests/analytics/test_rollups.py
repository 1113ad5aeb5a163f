"""The daily rollups: built by the daily job, safe to run twice, always giving the raw rows' figures."""

from datetime import date, timedelta

import pytest
from django.conf import settings
from django.db.models import Sum

from analytics import jobs, rollups, selectors
from analytics.models import DailyPoints, DailyPurchases, DailyVisitors, EarnerRanking, RollupState
from analytics.periods import preset_period
from loyalty.models import LedgerEntry
from loyalty.services import LineIn, record_purchase
from tests.analytics.history import (
    BUILT_AFTER,
    MARCH,
    NY,
    READ_AT,
    at,
    build_funnel,
    build_history,
    travel,
)
from tests.conftest import set_time_zone
from tests.factories import CatalogItemFactory


@pytest.fixture
def history(alpha):
    made = build_history()
    build_funnel(made)
    return made


def figures(period) -> dict:
    with travel(READ_AT):
        result = selectors.dashboard(period, with_money=True)
    result.pop("rolled_through")
    return result


def table_rows() -> list:
    return [
        sorted(model.objects.values_list(*[f.attname for f in model._meta.fields if f.attname != "id"]))
        for model in rollups.ROLLUP_MODELS
        if model is not DailyVisitors
    ] + [sorted(DailyVisitors.objects.values_list("day", "chunk"))]


def test_the_daily_job_is_registered():
    assert "analytics.jobs.run_daily_jobs" in settings.PRACTICE_DAILY_JOBS


def test_the_first_build_backfills_every_day_up_to_yesterday(history):
    with travel(BUILT_AFTER):
        result = rollups.build()

    # From Ivy joining (April 1, 2025) to April 1, 2026: the build ran at 03:00 on April 2.
    assert result.rolled_through == date(2026, 4, 1)
    assert result.days_built == (date(2026, 4, 1) - date(2025, 4, 1)).days + 1
    state = RollupState.objects.get()
    assert (state.time_zone, state.rolled_through) == ("America/New_York", date(2026, 4, 1))


def test_a_day_that_ended_less_than_an_hour_ago_waits(history):
    with travel(at(4, 2, 0, 30)):
        assert rollups.build().rolled_through == date(2026, 3, 31)


def test_running_the_job_twice_changes_nothing(history):
    with travel(BUILT_AFTER):
        first = jobs.run_daily_jobs()
        rows = table_rows()
        second = jobs.run_daily_jobs()

    assert first["days_built"] > 0 and second["days_built"] == 0 and second["days_rebuilt"] == 0
    assert table_rows() == rows


def test_missed_days_are_caught_up(history):
    with travel(at(3, 20, 3)):
        rollups.build()
    with travel(at(3, 26, 3)):
        result = rollups.build()

    assert (result.rolled_through, result.days_built) == (date(2026, 3, 25), 6)


def test_the_rolled_up_points_add_up_to_the_ledger(history):
    with travel(BUILT_AFTER):
        rollups.build()

    rolled = DailyPoints.objects.aggregate(net=Sum("points_in") - Sum("points_out"))["net"]
    assert rolled == LedgerEntry.objects.filter(created_at__lt=at(4, 2, 0, 0)).aggregate(net=Sum("delta"))["net"]


@pytest.mark.parametrize("key", ["7d", "90d", "12m"])
def test_rollups_give_the_same_figures_as_the_raw_rows(history, key):
    period = preset_period(key, today=READ_AT.date(), zone=NY)
    raw = figures(period)
    with travel(BUILT_AFTER):
        rollups.build()

    assert figures(period) == raw


def test_a_purchase_recorded_later_for_a_past_day_counts_at_once_and_is_rolled_in_next_time(history):
    with travel(BUILT_AFTER):
        rollups.build()
    before = figures(MARCH)
    item = CatalogItemFactory(price_cents=4_000)
    with travel(at(4, 2, 9)):
        # Imported today, dated March 10: a day already rolled up.
        record_purchase(
            patient=history.ben,
            lines=[LineIn(item=item, quantity=1, unit_price_cents=4_000)],
            source="import",
            purchased_at=at(3, 10, 15),
        )

    now = figures(MARCH)
    assert now["revenue"]["all"].spend_cents == before["revenue"]["all"].spend_cents + 4_000
    assert now["retention"]["member"]["repeat_patients"] == before["retention"]["member"]["repeat_patients"] + 1

    with travel(at(4, 3, 3)):
        result = rollups.build()
    assert result.days_rebuilt == 1
    assert DailyPurchases.objects.filter(day=date(2026, 3, 10)).aggregate(n=Sum("purchase_count"))["n"] == 2
    assert figures(MARCH) == now


def test_changing_the_practice_time_zone_rebuilds_everything(history, alpha):
    with travel(BUILT_AFTER):
        rollups.build()
    set_time_zone(alpha, "America/Los_Angeles")
    with travel(BUILT_AFTER + timedelta(hours=3)):
        result = rollups.build()

    assert result.rebuilt_everything
    assert RollupState.objects.get().time_zone == "America/Los_Angeles"
    # Ada's purchases at 23:30 on February 28 and 00:10 on March 1 in New York were both on February 28
    # in Los Angeles (20:30 and 21:10).
    assert DailyPoints.objects.filter(day=date(2026, 2, 28), kind="purchase").get().points_in == 100 + 200


def test_the_job_ranks_the_top_earners_of_each_preset(history):
    with travel(BUILT_AFTER):
        result = jobs.run_daily_jobs()

    assert result["rankings"] == 4
    spans = set(EarnerRanking.objects.values_list("first_day", "last_day"))
    assert (date(2026, 3, 4), date(2026, 4, 1)) in spans  # the last 30 days, but today


def test_a_ranking_with_fewer_earners_than_its_depth_holds_them_all(history):
    with travel(BUILT_AFTER):
        rollups.build()
        ranking = selectors.ranking(date(2026, 3, 1), date(2026, 3, 31), NY)

    accounts = {
        history.ada.points_account.pk: 220,
        history.cleo.points_account.pk: 210,
        history.ben.points_account.pk: 75,
    }
    assert ranking == [[account, points] for account, points in accounts.items()]
