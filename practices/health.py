"""`/healthz`: whether this deployment can serve pages and run background work, as JSON on any host.

Answered by `HealthMiddleware`, first in MIDDLEWARE, so neither the practice lookup (a database query)
nor anything after it runs: the probe answers while the database is down, and never with an HTML page.

Each check returns a dict with "ok" and what an operator would want to see; an exception counts as a
failure and is reported by its class name only (messages can carry host names or connection strings).
Add a check by appending a `Check` to CHECKS.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.http import JsonResponse
from django.http.request import split_domain_port
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django_tenants.utils import get_public_schema_name, schema_context

logger = logging.getLogger(__name__)

DATABASE_ALIAS = DEFAULT_DB_ALIAS
# The probe's own statements may not run longer than this; a load balancer's probe times out soon after.
STATEMENT_TIMEOUT_MS = 2000
# The last cluster heartbeat seen, kept for HEALTHZ_WORKER_GRACE: a cluster's own status entry expires
# 3 seconds after it is written, so without this a worker restart would read as an outage.
LAST_HEARTBEAT_KEY = "healthz:last_worker_heartbeat"


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], dict]
    # Checks this one cannot pass without. When one of them failed, this one is reported failed without
    # being tried: during a database outage the probe must not wait for a connection once per check.
    needs: Callable[[], tuple[str, ...]] = field(default=lambda: ())


def check_database() -> dict:
    started = time.monotonic()
    # The timeout is set for this transaction only, so the connection goes on to serve requests as before.
    with transaction.atomic(using=DATABASE_ALIAS), connections[DATABASE_ALIAS].cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(STATEMENT_TIMEOUT_MS)])
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def check_broker() -> dict:
    from django_q.brokers import get_broker

    broker = get_broker()
    if not broker.ping():
        return {"ok": False, "error": "no answer"}
    # The ORM broker's ping answers True without asking the database; counting the queue does ask.
    return {"ok": True, "broker": type(broker).__name__, "queued": broker.queue_size()}


def check_workers() -> dict:
    """At least one worker cluster reported within HEALTHZ_WORKER_GRACE seconds.

    A running cluster saves its status (django_q.status.Stat) every guard cycle (half a second), to
    expire 3 seconds later: in Redis with the Redis broker, in Django's cache with the ORM broker.
    """
    from django_q.brokers import get_broker
    from django_q.status import Stat

    grace = settings.HEALTHZ_WORKER_GRACE
    stats = Stat.get_all(broker=get_broker())
    heard_at = max((stat.timestamp for stat in stats), default=None)
    if heard_at is not None:
        cache.set(LAST_HEARTBEAT_KEY, heard_at, timeout=grace)
    else:
        heard_at = cache.get(LAST_HEARTBEAT_KEY)
    return {
        "ok": heard_at is not None and (timezone.now() - heard_at).total_seconds() <= grace,
        "clusters": [
            {"id": str(stat.cluster_id), "host": stat.host, "status": stat.status, "workers": len(stat.workers)}
            for stat in stats
        ],
        "last_heartbeat_at": heard_at.isoformat() if heard_at else None,
        "grace_seconds": grace,
    }


def check_static_files() -> dict:
    """With the manifest storage (DEBUG off), every page needs collectstatic's manifest: without it, 500s."""
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return {"ok": True, "manifest": False}
    # Read once per process, when the storage is first used: what this process's pages will get.
    files = len(staticfiles_storage.hashed_files)
    return {"ok": files > 0, "manifest": True, "files": files}


def check_tasks() -> dict:
    """No background task has waited more than HEALTHZ_TASK_DELAY seconds past when it was due; with the
    counts of waiting, running and failed tasks (failed ones wait for an operator in the platform admin)."""
    from .selectors import task_backlog

    backlog = task_backlog()
    return {"ok": backlog["overdue_seconds"] <= settings.HEALTHZ_TASK_DELAY, **backlog}


def _needs_database() -> tuple[str, ...]:
    return ("database",)


def _queue_needs() -> tuple[str, ...]:
    from django_q.conf import Conf

    # With the ORM broker the queue and the clusters' status (Django's database cache) are in the database.
    return ("database",) if Conf.ORM else ()


CHECKS = [
    Check("database", check_database),
    Check("broker", check_broker, needs=_queue_needs),
    Check("workers", check_workers, needs=_queue_needs),
    Check("static_files", check_static_files),
    Check("tasks", check_tasks, needs=_needs_database),
]


def run_checks() -> dict[str, dict]:
    results: dict[str, dict] = {}
    # The queue and the clusters' status belong to the platform, whichever host asked.
    with schema_context(get_public_schema_name()):
        for check in CHECKS:
            failed_needs = [name for name in check.needs() if not results.get(name, {}).get("ok")]
            if failed_needs:
                results[check.name] = {"ok": False, "error": f"{failed_needs[0]} unavailable"}
                continue
            try:
                results[check.name] = check.run()
            except Exception as exc:  # a failing dependency must read as unhealthy, never crash the probe
                logger.warning("Health check %s failed: %s", check.name, exc.__class__.__name__, exc_info=True)
                results[check.name] = {"ok": False, "error": exc.__class__.__name__}
    return results


def may_see_details(request) -> bool:
    """The platform host shows the checks' details; other hosts only with the HEALTHZ_TOKEN bearer token."""
    token = settings.HEALTHZ_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and constant_time_compare(presented.strip(), token):
        return True
    try:
        host = split_domain_port(request.get_host())[0]
    except DisallowedHost:
        return False
    return host == settings.BASE_DOMAIN.lower()


def healthz(request) -> JsonResponse:
    """200 {"status": "ok"} when every check passes, else 503 with the failing checks' names."""
    try:
        results = run_checks()
    except Exception as exc:  # e.g. the public schema could not be entered; still JSON, never a 500 page
        logger.warning("Health checks could not run: %s", exc.__class__.__name__, exc_info=True)
        results = {"checks": {"ok": False, "error": exc.__class__.__name__}}
    failing = [name for name, result in results.items() if not result.get("ok")]
    body: dict = {"status": "unavailable" if failing else "ok"}
    if failing:
        body["failing"] = failing
    if may_see_details(request):
        body["checks"] = results
    response = JsonResponse(body, status=503 if failing else 200)
    response["Cache-Control"] = "no-store"
    return response


class HealthMiddleware:
    """Answers `/healthz` on any host before the practice routing (and everything else) runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == "/healthz":
            return healthz(request)
        return self.get_response(request)
