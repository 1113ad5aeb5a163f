"""Practices made and dropped by one test module, for tests whose rows must be committed.

Threads (and the browser tests' server) only see committed rows, so those tests are
`django_db(transaction=True)`: nothing is rolled back, and at teardown pytest-django *flushes* (truncates)
every table of the schema the main connection is in. In the public schema that would empty the practices
table and take the session's alpha and beta practices (created once in tests/conftest.py) with it. So:

- such a module makes a throwaway practice ("<prefix>-<random>", with the real create_practice) once,
  through `throwaway_practice`, and drops it and its schema (`delete(force_drop=True)`) when it is done;
  a run killed half-way (with --reuse-db) leaves one behind, which the next run drops first, before the
  fan-out tests can see it;
- each test enters it through `entered`, which leaves the main connection in the practice's schema when
  the test ends: the flush then empties only that practice's tables;
- `race` runs work in threads that each enter the practice (practice_context) on a connection of their own
  and close it when done, so no connection is left open on a schema that is about to be dropped.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator

from django.db import connection
from django.utils import timezone

from practices.models import BackgroundTask, Practice
from practices.services import create_practice
from practices.tenancy import practice_context


def throwaway_practice(django_db_blocker, *, prefix: str, name: str) -> Iterator[Practice]:
    """For a module-scoped fixture: `yield from throwaway_practice(django_db_blocker, prefix=..., name=...)`."""
    slug = f"{prefix}-{secrets.token_hex(4)}"
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        for leftover in Practice.objects.filter(slug__startswith=f"{prefix}-"):
            leftover.delete(force_drop=True)
        practice = create_practice(name=name, slug=slug, owner_email=f"owner@{prefix}.test").practice
    yield practice
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        # Its background tasks live in the public schema, which no flush empties.
        BackgroundTask.objects.filter(schema_name=practice.schema_name).delete()
        practice.delete(force_drop=True)
        assert not Practice.objects.filter(slug=slug).exists()


def entered(practice: Practice) -> Iterator[Practice]:
    """For a test's fixture: the practice, entered (its time zone active too), and deliberately left entered for
    the flush after it."""
    connection.set_tenant(practice)
    timezone.activate(practice.time_zone)
    yield practice
    timezone.deactivate()
    connection.set_tenant(practice)


def race(practice: Practice, work: Callable[[int], object], count: int) -> list[object]:
    """Run `work(i)` in `count` threads released at the same moment; returns each result or exception."""
    start = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        try:
            with practice_context(practice):
                start.wait()
                results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return results


def kinds(results: list[object]) -> Counter:
    """How many results of each type (e.g. {"LedgerEntry": 10, "InsufficientPoints": 10})."""
    return Counter(type(result).__name__ for result in results)
