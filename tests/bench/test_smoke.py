"""Every benchmark in bench/ runs its `--smoke` size here, as a script against the test database, as `make bench*`
runs it in full: the seeding SQL, the timed pages and requests (gunicorn for the POS), the plain-SQL baseline and the
cleanup. A change that breaks a benchmark (a new NOT NULL column its SQL does not fill, an endpoint or a service it
calls) fails the tests, instead of being found months later. No figure is judged (a one-second run on a shared
machine means nothing); each run must exit 0 (every sale or purchase recorded, every page answered) and leave no
practice, schema or background task behind.
"""

import os
import signal
import subprocess
from collections.abc import Iterator

import dj_database_url
import pytest
from django.db import connection

from practices.models import BackgroundTask, Practice
from tests.production.processes import PYTHON, ROOT, environment

# Each run takes seconds; the bound only keeps a hung run from holding the suite.
TIMEOUT = 240


def bench_leftovers() -> dict[str, list[str]]:
    """What benchmarks made and did not remove: their practices (slugs "bench-..."), schemas and background tasks."""
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(r"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'p\_bench\_%' ORDER BY 1")
        schemas = [name for (name,) in cursor.fetchall()]
    return {
        "practices": list(Practice.objects.filter(slug__startswith="bench-").values_list("slug", flat=True)),
        "schemas": schemas,
        "tasks": list(BackgroundTask.objects.filter(schema_name__startswith="p_bench_").values_list("func", flat=True)),
    }


# pytest-django sets up the test database only for tests that use the database: a module whose tests asked for
# django_db_setup alone would, run by itself, point the benchmarks at the configured (development) database. Each
# test thus runs in a transaction of its own, in which it only reads, after its benchmark has finished.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def no_bench_practices(django_db_setup, django_db_blocker) -> None:
    """A run killed half-way (with --reuse-db) leaves its practice behind: dropped before these start."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        for practice in Practice.objects.filter(slug__startswith="bench-"):
            BackgroundTask.objects.filter(schema_name=practice.schema_name).delete()
            practice.delete(force_drop=True)


@pytest.fixture
def bench_env(no_bench_practices) -> Iterator[dict[str, str]]:
    """The environment `make bench*` gives a benchmark (DEBUG on), naming the test database; the benchmark must
    leave nothing of its own there."""
    env = environment(DEBUG="true", SMS_BACKEND="locmem", EMAIL_URL="locmemmail://")
    # The benchmarks create and drop practices wherever DATABASE_URL points: never anywhere but the test database.
    name = dj_database_url.parse(env["DATABASE_URL"])["NAME"]
    assert name == connection.settings_dict["NAME"]
    if test_name := connection.settings_dict["TEST"].get("NAME"):
        assert name == test_name
    else:
        assert name.startswith("test_")
    yield env
    assert bench_leftovers() == {"practices": [], "schemas": [], "tasks": []}


def run_smoke(script: str, *args: str, env: dict[str, str]) -> str:
    """Run `bench/<script> --smoke`; returns what it printed, or fails the test with it."""
    command = [PYTHON, str(ROOT / "bench" / script), "--smoke", *args]
    # A session of its own, so that a run which hangs is stopped with the gunicorn it started.
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"bench/{script} --smoke did not finish in {TIMEOUT} s:\n{output[-6000:]}")
    assert process.returncode == 0, f"bench/{script} --smoke exited with {process.returncode}:\n{output[-6000:]}"
    return output


def test_the_practice_creation_benchmark_runs(bench_env):
    output = run_smoke("create_practice.py", env=bench_env)

    assert "create_practice x2: median" in output


def test_the_dashboard_benchmark_builds_its_history_and_times_every_figure_and_page(bench_env):
    output = run_smoke("dashboard.py", env=bench_env)

    assert "rows: patients_patient 60, loyalty_purchase 120" in output
    assert "rollups:" in output
    for row in ("all figures (selectors.dashboard)", "full page, owner (/staff/)", "CSV: rewards", "without rollups"):
        assert row in output
    assert "dropped bench-dash-" in output


def test_the_pos_benchmark_records_every_sale_alone_and_in_batches_through_gunicorn_and_plain_sql(bench_env):
    output = run_smoke("pos_ingest.py", "--workers", "2", "--batch", "5", env=bench_env)

    assert "statements per purchase:" in output
    assert "statements per purchase in batches of 5:" in output
    assert "fixed 20/s for 1 s" in output
    assert "batches of 5 (/api/v1/pos/purchases/batch)" in output
    assert "plain SQL (2 connections)" in output
    assert "batch / plain SQL:" in output
    assert "smoke run: every sale recorded" in output


def test_the_purchase_import_benchmark_imports_every_purchase(bench_env):
    output = run_smoke("purchase_import.py", env=bench_env)

    assert "imported 30 purchases" in output
    assert "smoke run: every purchase recorded" in output
    assert "dropped bench-import-" in output
