"""allauth's rate limits (settings.ACCOUNT_RATE_LIMITS) answered as 429 Too Many Requests with Retry-After.

allauth counts the hits; this module only reads its counters to say how long to wait, and answers in the
shape of the caller: allauth's JSON (`{"status": 429, "errors": [...]}`) on the app API, a page saying when
to try again on the web. A limit met half-way through a sign-up never leaves a half-made account: the views
roll their transaction back before answering (patients.views, patients.headless).
"""

import math
import time
from http import HTTPStatus

from allauth.account import app_settings as account_settings
from allauth.core.exceptions import RateLimited
from allauth.core.internal import ratelimit as allauth_ratelimit
from allauth.headless.base.response import RateLimitResponse
from allauth.headless.internal.restkit.response import APIResponse
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

APP = "allauth.account"
# When no counter says otherwise (e.g. the lock that guards a counter was busy).
DEFAULT_WAIT_SECONDS = 60


def seconds_until_allowed(request: HttpRequest, *, action: str | None = None, key: str | None = None) -> int:
    """How long until `action` (every configured one when None) is allowed again for this address and key.

    Reads allauth's own counters: a rate is exhausted when it holds `amount` hits inside its window, and frees
    up when the oldest of the newest `amount` hits leaves the window.
    """
    actions = [action] if action else list(account_settings.RATE_LIMITS)
    now = time.time()
    wait = 0.0
    for name in actions:
        for rate in allauth_ratelimit.get_rates(app=APP, action=name):
            if rate.per == "key" and key is None:
                continue
            if rate.per == "user" and not request.user.is_authenticated:
                continue
            cache_key = allauth_ratelimit.get_cache_key(request, app=APP, action=name, rate=rate, key=key)
            hits = [at for at in cache.get(cache_key, []) if at > now - rate.duration]
            if len(hits) >= rate.amount:
                hits.sort(reverse=True)
                wait = max(wait, hits[rate.amount - 1] + rate.duration - now)
    return max(1, math.ceil(wait)) if wait > 0 else DEFAULT_WAIT_SECONDS


def wait_wording(seconds: int) -> str:
    """'in 40 seconds', 'in 7 minutes', 'in 2 hours': how people say it."""
    if seconds < 60:
        return f"in {seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"
    hours = math.ceil(minutes / 60)
    return f"in {hours} hours"


def _is_app_api(request: HttpRequest) -> bool:
    return hasattr(getattr(request, "allauth", None), "headless")


def too_many_requests(
    request: HttpRequest, *, action: str | None = None, key: str | None = None, message: str = ""
) -> HttpResponse:
    """The 429 answer for a limit met by this request, with Retry-After in seconds. `message` may say
    `{when}` ("in 7 minutes")."""
    seconds = seconds_until_allowed(request, action=action, key=key)
    message = (message or "Too many attempts. Please try again {when}.").format(when=wait_wording(seconds))
    if _is_app_api(request):
        # allauth's own 429 carries only the status: this adds what to do, in allauth's error shape.
        response = APIResponse(
            request, status=HTTPStatus.TOO_MANY_REQUESTS, errors=[{"code": "too_many_requests", "message": message}]
        )
    else:
        response = render(request, "429.html", {"message": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def handler429(request: HttpRequest) -> HttpResponse:
    """allauth's `handler429` (looked up in the root URL conf) for the limits it applies to whole views."""
    return too_many_requests(request)


class RetryAfterMiddleware:
    """Every 429 says when to come back, and a limit allauth raises deep inside a flow (RateLimited) is a 429,
    not a server error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if isinstance(response, RateLimitResponse):
            # allauth's bare {"status": 429} from the app API: the same with what to do and when.
            return too_many_requests(request)
        if response.status_code == 429 and not response.has_header("Retry-After"):
            response["Retry-After"] = str(seconds_until_allowed(request))
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, RateLimited):
            return too_many_requests(request)
        return None
