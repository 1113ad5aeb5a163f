"""Errors reported to Sentry carry no patient data: no phone numbers, emails, request bodies or cookies."""

import copy
import gzip
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from config.sentry import before_send, scrub_text
from tests.production.processes import PYTHON, ROOT, environment

PATIENT_DATA = ["+14155550142", "415-555-0142", "(628) 555-0177", "jane.doe+vip@example.com", "Jane Doe"]

# Roughly what the Django integration sends for a failed staff search, plus what logging adds.
EVENT = {
    "level": "error",
    "message": "Lookup failed for +14155550142",
    "logentry": {
        "message": "No patient with phone %s or email %s",
        "params": ["(628) 555-0177", "jane.doe+vip@example.com"],
        "formatted": "No patient with phone (628) 555-0177 or email jane.doe+vip@example.com",
    },
    "exception": {
        "values": [
            {
                "type": "Patient.DoesNotExist",
                "value": "Patient matching query does not exist: phone='415-555-0142'",
                "stacktrace": {
                    "frames": [
                        {
                            "filename": "patients/selectors.py",
                            "function": "find_patient",
                            "lineno": 42,
                            "vars": {"phone": "'+14155550142'", "name": "'Jane Doe'"},
                        }
                    ]
                },
            }
        ]
    },
    "request": {
        "url": "https://alpha.loyalty.example/staff/patients/?q=4155550142",
        "method": "POST",
        "query_string": "q=4155550142",
        "data": {"phone": "+14155550142", "first_name": "Jane", "last_name": "Doe"},
        "cookies": {"sessionid": "abc123", "csrftoken": "def456"},
        "headers": {
            "Host": "alpha.loyalty.example",
            "Cookie": "sessionid=abc123",
            "Authorization": "Bearer pos-key-123",
            "X-Session-Token": "tok-999",
            "User-Agent": "Mozilla/5.0",
            "Referer": "https://alpha.loyalty.example/staff/patients/?q=jane.doe%2Bvip@example.com",
        },
        "env": {"REMOTE_ADDR": "203.0.113.9"},
    },
    "breadcrumbs": {
        "values": [
            {"category": "query", "message": "SELECT ... WHERE phone = '+14155550142'"},
            {"category": "patients", "message": "texted", "data": {"to": "+1 415 555 0142", "kind": "login_code"}},
        ]
    },
    "extra": {"patient": {"email": "jane.doe+vip@example.com", "phones": ["415.555.0142"]}, "points": 450},
    "user": {"id": "17", "email": "owner@alpha.test", "ip_address": "203.0.113.9", "username": "owner"},
    "tags": {"practice": "alpha"},
}


@pytest.fixture
def scrubbed():
    return before_send(copy.deepcopy(EVENT), {})


def test_no_phone_number_or_email_is_left_anywhere(scrubbed):
    sent = json.dumps(scrubbed)
    for value in [*PATIENT_DATA, "4155550142", "415.555.0142", "+1 415 555 0142", "owner@alpha.test"]:
        assert value not in sent


def test_messages_and_exception_values_keep_their_meaning(scrubbed):
    assert scrubbed["message"] == "Lookup failed for [phone]"
    assert scrubbed["logentry"]["formatted"] == "No patient with phone [phone] or email [email]"
    assert scrubbed["logentry"]["params"] == ["[phone]", "[email]"]
    assert scrubbed["exception"]["values"][0]["value"] == "Patient matching query does not exist: phone='[phone]'"
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["function"] == "find_patient"


def test_request_bodies_query_strings_cookies_and_credentials_are_dropped(scrubbed):
    request = scrubbed["request"]
    assert {"data", "query_string", "cookies", "env"}.isdisjoint(request)
    assert request["url"] == "https://alpha.loyalty.example/staff/patients/"
    assert set(request["headers"]) == {"Host", "User-Agent", "Referer"}
    assert request["headers"]["Referer"] == "https://alpha.loyalty.example/staff/patients/?q=[email]"


def test_local_variables_breadcrumbs_extra_and_user_are_scrubbed(scrubbed):
    assert "vars" not in scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert scrubbed["breadcrumbs"]["values"][0]["message"] == "SELECT ... WHERE phone = '[phone]'"
    assert scrubbed["breadcrumbs"]["values"][1]["data"] == {"to": "[phone]", "kind": "login_code"}
    assert scrubbed["extra"] == {"patient": {"email": "[email]", "phones": ["[phone]"]}, "points": 450}
    assert scrubbed["user"] == {"id": "17"}
    assert scrubbed["tags"] == {"practice": "alpha"}


@pytest.mark.parametrize(
    "text",
    [
        "order 20240501-0001 at 2024-05-01 10:30:00",
        "voucher K7QX9MZ2, 450 points, $125.00",
        "task 7f3a0c4e9b1d4e6f8a2b3c4d5e6f7a8b",
        "schema practice_1234567890abc",
    ],
)
def test_ordinary_numbers_and_ids_are_left_alone(text):
    assert scrub_text(text) == text


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.envelopes.append(body.decode())
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.envelopes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def events_in(envelope: str) -> list[dict]:
    """The error events of an envelope (a header line, then each item's header line and JSON payload)."""
    items = [json.loads(line) for line in envelope.splitlines() if line.startswith("{")]
    return [item for item in items if "exception" in item or "logentry" in item]


REPORT_ERRORS = """
import logging
import django
import sentry_sdk

django.setup()
logging.getLogger("patients.messaging").error("Text to +14155550142 failed")
try:
    raise LookupError("no patient with email jane.doe+vip@example.com")
except LookupError:
    sentry_sdk.capture_exception()
sentry_sdk.flush(timeout=10)
"""


def test_errors_reach_sentry_scrubbed_when_a_dsn_is_set(db, sentry_server):
    dsn = f"http://publickey@127.0.0.1:{sentry_server.server_port}/1"
    env = environment(
        DEBUG="true", SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="staging", DJANGO_SETTINGS_MODULE="config.settings"
    )
    result = subprocess.run(
        [PYTHON, "-c", REPORT_ERRORS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr

    events = [event for envelope in sentry_server.envelopes for event in events_in(envelope)]
    assert len(events) == 2, sentry_server.envelopes
    sent = "\n".join(sentry_server.envelopes)
    assert "14155550142" not in sent and "jane.doe" not in sent
    assert "Text to [phone] failed" in sent
    assert "no patient with email [email]" in sent
    assert {event["environment"] for event in events} == {"staging"}
