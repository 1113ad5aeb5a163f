"""`make run` does not leak database connections: runserver serves each request on a thread of its own, and
a connection left open by each would soon exhaust PostgreSQL's max_connections."""

import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import host_of
from tests.production.processes import MANAGE, PYTHON, ROOT, answers, environment, free_port, get, wait_until

BURSTS = 4
BURST_SIZE = 50
# At most one connection per request in flight (10 to 20 of a burst overlap on two cores); far below
# max_connections (100 by default) and the 200 requests sent, which a leak would keep one connection each.
MOST_CONNECTIONS = 30


class BackendCounter:
    """Samples how many PostgreSQL backends are connected to the test database, from a connection of its
    own (in autocommit: pg_stat_activity is a snapshot for the length of a transaction)."""

    def __init__(self):
        db = connection.settings_dict
        self.database = db["NAME"]
        self.conn = psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname="postgres"
        )
        self.conn.autocommit = True
        self.most = 0
        self._stop = threading.Event()

    def count(self) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.database]
        ).fetchone()
        return row[0]

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.most = max(self.most, self.count())

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.conn.close()


@pytest.fixture
def devserver(db, tmp_path):
    """`manage.py runserver` as `make run` starts it (DEBUG on), on the test database."""
    port = free_port()
    log = (tmp_path / "runserver.log").open("w")
    server = subprocess.Popen(
        [PYTHON, MANAGE, "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=environment(DEBUG="true", LOG_LEVEL="WARNING"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(answers(port, "/", host=settings.BASE_DOMAIN, server=server), timeout=60, what="runserver")
        yield port
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_runserver_keeps_connections_bounded_under_bursts(devserver):
    port = devserver
    # Practice pages (each enters the practice's schema) and the platform's page.
    targets = [("/join/", host_of("alpha"))] * 4 + [("/", settings.BASE_DOMAIN)]

    start_together = threading.Barrier(BURST_SIZE)

    def fetch(i: int) -> int:
        path, host = targets[i % len(targets)]
        start_together.wait(timeout=30)
        return get(port, path, host=host)[0]

    statuses = []
    with BackendCounter() as backends:
        baseline = backends.count()
        with ThreadPoolExecutor(max_workers=BURST_SIZE) as pool:
            for _ in range(BURSTS):
                statuses += list(pool.map(fetch, range(BURST_SIZE)))
                # Between bursts the server's connections close; none pile up from one burst to the next.
                wait_until(lambda: backends.count() <= baseline + 1, timeout=30, what="connections to close")
        peak = backends.most
        after = backends.count()

    assert len(statuses) == BURSTS * BURST_SIZE
    assert all(status == 200 for status in statuses), sorted(set(statuses))
    assert peak <= MOST_CONNECTIONS, f"{peak} connections at the peak"
    assert after <= baseline + 1, f"{after} connections left after the bursts (baseline {baseline})"
