"""The web process as deployed: `gunicorn config.wsgi` from the project root, configured by gunicorn.conf.py."""

import json
import os
import signal
import subprocess

import pytest

from tests.conftest import host_of
from tests.production.processes import (
    PYTHON,
    ROOT,
    answers,
    free_port,
    get,
    production_environment,
    wait_until,
)

GUNICORN = [PYTHON, "-m", "gunicorn"]


def gunicorn_config(env: dict) -> dict[str, str]:
    result = subprocess.run(
        [*GUNICORN, "--print-config", "config.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs}


def test_settings_come_from_the_environment(db):
    config = gunicorn_config(
        production_environment(PORT="9123", WEB_CONCURRENCY="3", GUNICORN_TIMEOUT="45", FORWARDED_ALLOW_IPS="10.0.0.7")
    )

    assert config["bind"] == "['0.0.0.0:9123']"
    assert config["workers"] == "3"
    assert config["timeout"] == "45"
    assert config["forwarded_allow_ips"] == "['10.0.0.7']"
    assert "request_id=%({x-request-id}o)s" in config["access_log_format"]
    assert config["accesslog"] == "-"


def test_defaults_suit_the_machine(db):
    config = gunicorn_config(production_environment())

    cores = len(os.sched_getaffinity(0))
    assert config["bind"] == "['0.0.0.0:8000']"
    assert config["workers"] == str(min(2 * cores + 1, 12))
    assert config["timeout"] == "30"
    assert config["graceful_timeout"] == "30"
    assert int(config["max_requests"]) > 0 and int(config["max_requests_jitter"]) > 0


def test_check_config_loads_the_app_with_production_settings(db):
    ok = subprocess.run(
        [*GUNICORN, "--check-config", "config.wsgi"],
        cwd=ROOT,
        env=production_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr

    refused = subprocess.run(
        [*GUNICORN, "--check-config", "config.wsgi"],
        cwd=ROOT,
        env=production_environment(SECRET_KEY=None),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "SECRET_KEY is missing" in refused.stdout + refused.stderr


@pytest.fixture
def gunicorn_json(db, tmp_path):
    """gunicorn serving the test database in production mode with JSON logs; yields (port, logs) where
    logs() stops it and returns its stdout and stderr lines."""
    port = free_port()
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    env = production_environment(LOG_FORMAT="json", WEB_CONCURRENCY="1")
    with stdout.open("w") as out, stderr.open("w") as err:
        server = subprocess.Popen(
            [*GUNICORN, "config.wsgi", "--bind", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=out, stderr=err
        )

    def stop() -> tuple[list[str], list[str]]:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        return stdout.read_text().splitlines(), stderr.read_text().splitlines()

    try:
        probe = answers(port, "/api/v1/", host=host_of("alpha"), server=server)
        wait_until(probe, timeout=60, what="gunicorn to answer")
        yield port, stop
    finally:
        stop()


def test_every_line_is_json_and_requests_can_be_followed_by_their_id(gunicorn_json):
    port, stop = gunicorn_json
    status, headers, _ = get(
        port,
        "/api/v1/no-such-endpoint?phone=4155550142",
        host=host_of("alpha"),
        headers={"X-Request-ID": "deploy-check-1", "X-Forwarded-Proto": "https"},
    )
    assert status == 404
    assert headers["X-Request-ID"] == "deploy-check-1"

    out, err = stop()
    records = [json.loads(line) for line in out + err if line.strip()]  # fails on any line that is not JSON
    assert all({"time", "level", "logger", "request_id", "practice", "message"} <= set(r) for r in records)

    [access] = [r for r in records if r["logger"] == "gunicorn.access" and r["request_id"] == "deploy-check-1"]
    assert '"GET /api/v1/no-such-endpoint" 404' in access["message"]
    assert "4155550142" not in access["message"]  # query strings stay out of the access log
    [app] = [r for r in records if r["logger"] == "django.request" and r["request_id"] == "deploy-check-1"]
    assert app["practice"] == "alpha"
    assert app["message"] == "Not Found: /api/v1/no-such-endpoint"
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in records)
