"""Every log line says which request and which practice it belongs to; responses carry the request id."""

import io
import json
import logging
import re
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from practices.log_context import bind

HEX_ID = re.compile(r"[0-9a-f]{32}")


@contextmanager
def console_lines(log_format: str = "text"):
    """What the configured console handler (settings.LOGGING) writes, as a list of lines."""
    handler = next(handler for handler in logging.getLogger().handlers if handler.get_name() == "console")
    formatter = import_string(settings.LOGGING["formatters"][log_format]["()"])()
    stream = io.StringIO()
    lines: list[str] = []
    previous_stream, previous_formatter = handler.setStream(stream), handler.formatter
    handler.setFormatter(formatter)
    try:
        yield lines
    finally:
        handler.setStream(previous_stream)
        handler.setFormatter(previous_formatter)
        lines.extend(stream.getvalue().splitlines())


def test_a_response_carries_a_new_request_id(alpha_client):
    response = alpha_client.get("/staff/login/")
    assert HEX_ID.fullmatch(response["X-Request-ID"])
    assert alpha_client.get("/staff/login/")["X-Request-ID"] != response["X-Request-ID"]


def test_a_proxys_request_id_is_kept(alpha_client):
    response = alpha_client.get("/staff/login/", HTTP_X_REQUEST_ID="lb-7f3a.2_9")
    assert response["X-Request-ID"] == "lb-7f3a.2_9"


@pytest.mark.parametrize(
    "incoming",
    ["abc\nINFO forged line", "x" * 1000, "has space", 'quote"s', "ünïcode", ""],
    ids=["newline", "1000-chars", "space", "quote", "non-ascii", "empty"],
)
def test_an_unsafe_request_id_is_replaced(alpha_client, incoming):
    response = alpha_client.get("/staff/login/", HTTP_X_REQUEST_ID=incoming)
    assert HEX_ID.fullmatch(response["X-Request-ID"])


def test_unknown_hosts_get_a_request_id_too(db, client):
    response = client.get("/", HTTP_HOST="nowhere.localhost")
    assert response.status_code == 404
    assert HEX_ID.fullmatch(response["X-Request-ID"])


def test_a_line_logged_in_a_request_carries_its_id_and_practice(alpha_client):
    with console_lines() as lines:
        alpha_client.get("/no-such-page/", HTTP_X_REQUEST_ID="trace-42")

    [line] = [line for line in lines if "Not Found: /no-such-page/" in line]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING django\.request "
        r"\[req=trace-42 practice=alpha\] Not Found: /no-such-page/",
        line,
    )


def test_json_lines_parse_with_time_level_logger_request_id_and_practice(alpha_client):
    with console_lines("json") as lines:
        alpha_client.get("/no-such-page/", HTTP_X_REQUEST_ID="trace-43")

    records = [json.loads(line) for line in lines]
    [record] = [record for record in records if record["message"] == "Not Found: /no-such-page/"]
    assert record["request_id"] == "trace-43"
    assert record["practice"] == "alpha"
    assert record["level"] == "WARNING"
    assert record["logger"] == "django.request"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])


def test_the_platform_host_has_no_practice(public_client):
    with console_lines() as lines:
        public_client.get("/no-such-page/", HTTP_X_REQUEST_ID="trace-44")

    [line] = [line for line in lines if "Not Found: /no-such-page/" in line]
    assert "[req=trace-44 practice=-]" in line


def test_nothing_is_left_bound_after_a_request(alpha_client):
    alpha_client.get("/no-such-page/", HTTP_X_REQUEST_ID="trace-45")

    with console_lines() as lines:
        logging.getLogger("loyalty").warning("after the request")

    assert lines[-1].endswith("[req=- practice=-] after the request")


def test_a_task_binds_its_practice_for_its_lines(db):
    log = logging.getLogger("practices.tasks")
    with console_lines("json") as lines:
        with bind(practice="beta"):
            log.warning("task ran")
            with bind(request_id="task-17"):
                log.warning("inner step")
        log.warning("task done")

    records = [json.loads(line) for line in lines]
    assert [(r["message"], r["practice"], r["request_id"]) for r in records] == [
        ("task ran", "beta", "-"),
        ("inner step", "beta", "task-17"),
        ("task done", "-", "-"),
    ]


def test_bind_restores_the_previous_practice_when_the_task_fails(db):
    with pytest.raises(RuntimeError), bind(practice="alpha"):
        raise RuntimeError("boom")

    with console_lines() as lines:
        logging.getLogger("practices.tasks").warning("next")
    assert "practice=-]" in lines[-1]
