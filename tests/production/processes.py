"""Helpers for tests that start the project in a subprocess (manage.py, runserver, gunicorn) as it would
run for real, against the test database."""

from __future__ import annotations

import http.client
import os
import secrets
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import dj_database_url
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
MANAGE = str(ROOT / "manage.py")
# Variables the test run itself may have set that would change what a subprocess is.
_INHERITED_SETTINGS = (
    "DEBUG",
    "SECRET_KEY",
    "SMS_BACKEND",
    "EMAIL_URL",
    "LOG_FORMAT",
    "SENTRY_DSN",
    "CONN_MAX_AGE",
    "SECURE_SSL_REDIRECT",
    "BEHIND_PROXY",
    "PORT",
    "WEB_CONCURRENCY",
    "GUNICORN_TIMEOUT",
)


def database_url(settings_dict: dict | None = None) -> str:
    """A DATABASE_URL for the database the tests use. The embedded server listens on a Unix socket, so
    the host (a directory) is percent-encoded."""
    db = settings_dict or connection.settings_dict
    test_name = (db.get("TEST") or {}).get("NAME")
    if not (db["NAME"] == test_name if test_name else db["NAME"].startswith("test_")):
        # pytest-django switches the connection to the test database only once a test asks for it; started
        # before that, gunicorn, workers and clean-ups would run against the development database.
        raise RuntimeError(f"{db['NAME']} is not the test database: request the `db` or `django_db_setup` fixture")
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    url = f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"
    parsed = dj_database_url.parse(url)
    assert (parsed["HOST"], str(parsed["PORT"] or ""), parsed["NAME"]) == (
        db["HOST"],
        str(db["PORT"] or ""),
        db["NAME"],
    ), url
    return url


def strong_secret_key() -> str:
    return secrets.token_urlsafe(50)


def environment(**overrides: str) -> dict[str, str]:
    """This process's environment without the settings it may carry, plus the test database and
    `overrides` (a value of None removes the variable)."""
    env = {name: value for name, value in os.environ.items() if name not in _INHERITED_SETTINGS}
    env["DATABASE_URL"] = database_url()
    env["PYTHONUNBUFFERED"] = "1"
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def production_environment(**overrides: str) -> dict[str, str]:
    """What a production deployment sets (docs/operations.md), on the test database."""
    return environment(
        **{
            "DEBUG": "false",
            "SECRET_KEY": strong_secret_key(),
            "SMS_BACKEND": "console",
            "EMAIL_URL": "smtp://localhost:25",
            "BEHIND_PROXY": "true",
            **overrides,
        }
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def get(port: int, path: str, *, host: str, headers: dict | None = None, timeout: float = 30):
    """One GET on the loopback; returns (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def answers(port: int, path: str, *, host: str, server) -> Callable[[], bool]:
    """A readiness condition: the server answers `path` (and has not died)."""

    def ready() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"the server exited with {server.returncode} before answering")
        try:
            return get(port, path, host=host, timeout=5)[0] < 500
        except OSError:
            return False

    return ready
