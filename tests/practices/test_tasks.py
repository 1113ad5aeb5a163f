from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule
from django_tenants.utils import tenant_context

from practices.models import Practice
from practices.signals import DAILY_SCHEDULE_NAME, FREQUENT_SCHEDULE_NAME
from practices.tasks import enqueue_for_practice, in_practice_schema, run_daily_jobs, run_frequent_jobs

seen_schemas: list[str] = []


def record_schema(tag: str) -> str:
    seen_schemas.append(f"{tag}:{connection.schema_name}")
    return connection.schema_name


@pytest.fixture(autouse=True)
def _clear():
    seen_schemas.clear()


def test_a_task_enqueued_for_a_practice_runs_in_its_schema(beta):
    connection.set_schema_to_public()
    enqueue_for_practice("tests.practices.test_tasks.record_schema", "hello", schema_name=beta.schema_name)
    assert seen_schemas == [f"hello:{beta.schema_name}"]
    assert connection.schema_name == "public"


def test_the_current_practice_is_the_default(alpha):
    enqueue_for_practice("tests.practices.test_tasks.record_schema", "here")
    assert seen_schemas == [f"here:{alpha.schema_name}"]


def test_in_practice_schema_enters_the_practice_and_comes_back(alpha, beta):
    connection.set_tenant(alpha)
    with in_practice_schema(beta.schema_name):
        assert connection.schema_name == beta.schema_name
    assert connection.schema_name == alpha.schema_name
    connection.set_schema_to_public()
    with in_practice_schema(alpha.schema_name):
        assert connection.schema_name == alpha.schema_name
    assert connection.schema_name == "public"


def test_in_practice_schema_leaves_the_connection_alone_when_already_there(alpha):
    connection.set_tenant(alpha)
    tenant = connection.tenant
    with in_practice_schema(alpha.schema_name):
        assert connection.tenant is tenant  # not switched out and back (no SET search_path either way)
    assert connection.tenant is tenant


def test_enqueueing_without_a_practice_is_refused(db):
    connection.set_schema_to_public()
    with pytest.raises(ValueError, match="needs a practice"):
        enqueue_for_practice("tests.practices.test_tasks.record_schema", "x")


def test_daily_jobs_fan_out_over_active_practices_only(db, settings, beta):
    Practice.objects.filter(pk=beta.pk).update(is_active=False)
    settings.PRACTICE_DAILY_JOBS = ["tests.practices.test_tasks.record_daily"]
    assert run_daily_jobs() == 1
    assert seen_schemas == ["daily:p_alpha"]


def record_daily() -> None:
    record_schema("daily")


def test_the_schedules_exist_once(db):
    schedule = Schedule.objects.get(name=DAILY_SCHEDULE_NAME)
    assert schedule.func == "practices.tasks.run_daily_jobs"
    assert schedule.schedule_type == Schedule.DAILY
    frequent = Schedule.objects.get(name=FREQUENT_SCHEDULE_NAME)
    assert (frequent.func, frequent.schedule_type, frequent.minutes) == (
        "practices.tasks.run_frequent_jobs",
        Schedule.MINUTES,
        5,
    )


def test_frequent_jobs_fan_out_too(db, settings):
    settings.PRACTICE_FREQUENT_JOBS = ["tests.practices.test_tasks.record_daily"]
    assert run_frequent_jobs() == 2
    assert sorted(seen_schemas) == ["daily:p_alpha", "daily:p_beta"]


def test_clearing_sessions_touches_only_the_practice_it_runs_for(alpha, beta):
    past = timezone.now() - timedelta(days=1)
    Session.objects.create(session_key="a-old", session_data="", expire_date=past)
    Session.objects.create(session_key="a-new", session_data="", expire_date=timezone.now() + timedelta(days=1))
    with tenant_context(beta):
        Session.objects.create(session_key="b-old", session_data="", expire_date=past)

    enqueue_for_practice("practices.jobs.clear_expired_sessions", schema_name=alpha.schema_name)

    assert list(Session.objects.values_list("session_key", flat=True)) == ["a-new"]
    with tenant_context(beta):
        assert Session.objects.filter(session_key="b-old").exists()
