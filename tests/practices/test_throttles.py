"""Request limits: share links and the code look-up per client address, the patient API per user, the POS API
per key (practices/throttles.py). Over a limit: 429 with Retry-After; the API's answer in the shared error
shape, the pages a plain page.

Each test comes from an address of its own (the counters live in the cache, which a Redis-backed test run
keeps between tests), and holds the clock still so that no window ends half-way.
"""

from __future__ import annotations

import secrets
import time

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from practices.throttle_rates import Rate, parse_rate
from practices.throttles import client_address
from referrals.codes import code_for_patient
from tests.conftest import host_of
from tests.factories import CatalogItemFactory, PatientFactory
from tests.loyalty.pos_helpers import new_key, pos_client, post_json

QUICK_REQUESTS = 30


@pytest.fixture(autouse=True)
def still_clock():
    with time_machine.travel(time.time(), tick=False):
        yield


@pytest.fixture
def address() -> str:
    return f"198.51.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def statuses(client, path: str, count: int = QUICK_REQUESTS, **extra) -> list[int]:
    return [client.get(path, **extra).status_code for _ in range(count)]


def assert_rate_limited_json(response) -> None:
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    assert response.json() == {
        "error": {
            "code": "rate_limited",
            "message": f"Too many requests. Please try again in {wait} second{'' if wait == 1 else 's'}.",
            "fields": {},
        }
    }


# ---------------------------------------------------------------- share links and the code look-up


def test_quick_requests_for_share_links_are_refused_after_twenty_with_a_plain_page(alpha, address):
    code = code_for_patient(PatientFactory(user__first_name="Ada"))
    visitor = Client(HTTP_HOST=host_of("alpha"), REMOTE_ADDR=address)

    answers = statuses(visitor, f"/r/{code.code}")

    assert answers == [200] * 20 + [429] * 10
    refused = visitor.get("/r/SOMEGUESS")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Content-Type"].startswith("text/html")
    assert "Too many attempts" in refused.content.decode()
    # Another address is not held up.
    assert Client(HTTP_HOST=host_of("alpha"), REMOTE_ADDR=f"{address}0").get(f"/r/{code.code}").status_code == 200


def test_share_link_limits_are_counted_per_practice(alpha, beta, address):
    statuses(Client(HTTP_HOST=host_of("alpha"), REMOTE_ADDR=address), "/r/GUESS1")

    assert Client(HTTP_HOST=host_of("beta"), REMOTE_ADDR=address).get("/r/GUESS1").status_code == 404


def test_the_code_look_up_on_the_platform_host_is_refused_after_twenty(public_client, address):
    answers = statuses(public_client, "/api/v1/practices/resolve?code=GUESS", REMOTE_ADDR=address)

    assert answers == [404] * 20 + [429] * 10
    assert_rate_limited_json(public_client.get("/api/v1/practices/resolve?code=GUESS", REMOTE_ADDR=address))


def test_the_platform_pages_code_form_shares_the_look_up_limit(public_client, address):
    statuses(public_client, "/api/v1/practices/resolve?code=GUESS", count=20, REMOTE_ADDR=address)

    refused = public_client.get("/?code=GUESS", REMOTE_ADDR=address)

    assert refused.status_code == 429
    assert "Too many attempts" in refused.content.decode()
    assert public_client.get("/", REMOTE_ADDR=address).status_code == 200  # the page itself is not limited


def test_behind_the_proxy_the_address_the_proxy_appended_is_counted(rf, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    assert client_address(request) == "203.0.113.9"  # what the client wrote itself (1.2.3.4) is not believed

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    assert client_address(request) == "10.0.0.2"


# ---------------------------------------------------------------- the patient API


def patient_token(client: Client, user) -> str:
    """A session token as the mobile app holds after signing in (allauth headless keys sessions by it)."""
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client.session.session_key


def test_the_patient_api_is_limited_per_patient(alpha, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "patient_api": "5/minute"},
    }
    first, second = PatientFactory(), PatientFactory()
    token = patient_token(Client(HTTP_HOST=host_of("alpha")), first.user)
    app = APIClient(HTTP_HOST=host_of("alpha"), HTTP_X_SESSION_TOKEN=token)

    assert [app.get(path).status_code for path in ["/api/v1/me", "/api/v1/me/points"] * 3] == [200] * 5 + [429]
    assert_rate_limited_json(app.get("/api/v1/me/ledger"))
    other = APIClient(HTTP_HOST=host_of("alpha"))
    other.credentials(HTTP_X_SESSION_TOKEN=patient_token(Client(HTTP_HOST=host_of("alpha")), second.user))
    assert other.get("/api/v1/me").status_code == 200


def test_the_patient_api_allows_its_default_rate(alpha):
    token = patient_token(Client(HTTP_HOST=host_of("alpha")), PatientFactory().user)
    app = APIClient(HTTP_HOST=host_of("alpha"), HTTP_X_SESSION_TOKEN=token)

    assert statuses(app, "/api/v1/me", count=60) == [200] * 60


# ---------------------------------------------------------------- the POS API


def sale(transaction_id: str) -> dict:
    return {"transaction_id": transaction_id, "patient": {"phone": "+14155550142"}, "lines": [{"item_id": "SKU-1"}]}


def test_the_pos_api_is_limited_per_key_on_every_path(alpha, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "pos_api": "4/minute"},
    }
    PatientFactory(user__phone="+14155550142")
    CatalogItemFactory(external_id="SKU-1")
    pos = pos_client("alpha", new_key())

    # Plain sales (answered without DRF's request cycle) and a look-up count against the same key.
    answers = [post_json(pos, "/api/v1/pos/purchases", sale(f"T-{n}")).status_code for n in range(3)]
    answers.append(pos.get("/api/v1/pos/patients?phone=415 555 0142").status_code)
    assert answers == [201, 201, 201, 200]
    assert_rate_limited_json(post_json(pos, "/api/v1/pos/purchases", sale("T-9")))
    assert_rate_limited_json(pos.get("/api/v1/pos/patients?phone=415 555 0142"))
    assert post_json(pos_client("alpha", new_key()), "/api/v1/pos/purchases", sale("T-9")).status_code == 201


# ---------------------------------------------------------------- rates and failures


def test_rates_are_read_as_written_in_the_settings():
    assert parse_rate("20/minute") == Rate(count=20, seconds=60)
    assert parse_rate("120/m") == Rate(count=120, seconds=60)
    assert parse_rate("100/10s") == Rate(count=100, seconds=10)
    assert parse_rate("5000/day") == Rate(count=5000, seconds=86400)
    assert parse_rate("off") is None
    with pytest.raises(ValueError):
        parse_rate("twenty a minute")


def test_a_cache_that_fails_lets_requests_through(alpha, monkeypatch, address):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "incr", broken)
    monkeypatch.setattr(cache, "add", broken)
    visitor = Client(HTTP_HOST=host_of("alpha"), REMOTE_ADDR=address)

    assert set(statuses(visitor, "/r/GUESS1")) == {404}
