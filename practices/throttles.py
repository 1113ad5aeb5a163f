"""Request limits: how many requests one caller may make in a window (docs/api.md, "Request limits").

The rates are settings (`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, from the THROTTLE_* variables):

- `code_lookup`, per client address: the share pages `/r/<code>` of a practice, and the mobile app's
  `GET /api/v1/practices/resolve` on the platform host (codes must not be guessed by trying them all);
- `patient_api`, per signed-in user: every `/api/v1/` call made with a patient's token (or a session);
- `pos_api`, per POS API key: every call made with the key.

Counted in the cache (Redis in production, the database otherwise), whose keys django-tenants prefixes with
the connection's schema: each practice counts its own callers, the platform host its own. One counter per
caller and fixed window, raised by one per request: cheap enough for the POS's rates (DRF's own
SimpleRateThrottle rewrites a list of request times on every request). A cache that fails lets the request
through: a limit must never turn into an outage.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle

from .api_keys import ApiKey
from .throttle_rates import Rate, parse_rate

logger = logging.getLogger(__name__)


def rate_for(scope: str) -> Rate | None:
    # Read on every request, so that a test (or an operator's settings change) takes effect without a restart.
    return parse_rate(settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(scope))


def hit(scope: str, ident: str) -> int:
    """Counts one request of `ident` under `scope`: 0 when it is within the limit, otherwise the seconds until the
    window ends (what Retry-After says)."""
    rate = rate_for(scope)
    if rate is None:
        return 0
    now = time.time()
    window = int(now // rate.seconds)
    key = f"throttle:{scope}:{ident}:{window}"
    try:
        try:
            count = cache.incr(key)
        except ValueError:  # the window's first request
            count = 1 if cache.add(key, 1, timeout=rate.seconds + 1) else cache.incr(key)
    except Exception:
        logger.warning("Request limit %s not checked: the cache is not answering", scope, exc_info=True)
        return 0
    if count <= rate.count:
        return 0
    return max(1, math.ceil((window + 1) * rate.seconds - now))


def client_address(request) -> str:
    """The caller's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front, the address the nearest
    trusted proxy appended to X-Forwarded-For (REST_FRAMEWORK["NUM_PROXIES"]; what a client sends itself is not
    believed)."""
    return BaseThrottle().get_ident(request) or "unknown"


class _WindowThrottle(BaseThrottle):
    scope = ""

    def __init__(self):
        self.seconds_to_wait = 0

    def ident(self, request, view) -> str | None:
        """Who is counted, or None when this limit does not apply to the request."""
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        ident = self.ident(request, view)
        self.seconds_to_wait = hit(self.scope, ident) if ident is not None else 0
        return self.seconds_to_wait == 0

    def wait(self) -> int:
        return self.seconds_to_wait


class CodeLookupThrottle(_WindowThrottle):
    """Looking a code up (the resolve endpoint), per client address."""

    scope = "code_lookup"

    def ident(self, request, view) -> str:
        return client_address(request)


class PatientApiThrottle(_WindowThrottle):
    """Every API call of a signed-in user (a patient's token, or a session), per user."""

    scope = "patient_api"

    def ident(self, request, view) -> str | None:
        user = request.user
        return str(user.pk) if user is not None and user.is_authenticated else None


class PosApiThrottle(_WindowThrottle):
    """Every call made with a POS API key, per key."""

    scope = "pos_api"

    def ident(self, request, view) -> str | None:
        return str(request.auth.pk) if isinstance(request.auth, ApiKey) else None


def too_many_requests(request, wait: int) -> HttpResponse:
    """The plain "too many attempts" page, 429 with Retry-After."""
    response = render(request, "429.html", status=429)
    response["Retry-After"] = str(wait)
    return response


def limit_page_requests(scope: str) -> Callable:
    """A page view's limit per client address: over it, the plain "too many attempts" page."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def limited(request, *args, **kwargs):
            if wait := hit(scope, client_address(request)):
                return too_many_requests(request, wait)
            return view(request, *args, **kwargs)

        return limited

    return decorator
