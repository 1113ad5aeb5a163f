"""Background work for practices: a transactional outbox drained by django-q2.

Every task that touches a practice's data is queued with `enqueue_for_practice`, which writes a
`BackgroundTask` row in the caller's transaction: the task exists if and only if the change that caused
it was committed. After commit the row is handed to django-q2 at once (the fast path). Whatever happens
next (the broker is down at that moment, the worker is killed with the task in hand, the database
blinks while it runs), the row stays unfinished and `redrive_tasks`, run every minute, hands it over
again, with a growing delay after failures. A task therefore runs at least once; what it does must be
idempotent by a database constraint, so that a second run changes nothing.

While a task runs, its worker holds a PostgreSQL advisory lock on the task's id for the life of its
database session: a second copy of the task waits for nothing and skips, and a worker that dies
releases the lock with its connection, so the sweep knows at once that the task is no longer running.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.tasks import async_task
from django_tenants.utils import get_public_schema_name

from . import locking, log_context
from .models import BackgroundTask, Practice
from .selectors import practices_in_service
from .tenancy import practice_context

logger = logging.getLogger(__name__)

# The first key of the two-part advisory locks that mark a running task (the second is the task's id).
TASK_LOCK_CLASS = 71_001
# ...and of the locks that keep two runs of one practice's daily job apart (the second is a hash of both names).
JOB_LOCK_CLASS = 71_002
UNFINISHED = (BackgroundTask.Status.PENDING, BackgroundTask.Status.RUNNING)


def _config(name: str):
    return settings.BACKGROUND_TASKS[name]


# ---------------------------------------------------------------- queueing


def enqueue_for_practice(
    func: str,
    *args,
    schema_name: str | None = None,
    key: str | None = None,
    once: bool = False,
    requeue_failed: bool = True,
    **kwargs,
) -> BackgroundTask | None:
    """Queue `func` (a dotted path) to run inside a practice's schema, in the caller's transaction.

    The practice defaults to the current one. Arguments must be JSON values (ids, not objects). With a
    `key`, a task already waiting under that key absorbs this one (one unfinished task per key), and a
    key whose task has finished queues it again, unless `once` (then the key is used up); a failed one
    too, unless `requeue_failed` is False (sweeps: a task given up on waits for an operator). Returns the
    task queued, or None when an existing one absorbed it.
    """
    schema = schema_name or connection.schema_name
    if schema == get_public_schema_name():
        raise ValueError("enqueue_for_practice needs a practice; the platform schema was given.")
    fields = {"func": func, "args": list(args), "kwargs": kwargs, "run_after": _grace_end()}
    with transaction.atomic():
        if key is None:
            task = BackgroundTask.objects.create(schema_name=schema, **fields)
        else:
            task = _enqueue_keyed(schema, key, fields, once=once, requeue_failed=requeue_failed)
        if task is not None:
            transaction.on_commit(lambda: hand_over(task.pk, schema))
    return task


def _enqueue_keyed(schema: str, key: str, fields: dict, *, once: bool, requeue_failed: bool) -> BackgroundTask | None:
    """Insert the keyed task, or re-arm the finished one under the key; None when one absorbs it."""
    try:
        with transaction.atomic():
            return BackgroundTask.objects.create(schema_name=schema, key=key, **fields)
    except IntegrityError:
        pass  # a task with this key exists: waiting, running or finished
    task = locking.lock_get(BackgroundTask.objects, schema_name=schema, key=key)
    if once or task.status == BackgroundTask.Status.PENDING:
        return None
    if task.status == BackgroundTask.Status.FAILED and not requeue_failed:
        # Given up on: it waits for an operator (platform admin, "Retry"), not for the next sweep.
        return None
    if task.status == BackgroundTask.Status.RUNNING:
        # It may have read what changed before the change: it runs once more when it finishes.
        task.run_again = True
        task.save(update_fields=["run_again"])
        return None
    for name, value in fields.items():
        setattr(task, name, value)
    task.status = BackgroundTask.Status.PENDING
    task.attempts = 0
    task.last_error = ""
    task.started_at = task.finished_at = None
    task.save()
    return task


def hand_over(task_id: int, schema_name: str) -> bool:
    """Give the task to django-q2; a failure is logged, not raised: the sweep hands it over later."""
    try:
        async_task("practices.tasks.run_task", task_id, group=schema_name, task_name=f"task-{task_id}")
    except Exception:  # the broker is unreachable; the committed row is the task's memory
        logger.warning("Task %s not handed to the queue now; the sweep will retry it", task_id, exc_info=True)
        return False
    return True


def _grace_end() -> datetime:
    return timezone.now() + timedelta(seconds=_config("redrive_after_seconds"))


# ---------------------------------------------------------------- running


def run_task(task_id: int) -> str:
    """Worker side: run one queued task in its practice (schema and time zone), once, and record how it went."""
    try:
        if not _try_lock(task_id):
            return "running elsewhere"
    except DatabaseError:
        # The database is down: nothing ran, nothing was recorded, and the sweep hands the task over again.
        logger.warning("Task %s not run: the database is unavailable", task_id, exc_info=True)
        return "database unavailable"
    try:
        return _run_locked(task_id)
    finally:
        _unlock(task_id)


def _run_locked(task_id: int) -> str:
    claimed = BackgroundTask.objects.filter(pk=task_id, status=BackgroundTask.Status.PENDING).update(
        status=BackgroundTask.Status.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now()
    )
    if not claimed:
        return "nothing to do"  # finished already, or failed for good
    task = BackgroundTask.objects.get(pk=task_id)
    practice = Practice.objects.filter(schema_name=task.schema_name).first()
    if practice is None:
        _finish(task, status=BackgroundTask.Status.FAILED, error="The practice no longer exists.")
        return "practice gone"
    try:
        func = import_string(task.func)
        # Its log lines name the practice, and the task as their request id.
        with log_context.bind(practice=practice.slug, request_id=f"task-{task.pk}"), practice_context(practice):
            func(*task.args, **task.kwargs)
    except Exception as exc:  # any failure is recorded and retried; the task's own effects are idempotent
        logger.exception("Task %s (%s) failed on attempt %s", task.pk, task.func, task.attempts)
        _record_failure(task, exc)
        return "failed"
    if _finish(task, status=BackgroundTask.Status.DONE):
        hand_over(task.pk, task.schema_name)
        return "done, queued again"
    return "done"


def _finish(task: BackgroundTask, *, status: str, error: str = "") -> bool:
    """Record how the run ended; returns True when the task was queued again while it ran (it is pending)."""
    with transaction.atomic():
        row = locking.lock_get(BackgroundTask.objects, pk=task.pk)
        again = row.run_again
        row.run_again = False
        row.finished_at = timezone.now()
        row.last_error = error
        if again:
            # Queued again while it ran: it may have read what changed before the change, so it runs once more.
            row.status, row.attempts, row.run_after = BackgroundTask.Status.PENDING, 0, _grace_end()
        else:
            row.status = status
        row.save(update_fields=["run_again", "finished_at", "last_error", "status", "attempts", "run_after"])
    return again


def _record_failure(task: BackgroundTask, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    try:
        if task.attempts >= _config("max_attempts"):
            logger.error("Task %s (%s) failed %s times; given up", task.pk, task.func, task.attempts)
            _finish(task, status=BackgroundTask.Status.FAILED, error=error)
            return
        BackgroundTask.objects.filter(pk=task.pk).update(
            status=BackgroundTask.Status.PENDING,
            run_after=timezone.now() + retry_delay(task.attempts),
            last_error=error,
        )
    except DatabaseError:
        # The database itself is what failed: the row stays as it was and the sweep finds it.
        logger.warning("Could not record the failure of task %s", task.pk, exc_info=True)


def retry_delay(attempts: int) -> timedelta:
    """How long a task that failed `attempts` times waits before the next try: doubling, with a ceiling."""
    base, ceiling = _config("retry_base_seconds"), _config("retry_max_seconds")
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), ceiling))


def _lock_key(task_id: int) -> int:
    return task_id % 2**31


def _try_lock(task_id: int) -> bool:
    # Session-level (not transaction-level): the task commits many transactions while it holds it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [TASK_LOCK_CLASS, _lock_key(task_id)])
        return cursor.fetchone()[0]


def _unlock(task_id: int) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [TASK_LOCK_CLASS, _lock_key(task_id)])
    except DatabaseError:
        pass  # the connection is gone, and its locks with it


def running_task_keys() -> set[int]:
    """The lock keys of tasks some worker is running now (advisory locks held by live sessions).

    Raw SQL: pg_locks is a system view the ORM has no model for.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objsubid = 2",
            [TASK_LOCK_CLASS],
        )
        return {row[0] for row in cursor.fetchall()}


# ---------------------------------------------------------------- the sweep


def redrive_tasks(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Hand over again every due task that is not running: lost hand-overs, crashed workers, failures to retry.

    Also forgets finished tasks after `keep_finished_days`. Returns how many tasks were handed over.
    """
    now = now or timezone.now()
    limit = limit or _config("sweep_batch")
    # Claimed tasks at once, whatever their time: one that no worker holds is one whose worker died.
    due = list(
        BackgroundTask.objects.filter(
            Q(status=BackgroundTask.Status.PENDING, run_after__lte=now) | Q(status=BackgroundTask.Status.RUNNING)
        )
        .order_by("run_after", "pk")
        .values_list("pk", "schema_name", "status", "attempts")[:limit]
    )
    # Read after the rows: a task claimed since was locked before it was claimed, so it shows as held here.
    running = running_task_keys()
    handed = 0
    for task_id, schema_name, status, attempts in due:
        if _lock_key(task_id) in running:
            continue
        if status == BackgroundTask.Status.RUNNING:
            # Its worker died mid-run (the lock went with its connection): it counts as a failed attempt.
            if attempts >= _config("max_attempts"):
                BackgroundTask.objects.filter(pk=task_id, status=status).update(
                    status=BackgroundTask.Status.FAILED,
                    finished_at=now,
                    last_error="The worker stopped while running it, on every attempt.",
                )
                continue
            BackgroundTask.objects.filter(pk=task_id, status=status).update(status=BackgroundTask.Status.PENDING)
        # Pushed back first, so that a slow queue is not handed the same task every minute.
        BackgroundTask.objects.filter(pk=task_id).update(run_after=now + retry_delay(attempts + 1))
        if not hand_over(task_id, schema_name):
            break  # the broker is down: the next sweep tries again
        handed += 1
    _forget_finished(now)
    if handed:
        logger.info("Handed %s background tasks over again", handed)
    return handed


def _forget_finished(now: datetime) -> None:
    cutoff = now - timedelta(days=_config("keep_finished_days"))
    old = BackgroundTask.objects.filter(status=BackgroundTask.Status.DONE, finished_at__lt=cutoff)
    BackgroundTask.objects.filter(pk__in=old.values("pk")[:5000]).delete()


def retry_failed(*, task_ids: list[int] | None = None) -> int:
    """Put failed tasks back in the queue (all, or those ids), with fresh attempts; returns how many."""
    failed = BackgroundTask.objects.filter(status=BackgroundTask.Status.FAILED)
    if task_ids is not None:
        failed = failed.filter(pk__in=task_ids)
    rows = list(failed.values_list("pk", "schema_name"))
    failed.update(status=BackgroundTask.Status.PENDING, attempts=0, run_after=timezone.now(), finished_at=None)
    for task_id, schema_name in rows:
        transaction.on_commit(lambda task_id=task_id, schema_name=schema_name: hand_over(task_id, schema_name))
    return len(rows)


# ---------------------------------------------------------------- practices and schedules


def in_practice_schema(schema_name: str) -> AbstractContextManager:
    """The practice of that schema entered (`practice_context`: its schema and time zone), or nothing to do
    when the connection is in that schema already (a request or a task has entered it, zone and all).

    Signal receivers take the schema name because they may run anywhere, but most run inside the
    practice's own request (on every POS sale), where switching out and back is work for nothing.
    """
    if connection.schema_name == schema_name:
        return nullcontext()
    return practice_context(Practice.objects.get(schema_name=schema_name))


@contextmanager
def job_lock(job: str) -> Iterator[None]:
    """Hold the current practice's lock on `job` (waiting for it): two runs of a job never overlap.

    A session-level advisory lock, released at the end or with the connection if the process dies.
    """
    name = f"{connection.schema_name}:{job}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [JOB_LOCK_CLASS, name])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [JOB_LOCK_CLASS, name])
        except DatabaseError:
            pass  # the connection is gone, and its locks with it


def run_daily_job(job: str, at: str | None = None):
    """Run one daily job (a dotted path from settings.PRACTICE_DAILY_JOBS) in the current practice, as of
    `at` (an ISO datetime; now by default), never at the same time as another run of it for this practice.

    Each job is idempotent by the database as well, so a second run the same day finds nothing left to do.
    """
    now = datetime.fromisoformat(at) if at else timezone.now()
    with job_lock(job):
        return import_string(job)(now=now)


def _fan_out(jobs: list[str], *, runner: str | None, key_suffix: str | None) -> int:
    queued = 0
    for schema in practices_in_service().values_list("schema_name", flat=True):
        for job in jobs:
            key = f"{job}:{key_suffix}" if key_suffix else job
            func, args = (runner, [job]) if runner else (job, [])
            if enqueue_for_practice(func, *args, schema_name=schema, key=key, once=bool(key_suffix)) is not None:
                queued += 1
    return queued


def run_daily_jobs(day: date | None = None) -> int:
    """Queue the daily jobs of every active practice, once per day each; returns how many were queued.

    Run by the daily schedule. `manage.py run_daily_jobs` runs them in the foreground instead.
    """
    day = day or timezone.now().date()
    return _fan_out(settings.PRACTICE_DAILY_JOBS, runner="practices.tasks.run_daily_job", key_suffix=day.isoformat())


def run_frequent_jobs() -> int:
    """Queue the every-few-minutes jobs (messages held by quiet hours, stuck work) of every active practice.

    Keyed by job: a run that has not started yet absorbs the next one, so a busy queue does not pile them up.
    """
    return _fan_out(settings.PRACTICE_FREQUENT_JOBS, runner=None, key_suffix=None)
