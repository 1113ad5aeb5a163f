import os
import socket
from datetime import timedelta
from types import SimpleNamespace
from uuid import uuid4

import pytest
import time_machine
from django.core.cache import cache
from django.db import connections
from django.db.utils import load_backend
from django.test import Client
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.status import Stat
from django_tenants.utils import get_public_schema_name, schema_context

from practices import health
from practices.models import BackgroundTask
from practices.tasks import enqueue_for_practice
from tests.conftest import host_of

TOKEN = "t0ken-for-the-monitoring-system"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def save_cluster_heartbeat() -> None:
    """What a running cluster's sentinel saves every half second (django_q.cluster.Sentinel.guard)."""
    sentinel = SimpleNamespace(
        parent_pid=None,
        pid=os.getpid(),
        cluster_id=uuid4(),
        broker=get_broker(),
        tob=timezone.now(),
        reincarnations=0,
        status=lambda: Conf.IDLE,
        monitor=None,
        pusher=None,
        pool=[SimpleNamespace(pid=1), SimpleNamespace(pid=2)],
        task_queue=SimpleNamespace(qsize=lambda: 0),
        result_queue=SimpleNamespace(qsize=lambda: 0),
    )
    with schema_context(get_public_schema_name()):
        Stat(sentinel).save()


def forget_clusters() -> None:
    """As if every cluster's status entry had expired (they live 3 seconds)."""
    broker = get_broker()
    with schema_context(get_public_schema_name()):
        if Conf.ORM:  # the entries and their list are in Django's cache
            broker.cache.delete(Conf.Q_STAT)
        elif keys := broker.connection.keys(f"{Conf.Q_STAT}:*"):  # Redis
            broker.connection.delete(*keys)


@pytest.fixture(autouse=True)
def no_heartbeat_yet(db, settings):
    """Nothing heard from a cluster: the production smoke test runs a real one against this database, and
    with REDIS_URL the entries outlive the test's transaction."""
    settings.HEALTHZ_TOKEN = ""

    def forget():
        forget_clusters()
        with schema_context(get_public_schema_name()):
            cache.delete(health.LAST_HEARTBEAT_KEY)

    forget()
    yield
    forget()


@pytest.fixture
def heartbeat():
    save_cluster_heartbeat()


@pytest.fixture
def database_down(monkeypatch):
    """The probe's database points at a port nobody listens on; the rest of the test keeps its database.

    (A connection made here rather than declared in DATABASES, which the test case would refuse to open.)
    """
    down = {**connections["default"].settings_dict, "HOST": "127.0.0.1", "PORT": closed_port(), "NAME": "gone"}
    wrapper = load_backend(down["ENGINE"]).DatabaseWrapper(down, "down")
    connections["down"] = wrapper
    monkeypatch.setattr(health, "DATABASE_ALIAS", "down")
    yield down
    wrapper.close()
    del connections["down"]


def test_it_is_ok_when_database_broker_workers_and_static_files_are(public_client, heartbeat):
    response = public_client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok"
    assert "failing" not in body
    checks = body["checks"]
    assert checks["database"]["ok"] is True
    broker = get_broker()
    assert checks["broker"] == {"ok": True, "broker": type(broker).__name__, "queued": broker.queue_size()}
    assert checks["workers"]["ok"] is True
    assert [cluster["workers"] for cluster in checks["workers"]["clusters"]] == [2]
    assert checks["workers"]["grace_seconds"] == 60
    assert checks["static_files"] == {"ok": True, "manifest": False}


def test_practice_hosts_and_bare_addresses_get_the_status_only(alpha_client, heartbeat):
    for client in (alpha_client, Client(HTTP_HOST="127.0.0.1"), Client(HTTP_HOST="nobody.localhost")):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_it_is_503_without_a_worker_heartbeat(alpha_client):
    response = alpha_client.get("/healthz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "unavailable", "failing": ["workers"]}


def test_workers_count_as_up_for_the_grace_period_after_the_last_heartbeat(public_client, settings):
    settings.HEALTHZ_WORKER_GRACE = 30
    with time_machine.travel(timezone.now(), tick=False) as clock:
        save_cluster_heartbeat()
        assert public_client.get("/healthz").status_code == 200

        clock.shift(timedelta(seconds=20))
        forget_clusters()  # the cluster's own entry expired 3 seconds after it was saved
        body = public_client.get("/healthz").json()
        assert body["status"] == "ok"
        assert body["checks"]["workers"]["clusters"] == []

        clock.shift(timedelta(seconds=11))
        response = public_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["workers"]
    assert response.json()["checks"]["workers"]["ok"] is False


def test_it_answers_503_json_when_the_database_is_down(
    alpha_client, heartbeat, database_down, django_assert_num_queries
):
    # Not one query on the working connection either: the practice lookup by host is not reached.
    with django_assert_num_queries(0):
        response = alpha_client.get("/healthz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    # With the ORM broker the queue and the clusters' status (database cache) live in the database too; the
    # background tasks always do.
    failing = ["database", "broker", "workers", "tasks"] if Conf.ORM else ["database", "tasks"]
    assert response.json() == {"status": "unavailable", "failing": failing}


def test_details_name_the_error_class_without_connection_details(public_client, database_down):
    port = str(database_down["PORT"])
    response = public_client.get("/healthz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": False, "error": "OperationalError"}
    if Conf.ORM:
        assert checks["broker"] == {"ok": False, "error": "database unavailable"}
    assert port not in response.content.decode()


def test_it_is_503_when_the_broker_cannot_count_its_queue(public_client, heartbeat, monkeypatch):
    from django.db import OperationalError

    def fail(self):
        raise OperationalError("connection to server at 10.0.0.5 failed")

    # The ORM broker's ping answers without asking the database: counting the queue is what fails.
    monkeypatch.setattr(type(get_broker()), "queue_size", fail)
    response = public_client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"] == {"ok": False, "error": "OperationalError"}
    assert "10.0.0.5" not in response.content.decode()


def test_it_is_503_when_the_redis_broker_is_down(alpha_client, monkeypatch):
    with monkeypatch.context() as patch:  # undone before the fixtures clean up through the real broker
        patch.setattr(Conf, "ORM", None)
        patch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{closed_port()}/0")
        response = alpha_client.get("/healthz")

    assert response.status_code == 503
    # With Redis the database is not needed for the queue, and it still answers.
    assert response.json() == {"status": "unavailable", "failing": ["broker", "workers"]}


def test_it_is_503_when_static_files_were_not_collected(alpha_client, heartbeat, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    response = alpha_client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failing": ["static_files"]}


def test_the_token_shows_details_on_a_practice_host(alpha_client, heartbeat, settings):
    settings.HEALTHZ_TOKEN = TOKEN

    shown = alpha_client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    wrong = alpha_client.get("/healthz", headers={"Authorization": "Bearer not-the-token"}).json()

    assert shown["checks"]["database"]["ok"] is True
    assert wrong == {"status": "ok"}


def test_no_token_configured_means_no_details_whatever_is_sent(alpha_client, heartbeat):
    assert alpha_client.get("/healthz", headers={"Authorization": "Bearer "}).json() == {"status": "ok"}


def test_the_platform_host_behind_a_proxy_shows_details(heartbeat, settings):
    settings.USE_X_FORWARDED_HOST = True
    client = Client(HTTP_HOST="10.1.2.3", HTTP_X_FORWARDED_HOST=f"{settings.BASE_DOMAIN}:443")
    assert "checks" in client.get("/healthz").json()
    assert "checks" not in Client(HTTP_X_FORWARDED_HOST=host_of("alpha")).get("/healthz").json()


def test_the_background_tasks_are_counted(public_client, heartbeat, alpha):
    enqueue_for_practice("practices.jobs.clear_expired_sessions", schema_name=alpha.schema_name)
    failed = enqueue_for_practice("practices.jobs.clear_expired_sessions", schema_name=alpha.schema_name)
    BackgroundTask.objects.filter(pk=failed.pk).update(status=BackgroundTask.Status.FAILED)

    checks = public_client.get("/healthz").json()["checks"]

    assert checks["tasks"] == {"ok": True, "pending": 1, "running": 0, "overdue_seconds": 0, "failed": 1}


def test_it_is_503_when_a_background_task_waits_long_past_its_time(public_client, heartbeat, alpha, settings):
    settings.HEALTHZ_TASK_DELAY = 600
    task = enqueue_for_practice("practices.jobs.clear_expired_sessions", schema_name=alpha.schema_name)
    BackgroundTask.objects.filter(pk=task.pk).update(run_after=timezone.now() - timedelta(seconds=599))
    assert public_client.get("/healthz").status_code == 200

    BackgroundTask.objects.filter(pk=task.pk).update(run_after=timezone.now() - timedelta(minutes=11))
    response = public_client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["tasks"]
    assert response.json()["checks"]["tasks"]["overdue_seconds"] >= 660
