"""Background work survives what production does to it: a worker killed with tasks in hand, a database
that goes away while tasks run, a broker that is down when a purchase is recorded.

Real parts throughout: the worker is `manage.py qcluster` in processes of its own, on the test database
(over a relay this test can cut, for the database outage), with the ORM broker or Redis (at REDIS_URL, or
127.0.0.1:6379; the Redis cases are skipped with the reason when none answers). This process records the
purchases with the real services and hands tasks to the same broker as the worker. Each case ends with
every referral rewarded exactly once: two rewards, one ledger entry and one text per patient.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from loyalty.models import LedgerEntry
from loyalty.services import LineIn, record_purchase
from patients.models import Message
from practices.models import BackgroundTask, Practice
from practices.tasks import UNFINISHED, redrive_tasks
from referrals import services
from referrals.codes import code_for_patient
from referrals.models import Referral, ReferralReward, RewardKind
from tests.factories import CatalogItemFactory, PatientFactory
from tests.loyalty.pos_helpers import new_key, pos_client, post_json
from tests.production.processes import MANAGE, PYTHON, ROOT, environment, wait_until
from tests.throwaway import entered, throwaway_practice

pytestmark = pytest.mark.django_db(transaction=True)

REFERRER_POINTS, FRIEND_POINTS = 500, 250
# Enough referrals that the worker cannot finish them all between two looks at the database.
BATCH = 20


# ---------------------------------------------------------------- the practice and its referrals


@pytest.fixture(scope="module")
def fault_practice(django_db_setup, django_db_blocker) -> Iterator[Practice]:
    yield from throwaway_practice(django_db_blocker, prefix="faults", name="Fault Test Clinic")


@pytest.fixture
def practice(fault_practice) -> Iterator[Practice]:
    yield from entered(fault_practice)
    BackgroundTask.objects.filter(schema_name=fault_practice.schema_name).delete()
    OrmQ.objects.all().delete()


def waiting_referrals(count: int) -> list[Referral]:
    """`count` friends who joined with a patient's code and have not bought anything yet."""
    program = services.referral_settings()
    program.min_purchase_cents = 5_000
    program.referrer_reward_kind, program.referrer_points = RewardKind.POINTS, REFERRER_POINTS
    program.referee_reward_kind, program.referee_points = RewardKind.POINTS, FRIEND_POINTS
    program.save()
    referrals = []
    for _ in range(count):
        code = code_for_patient(PatientFactory(notify_by_sms=True))
        friend = PatientFactory(notify_by_sms=True)
        referrals.append(services.record_signup(patient=friend, code=code.code, source="link"))
    return referrals


def buy(referrals: list[Referral]) -> None:
    item = CatalogItemFactory(price_cents=10_000)
    for referral in referrals:
        record_purchase(
            patient=referral.referred, lines=[LineIn(quantity=1, unit_price_cents=10_000, item=item)], source="desk"
        )


def rewarded(referrals: list[Referral]) -> int:
    return Referral.objects.filter(pk__in=[r.pk for r in referrals], status=Referral.Status.REWARDED).count()


def all_done(practice: Practice, referrals: list[Referral]) -> bool:
    unfinished = BackgroundTask.objects.filter(schema_name=practice.schema_name, status__in=UNFINISHED)
    return rewarded(referrals) == len(referrals) and not unfinished.exists()


def assert_each_rewarded_exactly_once(referrals: list[Referral]) -> None:
    ids = [r.pk for r in referrals]
    assert rewarded(referrals) == len(referrals)
    assert ReferralReward.objects.filter(referral__in=ids).count() == 2 * len(referrals)
    patients = [r.referred_id for r in referrals] + [r.code.patient_id for r in referrals]
    entries = (
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL, account__patient__in=patients)
        .values("account__patient")
        .annotate(count=Count("id"), points=Sum("delta"))
    )
    assert sorted((row["count"], row["points"]) for row in entries) == sorted(
        [(1, FRIEND_POINTS)] * len(referrals) + [(1, REFERRER_POINTS)] * len(referrals)
    )
    texts = Message.objects.filter(patient__in=patients, body__contains="Thank you!").values("patient")
    assert sorted(row["count"] for row in texts.annotate(count=Count("id"))) == [1] * len(patients)


class Sweeper:
    """What the every-minute schedule does, run at most once a second as if its grace period had passed
    (PostgreSQL notices a killed worker's connection, and frees its locks, a moment after the kill)."""

    def __init__(self):
        self.last = 0.0

    def __call__(self) -> None:
        if time.monotonic() - self.last >= 1:
            self.last = time.monotonic()
            redrive_tasks(now=timezone.now() + timedelta(minutes=5))


def finished_with_sweeps(practice: Practice, referrals: list[Referral]):
    sweep = Sweeper()
    return lambda: sweep() or all_done(practice, referrals)


# ---------------------------------------------------------------- brokers and workers


def redis_url() -> str:
    # A database of its own per test database, so that runs sharing a Redis server keep their queues apart.
    if url := os.environ.get("REDIS_URL"):
        return url
    return f"redis://127.0.0.1:6379/{1 + zlib.crc32(connection.settings_dict['NAME'].encode()) % 15}"


@pytest.fixture(params=["orm", "redis"])
def broker(request, monkeypatch) -> dict[str, str | None]:
    """The broker this process and the worker share; returns what the worker's environment needs."""
    monkeypatch.setattr(Conf, "SYNC", False)
    if request.param == "orm":
        monkeypatch.setattr(Conf, "ORM", "default")
        yield {"REDIS_URL": None}
        return
    url = redis_url()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis does not answer at {url} ({exc}); set REDIS_URL to run the Redis cases")
    client.delete(Conf.CLUSTER_NAME)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", url)
    yield {"REDIS_URL": url}
    client.delete(Conf.CLUSTER_NAME)


class Worker:
    """`manage.py qcluster` in a process group of its own, its output in a file shown when a test fails."""

    def __init__(self, tmp_path, **env: str | None):
        self.log = tmp_path / f"worker-{os.urandom(3).hex()}.log"
        self.env = environment(DEBUG="true", SMS_BACKEND="console", Q_WORKERS="2", **env)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [PYTHON, MANAGE, "qcluster"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9 of the whole cluster: its guard, pusher, workers and monitor, mid-task."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()  # nothing it was doing matters once the test has its answer


@pytest.fixture
def workers(tmp_path) -> Iterator:
    started: list[Worker] = []

    def start(**env) -> Worker:
        worker = Worker(tmp_path, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(condition, *, what: str, worker: Worker, timeout: float = 90) -> None:
    try:
        wait_until(condition, timeout=timeout, what=what, interval=0.05)
    except AssertionError:
        raise AssertionError(f"{what}: not reached. Worker output:\n{worker.output()[-4000:]}") from None


# ---------------------------------------------------------------- a worker killed mid-task


def test_a_worker_killed_mid_task_loses_no_referral_reward_and_doubles_none(practice, broker, workers):
    referrals = waiting_referrals(BATCH)
    buy(referrals)  # BATCH purchases: their qualification tasks wait in the broker
    first = workers(**broker)
    wait_for(lambda: rewarded(referrals) >= 1, what="the first reward", worker=first)
    first.kill()
    at_the_kill = rewarded(referrals)
    assert at_the_kill < BATCH, "the worker finished everything before it was killed: make BATCH larger"

    second = workers(**broker)
    wait_for(finished_with_sweeps(practice, referrals), what="every referral rewarded", worker=second)

    assert_each_rewarded_exactly_once(referrals)


# ---------------------------------------------------------------- the database goes away while tasks run


def _shut(end: socket.socket) -> None:
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)


class Relay:
    """A TCP relay in front of PostgreSQL that can drop every connection and refuse new ones, then come back."""

    def __init__(self, settings_dict: dict):
        host, port = settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432)
        self.target = (
            (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}") if host.startswith("/") else (socket.AF_INET, (host, port))
        )
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def database_url(self, settings_dict: dict) -> str:
        password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
        return f"postgres://{settings_dict['USER']}{password}@127.0.0.1:{self.port}/{settings_dict['NAME']}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            family, address = self.target
            upstream = socket.socket(family, socket.SOCK_STREAM)
            upstream.connect(address)
            with self.lock:
                self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                _shut(end)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for end in self.open:
                _shut(end)
            self.open.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def database_errors(worker) -> int:
    output = worker.output()
    return output.count("OperationalError") + output.count("the database is unavailable")


def test_tasks_running_when_the_database_goes_away_are_retried_and_succeed_once(practice, broker, workers):
    relay = Relay(connection.settings_dict)
    try:
        referrals = waiting_referrals(BATCH)
        buy(referrals)
        worker = workers(**broker, DATABASE_URL=relay.database_url(connection.settings_dict))
        wait_for(lambda: rewarded(referrals) >= 1, what="the first reward", worker=worker)
        relay.cut()  # the worker's database goes away mid-run; this process's connection stays
        wait_for(lambda: database_errors(worker) >= 1, what="the worker to meet the missing database", worker=worker)
        # Counted once the worker has met the cut: a COMMIT it sent just before the cut still lands on the server.
        at_the_cut = rewarded(referrals)
        assert at_the_cut < BATCH, "the worker finished everything before the database went away: make BATCH larger"
        seen = database_errors(worker)
        wait_for(lambda: database_errors(worker) > seen, what="the worker to try again, in vain", worker=worker)
        assert rewarded(referrals) == at_the_cut  # nothing can be committed meanwhile
        relay.restore()
        wait_for(finished_with_sweeps(practice, referrals), what="every referral rewarded", worker=worker)
    finally:
        relay.close()
    assert_each_rewarded_exactly_once(referrals)


# ---------------------------------------------------------------- the broker is down at purchase time


def test_a_purchase_made_while_the_broker_is_down_keeps_its_follow_up(practice, broker, workers, monkeypatch):
    if broker["REDIS_URL"] is None:
        pytest.skip("the ORM broker is the database: it is down only when the purchase cannot be recorded either")
    referrals = waiting_referrals(1)
    friend = referrals[0].referred
    CatalogItemFactory(external_id="SKU-FACIAL", price_cents=10_000)
    pos = pos_client(practice.slug, new_key())
    sale = {"transaction_id": "T-100", "patient": {"phone": friend.phone}, "lines": [{"item_id": "SKU-FACIAL"}]}

    with socket.create_server(("127.0.0.1", 0)) as closed:
        monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{closed.getsockname()[1]}/0")
    response = post_json(pos, "/api/v1/pos/purchases", sale)
    assert response.status_code == 201, response.content
    # The POS retries, as it would after a 500: the same purchase, and still one task for it.
    assert post_json(pos, "/api/v1/pos/purchases", sale).status_code == 200
    task = BackgroundTask.objects.get(schema_name=practice.schema_name, func="referrals.tasks.qualify")
    assert (task.status, task.attempts) == (BackgroundTask.Status.PENDING, 0)

    monkeypatch.setattr(Conf, "REDIS", broker["REDIS_URL"])  # the broker is back
    worker = workers(**broker)
    wait_for(finished_with_sweeps(practice, referrals), what="the referral rewarded", worker=worker)
    assert_each_rewarded_exactly_once(referrals)
