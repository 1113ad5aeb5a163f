"""Request ids and the practice, for the log lines of a request (practices.log_context).

`RequestIdMiddleware` (first in MIDDLEWARE) takes the proxy's `X-Request-ID` when it is a plain token, or
makes one, and sends it back in the response's `X-Request-ID`, so an operator can go from a user's report
or an access log line to every line the request logged. `PracticeLogMiddleware` (right after the practice
is resolved from the host) adds the practice's slug.

The values stay bound until the response is closed, because Django logs "Not Found" and "Internal Server
Error" after the middleware has returned.
"""

from __future__ import annotations

import re
import uuid

from django.core.signals import request_finished

from practices import log_context
from practices.selectors import current_practice_or_none

HEADER = "X-Request-ID"
# What a proxy or client may choose as the id: short, and nothing that could forge or split a log line.
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(value: str | None) -> str:
    """The incoming id when it is safe to log and echo, otherwise a new one."""
    if value and _SAFE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from(request.headers.get(HEADER))
        log_context.set_request(request_id=request.request_id)
        response = self.get_response(request)
        response[HEADER] = request.request_id
        return response


class PracticeLogMiddleware:
    """Binds the practice's slug once PracticeMiddleware has chosen the practice (the platform's own host
    has none)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (practice := current_practice_or_none()) is not None:
            log_context.set_practice(practice.slug)
        return self.get_response(request)


def _forget_request(**kwargs) -> None:
    log_context.clear()


request_finished.connect(_forget_request, dispatch_uid="config.request_id.forget")
