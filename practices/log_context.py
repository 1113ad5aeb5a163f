"""What every log line says about where it came from: the request id and the practice.

Both live in context variables, bound for the length of a request (config.request_id) or of a background
task (`bind`), and a logging filter copies them onto each record. This module imports nothing from
Django or the apps, so any code may use it:

    from practices.log_context import bind

    with bind(practice=practice.slug):
        run_the_task()
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

# What a line outside any request or task shows.
NONE = "-"

request_id_var: ContextVar[str] = ContextVar("request_id", default=NONE)
practice_var: ContextVar[str] = ContextVar("practice", default=NONE)


@contextmanager
def bind(*, practice: str | None = None, request_id: str | None = None) -> Iterator[None]:
    """Log lines inside the block carry this practice (its slug) and/or request id; the previous
    values come back on the way out, however the block ends."""
    tokens = []
    if practice is not None:
        tokens.append((practice_var, practice_var.set(practice or NONE)))
    if request_id is not None:
        tokens.append((request_id_var, request_id_var.set(request_id or NONE)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def set_request(*, request_id: str, practice: str = NONE) -> None:
    """Bind a request's values until `clear` (the request middleware's side: the values must outlive the
    middleware, because Django logs "Not Found" and "Internal Server Error" after the middleware returns)."""
    request_id_var.set(request_id)
    practice_var.set(practice)


def set_practice(practice: str) -> None:
    practice_var.set(practice or NONE)


def clear() -> None:
    request_id_var.set(NONE)
    practice_var.set(NONE)


# gunicorn logs each access with its atoms as the record's arguments; the response header is this atom.
_GUNICORN_REQUEST_ID_ATOM = "{x-request-id}o"


class ContextFilter(logging.Filter):
    """Puts `request_id` and `practice` on every record (values given with `extra=` win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request_id = request_id_var.get()
            if request_id == NONE and record.name == "gunicorn.access" and isinstance(record.args, dict):
                request_id = str(record.args[_GUNICORN_REQUEST_ID_ATOM])
            record.request_id = request_id
        if not hasattr(record, "practice"):
            record.practice = practice_var.get()
        return True


def _utc_iso(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """One readable line: `2025-05-01T09:30:00.123Z INFO django.request [req=… practice=alpha] message`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [req=%(request_id)s practice=%(practice)s] %(message)s")

    def formatTime(self, record, datefmt=None):
        return _utc_iso(record)


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, request_id, practice, message, then any extras."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(request_id)s %(practice)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )

    def formatTime(self, record, datefmt=None):
        return _utc_iso(record)


def logging_config(*, log_format: str = "text", level: str = "INFO") -> dict:
    """The dictConfig both Django (settings.LOGGING) and gunicorn (gunicorn.conf.py) start from: every line
    with the request id and practice, as text or JSON (`log_format`); application lines on stderr, gunicorn's
    access lines on stdout."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": log_format,
        "filters": ["context"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "practices.log_context.ContextFilter"}},
        "formatters": {
            "text": {"()": "practices.log_context.TextFormatter"},
            "json": {"()": "practices.log_context.JsonFormatter"},
        },
        "handlers": {"console": handler, "access": {**handler, "stream": "ext://sys.stdout"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "gunicorn.error": {"handlers": [], "propagate": True, "level": level},
            # Access lines are INFO: LOG_LEVEL=WARNING turns them off.
            "gunicorn.access": {"handlers": ["access"], "propagate": False, "level": level},
        },
    }
