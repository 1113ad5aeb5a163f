"""The documented deployment (docs/operations.md), run for real: production settings, `collectstatic`, gunicorn
and the background worker against the test database, asked over HTTP as a TLS-terminating proxy would.

It catches what the in-process tests cannot: a static file that breaks collectstatic's manifest (every
page a 500), a setting that only production reads, a worker that never reports.
"""

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import PRACTICES, host_of
from tests.production.processes import (
    MANAGE,
    PYTHON,
    ROOT,
    free_port,
    get,
    production_environment,
    wait_until,
)

STARTUP_TIMEOUT = 25  # seconds for gunicorn to serve and the worker to report
# As a TLS-terminating proxy sends them (BEHIND_PROXY=true): no redirect to HTTPS.
PROXIED = {"X-Forwarded-Proto": "https"}
SMOKE_PNG = b"\x89PNG\r\n\x1a\n" + b"not decoded: served as stored"


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    # A session of its own, so that the worker's child processes are stopped with it.
    with log.open("wb") as output:  # the child keeps its own copy of the file descriptor
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def page(port: int, path: str, host: str) -> tuple[int, dict, str]:
    status, headers, body = get(port, path, host=host, headers=PROXIED, timeout=10)
    return status, {name.lower(): value for name, value in headers.items()}, body.decode()


def wait_until_healthy(port: int, processes: dict[str, subprocess.Popen], logs: dict[str, Path]) -> dict:
    """Poll /healthz on the platform host (which shows the checks) until it says ok; fail with the logs."""
    seen = {"answer": "none yet", "headers": {}}

    def healthy() -> bool:
        for name, process in processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}")
        try:
            status, headers, body = page(port, "/healthz", settings.BASE_DOMAIN)
        except OSError as exc:
            seen["answer"] = exc.__class__.__name__
            return False
        assert headers["content-type"] == "application/json", body[:500]
        seen.update(answer=body, headers=headers)
        return status == 200

    try:
        wait_until(healthy, timeout=STARTUP_TIMEOUT, what="/healthz to answer 200", interval=0.2)
    except AssertionError as exc:
        output = "\n".join(f"--- {name}:\n{path.read_text()[-2000:]}" for name, path in logs.items())
        pytest.fail(f"{exc}; last answer: {seen['answer']}\n{output}")
    return seen["headers"]


@pytest.fixture
def production_env(django_db_setup, tmp_path) -> dict:
    return production_environment(
        SMS_BACKEND="console",
        EMAIL_URL="consolemail://",
        BASE_DOMAIN=settings.BASE_DOMAIN,
        STATIC_ROOT=str(tmp_path / "static"),
        DATA_DIR=str(tmp_path / "data"),
        Q_WORKERS="1",
    )


def test_the_documented_deployment_serves_pages_static_files_and_health(production_env, tmp_path):
    collected = subprocess.run(
        [PYTHON, MANAGE, "collectstatic", "--noinput"],
        cwd=ROOT,
        env=production_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr[-4000:]
    assert (tmp_path / "static" / "staticfiles.json").exists()

    media = tmp_path / "data" / "media" / "p_alpha"
    for name, data in (("rewards/smoke.png", SMOKE_PNG), ("imports/patients/list.csv", b"phone\n+12025550143\n")):
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        (media / name).write_bytes(data)

    port = free_port()
    logs = {"gunicorn": tmp_path / "gunicorn.log", "qcluster": tmp_path / "qcluster.log"}
    processes = {}
    try:
        processes["gunicorn"] = start(
            [PYTHON, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            production_env,
            logs["gunicorn"],
        )
        processes["qcluster"] = start([PYTHON, MANAGE, "qcluster"], production_env, logs["qcluster"])
        health_headers = wait_until_healthy(port, processes, logs)
        assert health_headers["cache-control"] == "no-store"
        status, _, body = page(port, "/healthz", host_of("alpha"))
        assert (status, json.loads(body)) == (200, {"status": "ok"})

        alpha = PRACTICES["alpha"]["name"]
        status, _, staff_login = page(port, "/staff/login/", host_of("alpha"))
        assert status == 200, staff_login[-2000:]
        assert 'name="password"' in staff_login
        assert alpha in staff_login

        status, _, home = page(port, "/", host_of("alpha"))
        assert status == 200, home[-2000:]
        assert alpha in home

        status, _, join = page(port, "/join/", host_of("alpha"))
        assert status == 200, join[-2000:]
        assert alpha in join
        assert 'name="phone"' in join

        status, docs_headers, docs = page(port, "/api/docs/", host_of("alpha"))
        assert status == 200, docs[-2000:]
        assert "swagger-ui" in docs.lower()
        assert "content-security-policy" in docs_headers
        # Swagger UI from the app's own collected static files (drf-spectacular-sidecar), no CDN.
        scripts = re.findall(r'<script src="([^"]+)"', docs)
        bundle = next(src for src in scripts if "swagger-ui-bundle" in src)
        assert bundle.startswith("/static/drf_spectacular_sidecar/swagger-ui-dist/"), scripts
        for path in [bundle, next(src for src in scripts if src.startswith("/api/docs/?script"))]:
            status, headers, content = page(port, path, host_of("alpha"))
            assert status == 200, path
            assert "javascript" in headers["content-type"], path

        # The platform admin signs operators in through the staff sign-in (password, then their second factor).
        status, admin_headers, _ = page(port, "/admin/login/", settings.BASE_DOMAIN)
        assert status == 302 and admin_headers["location"].startswith("/staff/login/?next=/admin/"), admin_headers
        status, _, admin_login = page(port, "/staff/login/?next=/admin/", settings.BASE_DOMAIN)
        assert status == 200, admin_login[-2000:]
        assert 'name="password"' in admin_login

        # Pages name their static files by the manifest's hashed names, and whitenoise serves them.
        hashed = set(re.findall(r"/static/[\w./-]+\.[0-9a-f]{12}\.(?:css|js)", staff_login + home + join))
        assert hashed, "no hashed static file named in the pages"
        for path in sorted(hashed):
            status, headers, content = page(port, path, host_of("alpha"))
            assert status == 200, path
            assert content, path
            assert "immutable" in headers["cache-control"], path  # whitenoise's answer for a hashed name

        # Public uploads are served by the app with DEBUG off, on their practice's host only; a stray list is not.
        picture = "/media/p_alpha/rewards/smoke.png"
        status, headers, content = get(port, picture, host=host_of("alpha"), headers=PROXIED)
        assert (status, headers["Content-Type"], content) == (200, "image/png", SMOKE_PNG)
        assert get(port, picture, host=host_of("beta"), headers=PROXIED)[0] == 404
        assert get(port, "/media/p_alpha/imports/patients/list.csv", host=host_of("alpha"), headers=PROXIED)[0] == 404
    finally:
        for process in processes.values():
            stop(process)


def test_health_answers_503_json_while_the_database_is_down(production_env, tmp_path):
    env = {**production_env, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/gone"}
    port = free_port()
    log = tmp_path / "gunicorn.log"
    server = start([PYTHON, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"], env, log)

    def answering() -> bool:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            page(port, "/healthz", settings.BASE_DOMAIN)
        except OSError:
            return False
        return True

    try:
        wait_until(answering, timeout=STARTUP_TIMEOUT, what="gunicorn to answer", interval=0.2)
        for host in (host_of("alpha"), settings.BASE_DOMAIN, "127.0.0.1", "unknown.example"):
            status, headers, body = page(port, "/healthz", host)
            assert status == 503, (host, body[:500], log.read_text()[-2000:])
            assert headers["content-type"] == "application/json"
            assert json.loads(body)["failing"][0] == "database"
        status, _, body = page(port, "/healthz", settings.BASE_DOMAIN)
        assert json.loads(body)["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    finally:
        stop(server)
