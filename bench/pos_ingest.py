"""Benchmark: purchases recorded through the POS API (`POST /api/v1/pos/purchases`) by gunicorn.

Seeds a practice of its own (catalog, 1,000 patients with phone numbers, an API key), starts gunicorn
on 127.0.0.1 against the configured database, then:

1. throughput: CLIENTS concurrent connections send purchases flat out for ~15 s;
2. latency: a fixed 100 purchases/s for ~15 s, each latency measured from the moment the request was
   due (so a slow server cannot hide its queue);
3. physical baseline: the same rows (purchase, lines, ledger entry, account update) written with plain
   SQL through psycopg in the same schema, by as many connections as gunicorn has workers;

and prints the ratio. With `--batch N` a fourth phase posts N sales a request to
`POST /api/v1/pos/purchases/batch` flat out (after the single-sale phases, on the same server), and the batch
rate in sales/s is set against the same plain-SQL rate. Then it stops gunicorn and drops the practice and its
schema.

The load generator runs on the same cores as the server, so it is one lean thread (see Load) and its own
CPU is printed, with the gunicorn workers' and PostgreSQL's CPU per purchase and how busy the machine was
before the run (other work there skews every figure).

Run: `.venv/bin/python bench/pos_ingest.py` (embedded PostgreSQL) or with DATABASE_URL set.
Targets on the 2-core reference machine: >= 300 purchases/s sustained, p99 < 50 ms at 100/s; through the
batch endpoint, at least the plain-SQL rate (one transaction per sale).

`--smoke` runs every phase for about a second with 20 patients and checks no target, only that every sale
was recorded: tests/bench runs it so that a change which breaks the benchmark fails the tests.
"""

import argparse
import collections
import http.client
import json
import os
import random
import secrets
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from bench.common import drop_practice, stop_embedded_database_if_started_here  # noqa: E402
from loyalty.models import CatalogItem, PointsAccount, Tier  # noqa: E402
from patients.models import Patient  # noqa: E402
from patients.phones import normalize_phone  # noqa: E402
from practices import audit  # noqa: E402
from practices.api_keys import create_api_key  # noqa: E402
from practices.models import Practice  # noqa: E402
from practices.services import create_practice  # noqa: E402
from practices.tenancy import practice_context  # noqa: E402

PATIENTS = 1_000
SMOKE_PATIENTS = 20
ITEMS = 20
CATEGORIES = ["Injectables", "Facials", "Laser", "Skincare"]
TARGET_THROUGHPUT = 300  # purchases/s
TARGET_P99_MS = 50
TARGET_BATCH_RATIO = 1.0  # batch sales/s against plain SQL's, one transaction per sale
PATH = "/api/v1/pos/purchases"
BATCH_PATH = "/api/v1/pos/purchases/batch"
MAX_BATCH = 500  # sales the batch endpoint takes in one request


# ---------------------------------------------------------------- the world


def seed(practice: Practice, patients_count: int = PATIENTS) -> tuple[list[str], list[dict], str]:
    """Catalog, tiers, patients with points accounts and an API key; returns (phones, items, raw key)."""
    with practice_context(practice):
        Tier.objects.bulk_create(
            [
                Tier(name="Silver", threshold_points=1_000, multiplier_percent=110),
                Tier(name="Gold", threshold_points=5_000, multiplier_percent=125),
            ]
        )
        items = CatalogItem.objects.bulk_create(
            CatalogItem(
                name=f"Treatment {i}",
                category=CATEGORIES[i % len(CATEGORIES)],
                price_cents=random.randrange(5_000, 60_000, 500),
                external_id=f"SKU-{i}",
                earning=CatalogItem.Earning.FIXED if i % 5 == 4 else CatalogItem.Earning.PER_DOLLAR,
                fixed_points=50,
            )
            for i in range(ITEMS)
        )
        # The fictional 555-01xx range is too small for 1,000 numbers; these are valid US mobile numbers.
        phones = [normalize_phone(f"+1415555{n:04d}") for n in range(1_000, 1_000 + patients_count)]
        unusable = make_password(None)
        users = User.objects.bulk_create(
            User(phone=phone, first_name="Bench", last_name=f"Patient {i}", password=unusable)
            for i, phone in enumerate(phones)
        )
        now = timezone.now()
        patients = Patient.objects.bulk_create(Patient(user=user, status="active", joined_at=now) for user in users)
        # bulk_create sends no post_save, so the accounts every patient has are made here.
        PointsAccount.objects.bulk_create(PointsAccount(patient=patient) for patient in patients)
        _, raw_key = create_api_key(name="Bench POS", actor=audit.System("bench"))
    return phones, [{"item_id": item.external_id, "price": item.price_cents} for item in items], raw_key


class Bodies:
    """Purchase bodies with unique transaction ids, random patients and one or two lines; `batch` of them
    makes each body a batch request (`{"purchases": [...]}`) of that many sales."""

    def __init__(self, phones: list[str], items: list[dict], run: str, batch: int = 0):
        self.phones, self.items, self.run, self.batch = phones, items, run, batch
        self.counter = 0
        self.lock = threading.Lock()

    def sale(self) -> dict:
        with self.lock:
            self.counter += 1
            number = self.counter
        picked = random.sample(self.items, random.randint(1, 2))
        lines = [{"item_id": item["item_id"], "quantity": random.randint(1, 2)} for item in picked]
        return {
            "transaction_id": f"{self.run}-{number}",
            "patient": {"phone": random.choice(self.phones)},
            "lines": lines,
            "payment_method": "card",
        }

    def next(self) -> bytes:
        if self.batch:
            return json.dumps({"purchases": [self.sale() for _ in range(self.batch)]}).encode()
        return json.dumps(self.sale()).encode()


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, workers: int, threads: int, log) -> subprocess.Popen:
    env = {
        **os.environ,
        # Production-like: no debug cursor wrappers or query log; plain HTTP on the loopback.
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", secrets.token_urlsafe(50)),
        "SMS_BACKEND": "locmem",
        "EMAIL_URL": "locmemmail://",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",  # no access line per request
        # One key posts far more than a POS would: the key's limit is still counted on every sale, never reached.
        "THROTTLE_POS_API": os.environ.get("THROTTLE_POS_API", "100000000/minute"),
    }
    # gunicorn.conf.py applies; workers are not recycled during a run.
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
        "--log-level", "warning", "--graceful-timeout", "5", "--max-requests", "0",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def wait_for_health(port: int, host: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited while starting")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz", headers={"Host": host})
            # Up once it answers: 503 too, since no background worker runs during the benchmark.
            if conn.getresponse().status in (200, 503):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz in time")


def workers_cpu_seconds(server: subprocess.Popen) -> float | None:
    """CPU time used so far by gunicorn's workers (Linux /proc): unlike rates, not skewed by other work."""
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        ticks = 0
        for pid in children:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime and stime
    except (OSError, IndexError, ValueError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float | None:
    """CPU time all processes used so far (/proc/stat), to tell how much of the machine the run had."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + values[4]  # idle and iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def database_cpu_ticks(database_name: str) -> dict[int, int]:
    """CPU ticks so far of each PostgreSQL process serving `database_name`, and of the server's own background
    processes (WAL writer, checkpointer...), by pid: the database's share of the machine."""
    ticks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
            if not command or not command[0].startswith("postgres:"):
                continue
            # Backends read "postgres: [cluster:] user database host(port) state"; background processes have
            # no host(port).
            if any("(" in word for word in command) and database_name not in command:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return ticks


def database_cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU used between two snapshots (a process that started in between counts in full)."""
    return sum(value - before.get(pid, 0) for pid, value in after.items()) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the load generator


class Exchange:
    """One connection slot: the request in flight on it (empty when idle) and what has come back so far."""

    __slots__ = ("buffer", "request", "retried", "reused", "sock", "started")

    def __init__(self):
        self.sock: socket.socket | None = None
        self.started = 0.0
        self.request = b""
        self.buffer = bytearray()
        self.reused = False
        self.retried = False


class Results:
    """What came back in a phase: each request's latency, the sales recorded, and every refusal."""

    def __init__(self, batch: int = 0):
        self.batch = batch
        self.latencies: list[float] = []  # of the requests answered as expected
        self.sales = 0  # sales recorded: one a request, or each "created" result of a batch
        self.errors: list[str] = []
        self.cpu_seconds = 0.0  # the load generator's own CPU during the phase

    def add(self, status: int, data: bytes, latency: float) -> None:
        if not self.batch:
            if status == 201:
                self.latencies.append(latency)
                self.sales += 1
            else:
                self.errors.append(f"{status} {data[:200]!r}")
            return
        # The batch endpoint answers 200 with one result a sale, in order: "created", "already_recorded"
        # (a repeat: none is sent here) or "error".
        results = batch_results(status, data)
        if results is None:
            self.errors.append(f"{status} {data[:200]!r}")
            return
        self.latencies.append(latency)
        for result in results:
            if result.get("status") == "created":
                self.sales += 1
            else:
                self.errors.append(f"batch result {json.dumps(result)[:200]}")
        if len(results) != self.batch:
            self.errors.append(f"{len(results)} results for {self.batch} sales")


def batch_results(status: int, data: bytes) -> list[dict] | None:
    """The results of a batch answer, or None when it is not the 200 with a list of results it should be."""
    if status != 200:
        return None
    try:
        results = json.loads(data)["results"]
    except (ValueError, KeyError, TypeError):
        return None
    return results if isinstance(results, list) and all(isinstance(r, dict) for r in results) else None


class Load:
    """A lean HTTP/1.1 client: one thread, epoll, requests built before the clock starts.

    The load generator shares the machine's cores with the server, so it must cost as little as possible:
    Python's http.client in threads took about 0.5 ms of CPU per purchase; this takes a fraction of that
    (measured and printed with the results). Keep-alive connections are reused; gunicorn's sync workers
    answer `Connection: close`, and the slot then opens a new connection for its next request.
    """

    def __init__(self, port: int, host: str, raw_key: str, bodies: Bodies):
        self.address = ("127.0.0.1", port)
        self.bodies = bodies
        path = BATCH_PATH if bodies.batch else PATH
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {raw_key}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.selector = selectors.DefaultSelector()
        self.requests: list[bytes] = []

    def prepare(self, count: int) -> None:
        """Build the next `count` requests now, so that encoding them does not compete with the server."""
        built = []
        for _ in range(count):
            body = self.bodies.next()
            built.append(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.requests = built[::-1]  # popped from the end

    def next_request(self) -> bytes:
        if not self.requests:
            self.prepare(max(10, 1_000 // max(1, self.bodies.batch)))
        return self.requests.pop()

    def flat_out(self, clients: int, seconds: float) -> tuple[Results, float]:
        """`clients` requests in flight at all times for `seconds`; latency counts from sending."""
        self.prepare(int(seconds * 1_500) // max(1, self.bodies.batch))
        results = Results(self.bodies.batch)
        cpu = time.process_time()
        started = time.perf_counter()
        deadline = started + seconds
        exchanges = [Exchange() for _ in range(clients)]
        for exchange in exchanges:
            self._send(exchange, self.next_request(), time.perf_counter())
        running = clients
        while running:
            if time.perf_counter() > deadline + 30:
                results.errors.extend(["no response within 30 s"] * running)
                break
            for exchange in self._poll(results, timeout=1.0):
                now = time.perf_counter()
                if now < deadline:
                    self._send(exchange, self.next_request(), now)
                else:
                    self._close(exchange)
                    running -= 1
        for exchange in exchanges:
            self._close(exchange)
        elapsed = time.perf_counter() - started
        results.cpu_seconds = time.process_time() - cpu
        return results, elapsed

    def fixed_rate(self, rate: int, seconds: float, connections: int = 32) -> Results:
        """Open loop: request i is due at start + i/rate; its latency counts from then, not from when it was sent.

        At most `connections` requests are in flight; later ones wait in a queue, and the wait is counted.
        """
        count = int(rate * seconds)
        self.prepare(count)
        results = Results(self.bodies.batch)
        cpu = time.process_time()
        start = time.perf_counter() + 0.2
        due = collections.deque(start + i / rate for i in range(count))
        waiting: collections.deque[float] = collections.deque()
        idle: list[Exchange] = []
        exchanges: list[Exchange] = []
        busy = 0
        while due or waiting or busy:
            now = time.perf_counter()
            if now > start + seconds + 30:
                results.errors.extend(["no response within 30 s"] * (busy + len(waiting) + len(due)))
                break
            while due and due[0] <= now:
                waiting.append(due.popleft())
            while waiting and (idle or len(exchanges) < connections):
                if idle:
                    exchange = idle.pop()
                else:
                    exchange = Exchange()
                    exchanges.append(exchange)
                self._send(exchange, self.next_request(), waiting.popleft())
                busy += 1
            timeout = max(0.0, due[0] - time.perf_counter()) if due else 1.0
            for exchange in self._poll(results, timeout=timeout if busy else min(timeout, 1.0)):
                busy -= 1
                idle.append(exchange)
        for exchange in exchanges:
            self._close(exchange)
        results.cpu_seconds = time.process_time() - cpu
        return results

    def _send(self, exchange: Exchange, request: bytes, started: float) -> None:
        exchange.started, exchange.request, exchange.retried = started, request, False
        exchange.buffer.clear()
        self._write(exchange)

    def _write(self, exchange: Exchange) -> None:
        exchange.reused = exchange.sock is not None
        if exchange.sock is None:
            exchange.sock = socket.create_connection(self.address, timeout=30)
            exchange.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.selector.register(exchange.sock, selectors.EVENT_READ, exchange)
        exchange.sock.sendall(exchange.request)

    def _close(self, exchange: Exchange) -> None:
        if exchange.sock is not None:
            self.selector.unregister(exchange.sock)
            exchange.sock.close()
            exchange.sock = None

    def _poll(self, results: Results, timeout: float) -> list[Exchange]:
        """Read what has arrived; returns the exchanges whose response is complete (recorded in `results`)."""
        done = []
        for key, _ in self.selector.select(timeout):
            exchange: Exchange = key.data
            try:
                chunk = exchange.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not exchange.request:
                self._close(exchange)  # an idle keep-alive connection the server closed: reopened when used
                continue
            if not chunk:
                self._close(exchange)
                if not exchange.buffer and exchange.reused and not exchange.retried:
                    # A keep-alive connection the server had just closed: send again once on a new one.
                    exchange.retried = True
                    self._write(exchange)
                    continue
                results.add(0, b"connection closed before a complete response", 0.0)
                exchange.request = b""
                done.append(exchange)
                continue
            exchange.buffer += chunk
            buffer = exchange.buffer
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                continue
            status_line, *lines = bytes(buffer[:end]).split(b"\r\n")
            headers = dict(line.lower().split(b":", 1) for line in lines)
            length = int(headers.get(b"content-length", b"0"))
            if len(buffer) < end + 4 + length:
                continue
            body = bytes(buffer[end + 4 : end + 4 + length])
            results.add(int(status_line.split()[1]), body, time.perf_counter() - exchange.started)
            exchange.request = b""
            if headers.get(b"connection", b"").strip() == b"close":
                self._close(exchange)
            done.append(exchange)
        return done


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def describe(results: Results) -> str:
    if not results.latencies:
        return f"no request answered as expected, errors {len(results.errors)}"
    ms = [v * 1000 for v in results.latencies]
    return (
        f"p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
        f"max {max(ms):.1f} ms, mean {statistics.fmean(ms):.1f} ms, errors {len(results.errors)}"
    )


# ---------------------------------------------------------------- the physical baseline


def sql_baseline(practice: Practice, items: list[dict], connections_count: int, seconds: float) -> tuple[int, int]:
    """Purchases (and rows) per run written with plain SQL: what the database alone can do on this machine."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with practice_context(practice):
        accounts = list(PointsAccount.objects.values_list("id", "patient_id"))
    expiry = timedelta(days=365)
    counts = {"purchases": 0, "rows": 0}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def run() -> None:
        conn = psycopg.connect(**params, autocommit=False)
        conn.execute(f'SET search_path = "{practice.schema_name}", public')
        conn.commit()
        done = rows = 0
        while time.perf_counter() < deadline:
            account_id, patient_id = random.choice(accounts)
            lines = [(item, random.randint(1, 2)) for item in random.sample(items, random.randint(1, 2))]
            total = sum(item["price"] * quantity for item, quantity in lines)
            points = total // 100
            now = timezone.now()
            with conn.transaction():
                purchase_id = conn.execute(
                    "INSERT INTO loyalty_purchase (patient_id, source, external_id, total_cents, points,"
                    " tier_multiplier_percent, purchased_at, payment_method, note, created_at)"
                    " VALUES (%s, 'pos', %s, %s, %s, 100, %s, 'card', '', %s) RETURNING id",
                    [patient_id, f"sql-{secrets.token_hex(8)}", total, points, now, now],
                ).fetchone()[0]
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO loyalty_purchaseline (purchase_id, name, category, quantity, unit_price_cents,"
                        " total_cents, base_points, weighted_points, refunded_quantity)"
                        " VALUES (%s, %s, 'Injectables', %s, %s, %s, %s, %s, 0)",
                        [
                            (purchase_id, item["item_id"], q, item["price"], item["price"] * q, 0, 0)
                            for item, q in lines
                        ],
                    )
                balance = conn.execute(
                    "UPDATE loyalty_pointsaccount SET balance = balance + %s, lifetime_earned = lifetime_earned + %s,"
                    " last_purchase_at = %s, expires_at = %s, updated_at = %s WHERE id = %s RETURNING balance",
                    [points, points, now, now + expiry, now, account_id],
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO loyalty_ledgerentry (account_id, kind, delta, balance_after, purchase_id,"
                    " source_type, note, idempotency_key, created_at)"
                    " VALUES (%s, 'purchase', %s, %s, %s, '', '', %s, %s)",
                    [account_id, points or 1, balance or 1, purchase_id, f"purchase:{purchase_id}", now],
                )
            done += 1
            rows += 1 + len(lines) + 2
        conn.close()
        with lock:
            counts["purchases"] += done
            counts["rows"] += rows

    threads = [threading.Thread(target=run) for _ in range(connections_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts["purchases"], counts["rows"]


# ---------------------------------------------------------------- the run


def statements_per_sale(host: str, raw_key: str, bodies: Bodies) -> tuple[float, float]:
    """Statements one sale costs in-process (after a warm-up request), and how many are SET search_path; through
    the batch endpoint, a request's statements divided by its sales."""
    client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    path, expected = (BATCH_PATH, 200) if bodies.batch else (PATH, 201)
    client.post(path, bodies.next(), content_type="application/json")
    with CaptureQueriesContext(connection) as captured:
        response = client.post(path, bodies.next(), content_type="application/json")
    assert response.status_code == expected, (response.status_code, response.content[:2000])
    if bodies.batch:
        statuses = [result["status"] for result in response.json()["results"]]
        assert statuses == ["created"] * bodies.batch, statuses
    search_path = sum(1 for q in captured.captured_queries if q["sql"].startswith("SET search_path"))
    sales = bodies.batch or 1
    return len(captured) / sales, search_path / sales


def flat_out_phase(
    load: Load, clients: int, seconds: float, server: subprocess.Popen, what: str
) -> tuple[Results, float]:
    """The throughput phase: prints sales/s, latencies and where the CPU went; returns the results and sales/s."""
    database_name = settings.DATABASES["default"]["NAME"]
    cpu_before, busy_before = workers_cpu_seconds(server), machine_busy_seconds()
    database_before = database_cpu_ticks(database_name)
    results, elapsed = load.flat_out(clients, seconds)
    cpu_after, busy_after = workers_cpu_seconds(server), machine_busy_seconds()
    database_seconds = database_cpu_seconds(database_before, database_cpu_ticks(database_name))
    throughput = results.sales / elapsed
    print(f"\n{what} ({clients} connections, {elapsed:.1f} s): {throughput:.0f} purchases/s")
    print(f"  {'per request: ' if load.bodies.batch else ''}{describe(results)}")
    if None not in (cpu_before, cpu_after, busy_before, busy_after) and results.sales:
        count = results.sales
        per_purchase = (cpu_after - cpu_before) / count * 1000
        busy = (busy_after - busy_before) / elapsed / (os.cpu_count() or 1) * 100
        database_ms = database_seconds / count * 1000
        load_ms = results.cpu_seconds / count * 1000
        load_share = results.cpu_seconds / elapsed * 100
        print(f"  CPU per purchase: gunicorn workers {per_purchase:.2f} ms, PostgreSQL {database_ms:.2f} ms,")
        print(f"  load generator {load_ms:.2f} ms ({load_share:.0f}% of one core); machine busy {busy:.0f}%")
    return results, throughput


def batch_size(value: str) -> int:
    size = int(value)
    if not 1 <= size <= MAX_BATCH:
        raise argparse.ArgumentTypeError(f"a batch holds 1 to {MAX_BATCH} sales")
    return size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (3 sync workers: fastest on 2 cores)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (gthread when > 1)")
    parser.add_argument("--clients", type=int, default=16, help="connections kept busy in the throughput phases")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=int, default=100, help="requests per second in the latency phase")
    parser.add_argument(
        "--batch", type=batch_size, default=0, metavar="N", help=f"also post N sales a request (1 to {MAX_BATCH})"
    )
    parser.add_argument("--smoke", action="store_true", help="every phase for a second, 20 patients, no target")
    args = parser.parse_args()
    patients_count, warm_up, idle_sample = PATIENTS, 3.0, 2.0
    if args.smoke:
        # Few connections: what is in flight when a phase ends is waited for.
        args.seconds, args.rate, args.clients = 1.0, 20, min(args.clients, 4)
        patients_count, warm_up, idle_sample = SMOKE_PATIENTS, 0.5, 0.2

    call_command("migrate_schemas", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)  # /healthz reads the queue's stats from the cache
    run = secrets.token_hex(3)
    slug = f"bench-pos-{run}"
    host = f"{slug}.{settings.BASE_DOMAIN}"
    database = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded PostgreSQL"
    print(f"database: {database}; gunicorn --workers {args.workers} --threads {args.threads}; {os.cpu_count()} cores")
    # Other work on the machine skews every figure: the load before the run is printed with them.
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), end="; ")
    busy_before, started = machine_busy_seconds(), time.perf_counter()
    time.sleep(idle_sample)
    if busy_before is not None:
        share = (machine_busy_seconds() - busy_before) / (time.perf_counter() - started) / (os.cpu_count() or 1)
        print(f"machine busy in the {idle_sample:g} s before: {share * 100:.0f}%")

    practice = create_practice(name="Bench POS Clinic", slug=slug, owner_email=f"owner@{slug}.test").practice
    server = None
    log = tempfile.NamedTemporaryFile("w+", prefix="gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    try:
        phones, items, raw_key = seed(practice, patients_count)
        bodies = Bodies(phones, items, run)
        batch_bodies = Bodies(phones, items, f"{run}-b", batch=args.batch) if args.batch else None
        with practice_context(practice):
            total, search_path = statements_per_sale(host, raw_key, bodies)
            print(f"statements per purchase: {total:.0f} ({search_path:.0f} of them SET search_path)")
            if batch_bodies:
                total, search_path = statements_per_sale(host, raw_key, batch_bodies)
                print(f"statements per purchase in batches of {args.batch}: {total:.1f}", end=" ")
                print(f"({search_path:.2f} of them SET search_path)")

        port = free_port()
        server = start_gunicorn(port, args.workers, args.threads, log)
        wait_for_health(port, host, server)
        load = Load(port, host, raw_key, bodies)
        load.flat_out(args.clients, warm_up)  # warm-up: every worker imports and connects

        results, throughput = flat_out_phase(load, args.clients, args.seconds, server, "throughput")
        latency = load.fixed_rate(args.rate, args.seconds)
        p99 = percentile(latency.latencies, 99) * 1000 if latency.latencies else float("inf")
        print(f"fixed {args.rate}/s for {args.seconds:g} s:")
        print(f"  {describe(latency)}")
        print(f"  load generator CPU: {latency.cpu_seconds / args.seconds * 100:.0f}% of one core")
        phases = [results, latency]
        if throughput < args.rate:
            # Above capacity the queue only grows; this shows the latency of a request that does not wait.
            comfortable = max(1, int(throughput / 2))
            unloaded = load.fixed_rate(comfortable, args.seconds)
            print(f"fixed {comfortable}/s (half the measured capacity) for {args.seconds:g} s:")
            print(f"  {describe(unloaded)}")
            phases.append(unloaded)

        batch_throughput = 0.0
        if batch_bodies:
            batch_load = Load(port, host, raw_key, batch_bodies)
            batch_load.flat_out(args.clients, warm_up)
            batch_results, batch_throughput = flat_out_phase(
                batch_load, args.clients, args.seconds, server, f"batches of {args.batch} ({BATCH_PATH})"
            )
            phases.append(batch_results)

        errors = [error for phase in phases for error in phase.errors]
        for sample in errors[:5]:
            print(f"  error: {sample}")

        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        server = None

        connections_count = args.workers * args.threads
        purchases, rows = sql_baseline(practice, items, connections_count, args.seconds)
        baseline = purchases / args.seconds
        rows_per_second = rows / args.seconds
        print(f"plain SQL ({connections_count} connections): {baseline:.0f} purchases/s, {rows_per_second:.0f} rows/s")
        print("  (purchase, lines, ledger entry and account update in one transaction per purchase)")
        if throughput:
            print(f"API / plain SQL: {throughput / baseline:.2f} (plain SQL is {baseline / throughput:.1f}x faster)")
        met = throughput >= TARGET_THROUGHPUT and p99 < TARGET_P99_MS
        verdict = "met" if met else "MISSED"
        print(f"targets (>= {TARGET_THROUGHPUT}/s, p99 < {TARGET_P99_MS} ms at {args.rate}/s): {verdict}")
        if batch_bodies:
            ratio = batch_throughput / baseline
            batch_met = ratio >= TARGET_BATCH_RATIO
            met = met and batch_met
            print(
                f"batch / plain SQL: {ratio:.2f} ({batch_throughput:.0f} against {baseline:.0f} purchases/s;"
                f" target >= {TARGET_BATCH_RATIO:.1f}): {'met' if batch_met else 'MISSED'}"
            )
        if args.smoke:
            # No figure is judged on a one-second run; every sale must still have been recorded.
            recorded = all(phase.sales for phase in phases) and purchases > 0 and not errors
            print(f"smoke run: {'every sale recorded' if recorded else 'FAILED'}")
            return 0 if recorded else 1
        return 0 if met else 1
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        log.seek(0)
        if problems := log.read().strip():
            print(f"\ngunicorn log:\n{problems[-3000:]}")
        log.close()
        os.unlink(log.name)
        connection.set_schema_to_public()
        drop_practice(practice)
        stop_embedded_database_if_started_here()


if __name__ == "__main__":
    sys.exit(main())
