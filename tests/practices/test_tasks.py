"""The outbox of background tasks (practices.tasks): queued with the change, run once, re-driven when lost.

In tests django-q2 runs a task as soon as it is handed over (`sync`), and the hand-over happens after
commit: `commit` (django_capture_on_commit_callbacks) stands for the commit.
"""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.db import connection, connections, transaction
from django.utils import timezone
from django_q.models import Schedule
from django_tenants.utils import tenant_context

from practices import log_context, tasks
from practices.models import BackgroundTask, Practice
from practices.signals import DAILY_SCHEDULE_NAME, FREQUENT_SCHEDULE_NAME, REDRIVE_SCHEDULE_NAME
from practices.tasks import (
    enqueue_for_practice,
    in_practice_schema,
    redrive_tasks,
    retry_failed,
    run_daily_jobs,
    run_frequent_jobs,
    run_task,
)

seen: list[str] = []
# How many times `flaky` should still fail.
failures_left = [0]


def record_schema(tag: str) -> str:
    seen.append(f"{tag}:{connection.schema_name}")
    return connection.schema_name


def flaky(tag: str) -> None:
    if failures_left[0] > 0:
        failures_left[0] -= 1
        raise ConnectionError("the provider did not answer")
    record_schema(tag)


def record_daily(now=None) -> None:
    record_schema("daily")


def queue_again_while_running(tag: str) -> None:
    """Stands for a task during which its own key is queued again (a change it may not have seen)."""
    record_schema(tag)
    if len(seen) == 1:
        enqueue_for_practice("tests.practices.test_tasks.queue_again_while_running", tag, key="again")


@pytest.fixture(autouse=True)
def _clear():
    seen.clear()
    failures_left[0] = 0


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def task_row(**filters) -> BackgroundTask:
    return BackgroundTask.objects.get(**filters)


# ---------------------------------------------------------------- queueing and running


def test_a_task_enqueued_for_a_practice_runs_in_its_schema_after_commit(beta, commit):
    connection.set_schema_to_public()
    with commit():
        task = enqueue_for_practice("tests.practices.test_tasks.record_schema", "hello", schema_name=beta.schema_name)
        assert seen == []  # nothing runs before the commit
    assert seen == [f"hello:{beta.schema_name}"]
    assert connection.schema_name == "public"
    task.refresh_from_db()
    assert (task.status, task.attempts, task.last_error) == (BackgroundTask.Status.DONE, 1, "")


def test_the_current_practice_is_the_default(alpha, commit):
    with commit():
        task = enqueue_for_practice("tests.practices.test_tasks.record_schema", "here")
    assert task.schema_name == alpha.schema_name
    assert seen == [f"here:{alpha.schema_name}"]


def test_a_task_is_written_with_the_change_and_rolled_back_with_it(alpha, commit):
    with commit(), pytest.raises(RuntimeError), transaction.atomic():
        enqueue_for_practice("tests.practices.test_tasks.record_schema", "lost")
        assert BackgroundTask.objects.filter(func__endswith="record_schema").count() == 1
        raise RuntimeError("the change fails")
    assert not BackgroundTask.objects.filter(func__endswith="record_schema").exists()
    assert seen == []


def test_enqueueing_without_a_practice_is_refused(db):
    connection.set_schema_to_public()
    with pytest.raises(ValueError, match="needs a practice"):
        enqueue_for_practice("tests.practices.test_tasks.record_schema", "x")


def test_a_task_runs_once_however_often_it_is_handed_over(alpha, commit):
    with commit():
        task = enqueue_for_practice("tests.practices.test_tasks.record_schema", "once")
    assert run_task(task.pk) == "nothing to do"
    assert seen == [f"once:{alpha.schema_name}"]


def test_a_task_another_worker_is_running_is_skipped(alpha):
    task = enqueue_for_practice("tests.practices.test_tasks.record_schema", "busy")
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [tasks.TASK_LOCK_CLASS, task.pk])
            locked.set()
            release.wait(10)
            # Released before the connection closes: PostgreSQL frees a closed session's locks a moment later.
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [tasks.TASK_LOCK_CLASS, task.pk])
        connections["default"].close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        assert run_task(task.pk) == "running elsewhere"
        assert tasks._lock_key(task.pk) in tasks.running_task_keys()
    finally:
        release.set()
        thread.join(10)
    assert seen == []
    assert run_task(task.pk) == "done"


def test_a_task_of_a_practice_that_is_gone_fails_without_running(alpha):
    task = enqueue_for_practice("tests.practices.test_tasks.record_schema", "x")
    BackgroundTask.objects.filter(pk=task.pk).update(schema_name="p_gone")
    assert run_task(task.pk) == "practice gone"
    assert task_row(pk=task.pk).status == BackgroundTask.Status.FAILED
    assert seen == []


# ---------------------------------------------------------------- failures and the sweep


def test_a_lost_hand_over_is_repaired_by_the_sweep(alpha, commit, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks, "async_task", broker_down)
    with commit():
        task = enqueue_for_practice("tests.practices.test_tasks.record_schema", "later")  # no error for the caller
    assert task_row(pk=task.pk).status == BackgroundTask.Status.PENDING
    monkeypatch.undo()

    # Not before its grace period: the hand-over may still be on its way.
    assert redrive_tasks() == 0
    assert redrive_tasks(now=timezone.now() + timedelta(seconds=61)) == 1
    assert seen == [f"later:{alpha.schema_name}"]
    assert task_row(pk=task.pk).status == BackgroundTask.Status.DONE


def test_a_failing_task_is_retried_later_with_a_growing_delay_then_given_up(alpha, commit, settings):
    settings.BACKGROUND_TASKS = {**settings.BACKGROUND_TASKS, "max_attempts": 3}
    failures_left[0] = 10
    start = timezone.now()
    with commit():
        task = enqueue_for_practice("tests.practices.test_tasks.flaky", "x")
    task.refresh_from_db()
    assert (task.status, task.attempts) == (BackgroundTask.Status.PENDING, 1)
    assert "ConnectionError: the provider did not answer" in task.last_error
    assert start + timedelta(seconds=29) < task.run_after < timezone.now() + timedelta(seconds=31)

    assert redrive_tasks(now=task.run_after) == 1
    task.refresh_from_db()
    assert task.attempts == 2
    assert task.run_after > timezone.now() + timedelta(seconds=59)  # 30 s, then 60 s

    assert redrive_tasks(now=task.run_after) == 1
    task.refresh_from_db()
    assert (task.status, task.attempts) == (BackgroundTask.Status.FAILED, 3)
    assert redrive_tasks(now=timezone.now() + timedelta(days=1)) == 0

    failures_left[0] = 0
    with commit():
        assert retry_failed() == 1
    task.refresh_from_db()
    assert task.status == BackgroundTask.Status.DONE
    assert seen == [f"x:{alpha.schema_name}"]


def test_a_task_whose_worker_died_is_run_again_by_the_sweep(alpha):
    task = enqueue_for_practice("tests.practices.test_tasks.record_schema", "again")
    # What a worker killed mid-run leaves: the task claimed, and no lock (it went with the connection).
    BackgroundTask.objects.filter(pk=task.pk).update(status=BackgroundTask.Status.RUNNING, attempts=1)

    assert redrive_tasks() == 1  # at once: its grace period is for hand-overs that may still be on their way
    task.refresh_from_db()
    assert (task.status, task.attempts) == (BackgroundTask.Status.DONE, 2)
    assert seen == [f"again:{alpha.schema_name}"]


def test_the_sweep_forgets_finished_tasks_after_a_week(alpha, commit):
    with commit():
        old = enqueue_for_practice("tests.practices.test_tasks.record_schema", "old")
        recent = enqueue_for_practice("tests.practices.test_tasks.record_schema", "recent")
    BackgroundTask.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=8))
    redrive_tasks()
    assert list(BackgroundTask.objects.filter(pk__in=[old.pk, recent.pk]).values_list("pk", flat=True)) == [recent.pk]


# ---------------------------------------------------------------- keys


def test_a_key_absorbs_a_second_task_while_the_first_waits(alpha, commit):
    first = enqueue_for_practice("tests.practices.test_tasks.record_schema", "a", key="k")
    assert enqueue_for_practice("tests.practices.test_tasks.record_schema", "a", key="k") is None
    assert BackgroundTask.objects.filter(key="k").count() == 1
    with commit():
        run_task(first.pk)
    # Finished: the same key queues it again.
    with commit():
        assert enqueue_for_practice("tests.practices.test_tasks.record_schema", "a", key="k") is not None
    assert seen == [f"a:{alpha.schema_name}"] * 2
    assert task_row(key="k").status == BackgroundTask.Status.DONE


def test_a_key_queued_again_while_its_task_runs_runs_it_once_more(alpha, commit):
    with commit():
        enqueue_for_practice("tests.practices.test_tasks.queue_again_while_running", "r", key="again")
    assert seen == [f"r:{alpha.schema_name}"] * 2
    assert task_row(key="again").status == BackgroundTask.Status.DONE


def test_a_once_key_is_used_up(alpha, commit):
    with commit():
        enqueue_for_practice("tests.practices.test_tasks.record_schema", "d", key="day", once=True)
        assert enqueue_for_practice("tests.practices.test_tasks.record_schema", "d", key="day", once=True) is None
    assert enqueue_for_practice("tests.practices.test_tasks.record_schema", "d", key="day", once=True) is None
    assert seen == [f"d:{alpha.schema_name}"]


def test_keys_belong_to_one_practice(alpha, beta):
    enqueue_for_practice("tests.practices.test_tasks.record_schema", "a", key="same")
    assert enqueue_for_practice(
        "tests.practices.test_tasks.record_schema", "b", key="same", schema_name=beta.schema_name
    )
    assert BackgroundTask.objects.filter(key="same").count() == 2


# ---------------------------------------------------------------- schedules and fan-outs


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


def test_daily_jobs_fan_out_over_active_practices_only_once_a_day(db, settings, beta, commit):
    Practice.objects.filter(pk=beta.pk).update(is_active=False)
    settings.PRACTICE_DAILY_JOBS = ["tests.practices.test_tasks.record_daily"]
    with commit():
        assert run_daily_jobs() == 1
    assert seen == ["daily:p_alpha"]
    with commit():
        assert run_daily_jobs() == 0  # the same day again: nothing queued
    with time_machine.travel(timezone.now() + timedelta(days=1)), commit():
        assert run_daily_jobs() == 1
    assert seen == ["daily:p_alpha"] * 2


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
    sweep = Schedule.objects.get(name=REDRIVE_SCHEDULE_NAME)
    assert (sweep.func, sweep.schedule_type, sweep.minutes) == ("practices.tasks.redrive_tasks", Schedule.MINUTES, 1)


def test_frequent_jobs_fan_out_too(db, settings, commit):
    settings.PRACTICE_FREQUENT_JOBS = ["tests.practices.test_tasks.record_daily"]
    with commit():
        assert run_frequent_jobs() == 2
    assert sorted(seen) == ["daily:p_alpha", "daily:p_beta"]


def test_clearing_sessions_touches_only_the_practice_it_runs_for(alpha, beta, commit):
    past = timezone.now() - timedelta(days=1)
    Session.objects.create(session_key="a-old", session_data="", expire_date=past)
    Session.objects.create(session_key="a-new", session_data="", expire_date=timezone.now() + timedelta(days=1))
    with tenant_context(beta):
        Session.objects.create(session_key="b-old", session_data="", expire_date=past)

    with commit():
        enqueue_for_practice("practices.tasks.run_daily_job", "practices.jobs.clear_expired_sessions")

    assert list(Session.objects.values_list("session_key", flat=True)) == ["a-new"]
    with tenant_context(beta):
        assert Session.objects.filter(session_key="b-old").exists()


def record_log_context() -> None:
    seen.append(f"{log_context.practice_var.get()} {log_context.request_id_var.get()}")


def test_a_tasks_log_lines_name_its_practice_and_the_task(alpha, commit):
    with commit():
        task = enqueue_for_practice("tests.practices.test_tasks.record_log_context")
    assert seen == [f"alpha task-{task.pk}"]
    assert log_context.practice_var.get() == log_context.NONE  # nothing left bound after it
