"""Background work for practices, through django-q2.

Every task that touches a practice's data runs inside that practice's schema: enqueue it
with `enqueue_for_practice`, which carries the schema name to the worker.
"""

import logging
from contextlib import AbstractContextManager, nullcontext

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string
from django_q.tasks import async_task
from django_tenants.utils import get_public_schema_name, schema_context

from .models import Practice
from .selectors import practices_in_service

logger = logging.getLogger(__name__)


def enqueue_for_practice(func: str, *args, schema_name: str | None = None, **kwargs) -> str:
    """Queue `func` (a dotted path) to run inside a practice's schema; returns the task id.

    The practice defaults to the current one. Queue options go in `q_options`.
    """
    schema = schema_name or connection.schema_name
    if schema == get_public_schema_name():
        raise ValueError("enqueue_for_practice needs a practice; the platform schema was given.")
    q_options = kwargs.pop("q_options", {})
    q_options.setdefault("group", schema)
    return async_task("practices.tasks.run_in_practice", schema, func, *args, q_options=q_options, **kwargs)


def in_practice_schema(schema_name: str) -> AbstractContextManager:
    """`schema_context(schema_name)`, or nothing to do when the connection is in that schema already.

    Signal receivers take the schema name because they may run anywhere, but most run inside the
    practice's own request (on every POS sale), where switching out and back is work for nothing.
    """
    if connection.schema_name == schema_name:
        return nullcontext()
    return schema_context(schema_name)


def run_in_practice(schema_name: str, func_path: str, *args, **kwargs):
    """Worker side of `enqueue_for_practice`: enter the practice's schema and call the function."""
    if not Practice.objects.filter(schema_name=schema_name).exists():
        logger.warning("Skipping %s: no practice has the schema %s any more", func_path, schema_name)
        return None
    func = import_string(func_path)
    with schema_context(schema_name):
        return func(*args, **kwargs)


def _fan_out(jobs: list[str]) -> int:
    queued = 0
    for schema in practices_in_service().values_list("schema_name", flat=True):
        for job in jobs:
            enqueue_for_practice(job, schema_name=schema)
            queued += 1
    return queued


def run_daily_jobs() -> int:
    """Fan the daily jobs out over every active practice; returns how many tasks were queued."""
    return _fan_out(settings.PRACTICE_DAILY_JOBS)


def run_frequent_jobs() -> int:
    """Fan the every-few-minutes jobs (e.g. messages held by quiet hours) out over every active practice."""
    return _fan_out(settings.PRACTICE_FREQUENT_JOBS)
