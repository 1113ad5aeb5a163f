"""Error reporting to Sentry, without patients' data.

Patients' phone numbers and email addresses end up in exception messages ("no patient with phone
+14155550142"), log lines and breadcrumbs. What leaves for Sentry is scrubbed here: request bodies, query
strings and cookies are dropped, credentials in headers removed, phone numbers and email addresses replaced
wherever text is carried, and local variables are not collected at all (they hold names and birthdays that
no pattern can recognise).
"""

from __future__ import annotations

import re
from typing import Any

PHONE_MASK = "[phone]"
EMAIL_MASK = "[email]"

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# E.164 (+ and 8 to 15 digits) and US numbers as people write them: 415-555-0142, (415) 555 0142,
# 415.555.0142, +1 415 555 0142, 4155550142. Not inside a longer run of letters or digits (ids, hashes).
PHONE = re.compile(
    r"(?<![\w+])"
    r"(?:\+[1-9]\d{7,14}"
    r"|(?:\+?1[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4})"
    r"(?!\w)"
)
# Request headers that carry credentials or identify a person.
SENSITIVE_HEADERS = {
    "authorization",
    "cookie",
    "proxy-authorization",
    "x-api-key",
    "x-session-token",
    "x-csrftoken",
    "x-forwarded-for",
    "x-real-ip",
}


def scrub_text(text: str) -> str:
    return PHONE.sub(PHONE_MASK, EMAIL.sub(EMAIL_MASK, text))


def scrub_value(value: Any) -> Any:
    """Strings scrubbed, inside dicts, lists and tuples too (keys included)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {scrub_value(key): scrub_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(item) for item in value]
    return value


def _scrub_request(request: dict) -> None:
    for key in ("data", "query_string", "cookies", "env"):
        request.pop(key, None)
    if isinstance(request.get("url"), str):
        request["url"] = scrub_text(request["url"].split("?", 1)[0])
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {
            name: scrub_value(value) for name, value in headers.items() if name.lower() not in SENSITIVE_HEADERS
        }


def _scrub_frames(container: dict) -> None:
    for frame in (container.get("stacktrace") or {}).get("frames") or []:
        frame.pop("vars", None)


def before_send(event: dict, hint: dict | None = None) -> dict:
    """Sentry's `before_send` (and `before_send_transaction`): the event without patients' data."""
    if isinstance(event.get("request"), dict):
        _scrub_request(event["request"])
    if "message" in event:
        event["message"] = scrub_value(event["message"])
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        for key in ("message", "formatted", "params"):
            if key in logentry:
                logentry[key] = scrub_value(logentry[key])
    for exception in (event.get("exception") or {}).get("values") or []:
        if "value" in exception:
            exception["value"] = scrub_value(exception["value"])
        _scrub_frames(exception)
    for thread in (event.get("threads") or {}).get("values") or []:
        _scrub_frames(thread)
    breadcrumbs = event.get("breadcrumbs")
    crumbs = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    for crumb in crumbs or []:
        for key in ("message", "data"):
            if key in crumb:
                crumb[key] = scrub_value(crumb[key])
    for key in ("extra", "tags", "transaction"):
        if key in event:
            event[key] = scrub_value(event[key])
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    return event


def init_sentry(*, dsn: str, environment: str, traces_sample_rate: float, **options: Any) -> None:
    """Start reporting errors (and a sample of traces) to Sentry, scrubbed by `before_send`."""
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=before_send,
        before_send_transaction=before_send,
        **options,
    )
