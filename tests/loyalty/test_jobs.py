"""The points engine's daily job as a whole: tiers, the fan-out over practices, isolation and cost."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from loyalty import jobs
from loyalty.models import LedgerEntry, PointsAccount, Purchase
from loyalty.services import LineIn, record_purchase, refund_purchase
from patients.models import Activity
from practices import tasks
from tests.factories import CatalogItemFactory, PatientFactory, TierFactory

BOUGHT_AT = datetime(2026, 2, 10, 16, tzinfo=UTC)


def buy(patient, *, price_cents: int = 10_000, when: datetime = BOUGHT_AT) -> None:
    with time_machine.travel(when, tick=False):
        item = CatalogItemFactory(price_cents=price_cents)
        record_purchase(
            patient=patient, lines=[LineIn(quantity=1, unit_price_cents=price_cents, item=item)], source="desk"
        )


def run_at(moment: datetime) -> dict:
    with time_machine.travel(moment, tick=False):
        return jobs.run_daily_jobs()


def tier_of(patient) -> str | None:
    account = PointsAccount.objects.select_related("tier").get(patient=patient)
    return account.tier.name if account.tier else None


# ---------------------------------------------------------------- tiers


@pytest.fixture
def gold(alpha):
    return TierFactory(name="Gold", threshold_points=100, multiplier_percent=150)


def test_a_tier_is_kept_while_its_earnings_are_in_the_last_12_months(alpha, gold):
    patient = PatientFactory()
    buy(patient)
    assert run_at(BOUGHT_AT + timedelta(days=364))["tiers"] == 0
    assert tier_of(patient) == "Gold"


def test_a_tier_is_lost_when_its_earnings_roll_off_the_12_month_window(alpha, gold):
    patient = PatientFactory()
    buy(patient)
    assert tier_of(patient) == "Gold"
    assert run_at(BOUGHT_AT + timedelta(days=366))["tiers"] == 1
    assert tier_of(patient) is None
    assert patient.activities.filter(kind=Activity.Kind.TIER_CHANGED, summary="Moved to no tier (was Gold)").exists()


def test_a_patient_moves_down_one_tier_when_part_of_their_earnings_roll_off(alpha, gold):
    TierFactory(name="Platinum", threshold_points=300, multiplier_percent=200)
    patient = PatientFactory()
    buy(patient, price_cents=20_000)
    buy(patient, price_cents=15_000, when=BOUGHT_AT + timedelta(days=200))  # ×1.5 in Gold: 225 points
    assert tier_of(patient) == "Platinum"
    run_at(BOUGHT_AT + timedelta(days=366))
    assert tier_of(patient) == "Gold"


def test_a_refund_inside_the_window_counts_against_the_tier(alpha, gold):
    patient = PatientFactory()
    buy(patient)
    with time_machine.travel(BOUGHT_AT + timedelta(days=1), tick=False):
        refund_purchase(purchase=Purchase.objects.get(patient=patient))
    assert tier_of(patient) is None
    assert run_at(BOUGHT_AT + timedelta(days=2))["tiers"] == 0


def test_tiers_already_right_are_not_re_evaluated(alpha, gold, monkeypatch):
    patient = PatientFactory()
    buy(patient)
    evaluated = []
    monkeypatch.setattr(jobs, "evaluate_tier", lambda **kwargs: evaluated.append(kwargs))
    run_at(BOUGHT_AT + timedelta(days=30))
    assert evaluated == []


# ---------------------------------------------------------------- the whole job


def test_the_job_returns_and_logs_what_it_did(alpha, caplog):
    patient = PatientFactory()
    buy(patient)
    with caplog.at_level(logging.INFO, logger="loyalty.jobs"):
        counts = run_at(BOUGHT_AT + timedelta(days=366))
    assert counts == {"expired": 1, "birthdays": 0, "reminders": 0, "tiers": 0}
    assert "Daily loyalty jobs for p_alpha" in caplog.text
    assert "'expired': 1" in caplog.text


def test_the_fan_out_runs_the_job_in_every_practice_in_its_own_schema(alpha, beta, django_capture_on_commit_callbacks):
    alpha_patient = PatientFactory()
    buy(alpha_patient)
    with tenant_context(beta):
        beta_patient = PatientFactory()
        buy(beta_patient, price_cents=30_000)
    with time_machine.travel(BOUGHT_AT + timedelta(days=366), tick=False):
        connection.set_schema_to_public()
        with django_capture_on_commit_callbacks(execute=True):  # the queue runs tasks at once in tests
            assert tasks.run_daily_jobs() >= 2
    connection.set_tenant(alpha)
    assert PointsAccount.objects.get(patient=alpha_patient).balance == 0
    with tenant_context(beta):
        expiry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.EXPIRY)
        assert (expiry.account.patient_id, expiry.delta) == (beta_patient.pk, -300)


def test_running_the_job_for_one_practice_never_touches_another(alpha, beta):
    with tenant_context(beta):
        beta_patient = PatientFactory()
        buy(beta_patient)
    run_at(BOUGHT_AT + timedelta(days=366))
    with tenant_context(beta):
        assert PointsAccount.objects.get(patient=beta_patient).balance == 100
        assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EXPIRY).exists()


def test_the_job_makes_no_query_per_patient_when_nothing_is_due(alpha, gold):
    def queries_with(patient_count: int) -> int:
        for _ in range(patient_count):
            buy(PatientFactory(), price_cents=5_000)  # points below the tier, expiring in a year
        run_at(BOUGHT_AT + timedelta(days=190))  # their 180-day reminders go out
        with CaptureQueriesContext(connection) as queries:
            assert run_at(BOUGHT_AT + timedelta(days=191)) == {"expired": 0, "birthdays": 0, "reminders": 0, "tiers": 0}
        return len(queries.captured_queries)

    assert queries_with(3) == queries_with(20)
