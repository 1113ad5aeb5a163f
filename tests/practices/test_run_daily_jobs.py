"""`manage.py run_daily_jobs`: the daily jobs in the foreground, safe to run twice or in two processes at once."""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.utils import timezone
from django_q.models import OrmQ

from loyalty.models import ActionAward, EarningAction, ExpiryReminder, LedgerEntry
from loyalty.services import LineIn, record_purchase
from patients.models import Message, Notification
from practices.models import BackgroundTask, Practice
from tests.factories import CatalogItemFactory, EarningActionFactory, PatientFactory
from tests.production.processes import MANAGE, PYTHON, ROOT, environment
from tests.throwaway import entered, throwaway_practice

BIRTHDAYS, EXPIRED, REMINDED = 4, 3, 2


def buy(patient, *, when: datetime) -> None:
    with time_machine.travel(when, tick=False):
        item = CatalogItemFactory(price_cents=10_000)
        record_purchase(patient=patient, lines=[LineIn(quantity=1, unit_price_cents=10_000, item=item)], source="desk")


# ---------------------------------------------------------------- two processes at once


@pytest.fixture(scope="module")
def jobs_practice(django_db_setup, django_db_blocker) -> Iterator[Practice]:
    yield from throwaway_practice(django_db_blocker, prefix="daily", name="Daily Jobs Clinic")


@pytest.fixture
def practice(jobs_practice, transactional_db) -> Iterator[Practice]:
    yield from entered(jobs_practice)
    BackgroundTask.objects.filter(schema_name=jobs_practice.schema_name).delete()
    OrmQ.objects.all().delete()


def a_day_of_work(practice: Practice) -> dict[str, list]:
    """Birthdays today (the action has no limit), balances past their expiry date, and balances a few days
    from it (a reminder is due), all committed for other processes to see."""
    today = timezone.now().astimezone(ZoneInfo(practice.time_zone)).date()
    EarningActionFactory(kind=EarningAction.Kind.BIRTHDAY, points=100, limit=EarningAction.Limit.UNLIMITED)
    world = {
        "birthdays": [PatientFactory(birthday=today.replace(year=1992), notify_by_sms=True) for _ in range(BIRTHDAYS)],
        "expired": [PatientFactory() for _ in range(EXPIRED)],
        "reminded": [PatientFactory() for _ in range(REMINDED)],
    }
    for patient in world["expired"]:
        buy(patient, when=timezone.now() - timedelta(days=400))
    for patient in world["reminded"]:
        buy(patient, when=timezone.now() - timedelta(days=360))
    return world


def run_in_process(slug: str) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, MANAGE, "run_daily_jobs", "--practice", slug],
        cwd=ROOT,
        env=environment(DEBUG="true", SMS_BACKEND="console"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def loyalty_counts(stdout: str) -> dict:
    line = next(line for line in stdout.splitlines() if "loyalty.jobs.run_daily_jobs" in line)
    return ast.literal_eval(line.split("loyalty.jobs.run_daily_jobs: ", 1)[1])


def test_two_runs_at_once_do_what_one_run_does(practice):
    world = a_day_of_work(practice)

    runs = [run_in_process(practice.slug), run_in_process(practice.slug)]
    outputs = [run.communicate(timeout=120) for run in runs]
    for run, (_stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr

    # Between them the two runs did each thing once: one did it, the other found it done.
    totals = [loyalty_counts(stdout) for stdout, _ in outputs]
    assert sum(t["birthdays"] for t in totals) == BIRTHDAYS
    assert sum(t["expired"] for t in totals) == EXPIRED
    assert sum(t["reminders"] for t in totals) == REMINDED

    birthday = [p.pk for p in world["birthdays"]]
    assert sorted(ActionAward.objects.filter(patient__in=birthday).values_list("patient", flat=True)) == birthday
    per_patient = Notification.objects.filter(patient__in=birthday, title="Happy birthday!").values("patient")
    assert [row["n"] for row in per_patient.annotate(n=Count("id"))] == [1] * BIRTHDAYS
    texts = Message.objects.filter(patient__in=birthday, body__contains="Happy birthday").values("patient")
    assert [row["n"] for row in texts.annotate(n=Count("id"))] == [1] * BIRTHDAYS
    expired = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EXPIRY).values("account__patient")
    assert sorted(row["account__patient"] for row in expired) == sorted(p.pk for p in world["expired"])
    reminded = Notification.objects.filter(title__contains="expire on").values_list("patient", flat=True)
    assert sorted(reminded) == sorted(p.pk for p in world["reminded"])
    assert ExpiryReminder.objects.values("account").distinct().count() == REMINDED


# ---------------------------------------------------------------- arguments


def test_it_runs_every_daily_job_for_one_practice(alpha, capsys):
    patient = PatientFactory()
    buy(patient, when=timezone.now() - timedelta(days=400))
    call_command("run_daily_jobs", "--practice", "alpha")
    out = capsys.readouterr().out
    assert "alpha: practices.jobs.clear_expired_sessions: 0" in out
    assert "alpha: loyalty.jobs.run_daily_jobs: {'expired': 1" in out
    assert "alpha: rewards.jobs.run_daily_jobs: 0" in out
    assert "alpha: analytics.jobs.run_daily_jobs:" in out
    assert "beta:" not in out
    assert LedgerEntry.objects.filter(account__patient=patient, kind=LedgerEntry.Kind.EXPIRY).count() == 1


def test_a_missed_day_is_run_as_of_its_end(alpha, capsys):
    patient = PatientFactory()
    buy(patient, when=timezone.now() - timedelta(days=370))  # expired 5 days ago
    six_days_ago = (timezone.now() - timedelta(days=6)).astimezone(ZoneInfo(alpha.time_zone)).date()
    call_command("run_daily_jobs", "--practice", "alpha", "--date", six_days_ago.isoformat())
    assert "'expired': 0" in capsys.readouterr().out  # not yet expired at the end of that day
    call_command("run_daily_jobs", "--practice", "alpha", "--date", (six_days_ago + timedelta(days=2)).isoformat())
    assert "'expired': 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--practice", "nope"], "No practice has the slug 'nope'."),
        (["--practice", "platform"], "No practice has the slug 'platform'."),
        (["--date", "2026-13-01"], "--date must be a date as YYYY-MM-DD, not '2026-13-01'."),
        (["--date", "2999-01-01"], "--date 2999-01-01 is in the future"),
    ],
)
def test_wrong_arguments_are_refused_clearly(db, arguments, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("run_daily_jobs", *arguments)


def test_an_inactive_practice_is_refused(beta):
    Practice.objects.filter(pk=beta.pk).update(is_active=False)
    with pytest.raises(CommandError, match="is not active"):
        call_command("run_daily_jobs", "--practice", "beta")
