from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django_tenants.utils import get_public_schema_name, schema_context


def _database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means the database is unusable
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True}


def _queue_status() -> dict:
    try:
        from django_q.brokers import get_broker
        from django_q.status import Stat

        broker = get_broker()
        if not broker.ping():
            return {"ok": False, "error": "broker did not answer"}
        return {
            "ok": True,
            "broker": type(broker).__name__,
            "queued": broker.queue_size(),
            "clusters": len(Stat.get_all(broker=broker)),
        }
    except Exception as exc:  # a broken broker must show as unhealthy, not crash the probe
        return {"ok": False, "error": exc.__class__.__name__}


@never_cache
def healthz(request):
    """Database and queue status as JSON: 200 when both answer, 503 otherwise."""
    database = _database_status()
    if database["ok"]:
        # The queue and its cluster stats belong to the platform, whichever host is asked.
        with schema_context(get_public_schema_name()):
            queue = _queue_status()
    else:
        queue = {"ok": False, "error": "database unavailable"}
    healthy = database["ok"] and queue["ok"]
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "database": database, "queue": queue},
        status=200 if healthy else 503,
    )
