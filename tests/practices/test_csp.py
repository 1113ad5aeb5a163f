"""Content-Security-Policy: every page sends it, and no page has markup the policy would block.

The pages are rendered as each kind of visitor sees them (anonymous, a patient, each staff role, a platform
operator), from every URL pattern without parameters plus the pages that need an object (a share link, a
reward, a voucher, a patient's page). An inline <script> or <style> without the request's nonce, an
event-handler attribute (onclick=...), a style attribute or a javascript: URL fails the test: browsers
refuse them under the policy, so the page would be broken for everyone.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import get_public_schema_name, schema_context

from loyalty.services import LineIn, record_purchase
from patients.notifications import notify
from practices.models import StaffMember
from referrals.codes import code_for_patient
from rewards.models import Reward
from rewards.services import grant_voucher
from tests.conftest import host_of
from tests.factories import CatalogItemFactory, PatientFactory, RewardFactory, StaffMemberFactory, TierFactory

HEADER = "Content-Security-Policy"
# Pages that are not pages: files, redirects to elsewhere, endpoints answering something other than HTML.
SKIP = re.compile(r"^/(api/|_allauth/|sms/|static/|media/|healthz)|logout|\.(png|svg|csv|js|webmanifest)$")


def policy_of(response) -> dict[str, list[str]]:
    directives = {}
    for part in response[HEADER].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


class InlineCode(HTMLParser):
    """Collects what a strict policy refuses: inline scripts and styles without the nonce, handler attributes,
    style attributes, javascript: URLs."""

    def __init__(self, nonce: str | None):
        super().__init__()
        self.nonce = nonce
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            # allauth's phone and email change pages hide a form holding only hidden inputs this way: refused by
            # the policy, and nothing shows either way.
            if name == "style" and (tag, value) != ("form", "display: none"):
                self.problems.append(f'<{tag} style="{value}">')
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}={value}>")
        nonce_ok = self.nonce is not None and attributes.get("nonce") == self.nonce
        if tag == "script" and not attributes.get("src"):
            kind = (attributes.get("type") or "text/javascript").lower()
            if kind not in ("application/json", "application/ld+json") and not nonce_ok:
                self.problems.append(f"inline <script> without the nonce: {attrs}")
        if tag == "style" and not nonce_ok:
            self.problems.append("<style> without the nonce")


def problems_in(response) -> list[str]:
    styles = policy_of(response).get("style-src", [])
    nonces = {value[len("'nonce-") : -1] for value in styles if value.startswith("'nonce-")}
    parser = InlineCode(next(iter(nonces), None))
    parser.feed(response.content.decode())
    if "'unsafe-inline'" in styles and not nonces:  # a page that allows inline styles (ReDoc's)
        return [problem for problem in parser.problems if "style" not in problem]
    return parser.problems


def page_paths(urlconf: str) -> list[str]:
    """Every URL pattern of the URL conf that takes no parameter, as a path."""

    def walk(patterns, prefix: str):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and not pattern.pattern.regex.groupindex:
                path = route.replace("^", "").replace("$", "")
                if not re.search(r"[\\()\[\]?*+|]", path):  # a regular expression, not a plain path
                    yield "/" + path

    return sorted({path for path in walk(get_resolver(urlconf).url_patterns, "") if not SKIP.search(path)})


def signed_in(host: str, user) -> Client:
    client = Client(HTTP_HOST=host, raise_request_exception=False)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def practice_pages(alpha) -> tuple[dict[str, Client], list[str]]:
    """The visitors of practice alpha and the pages to render for each."""
    TierFactory(name="Gold", threshold_points=5_000)
    patient = PatientFactory(user__first_name="Ada")
    item = CatalogItemFactory()
    purchase, _ = record_purchase(
        patient=patient, lines=[LineIn(quantity=1, unit_price_cents=40_000, item=item)], source="desk"
    )
    RewardFactory(name="Close one", points_cost=800)
    reward = RewardFactory(points_cost=100)
    voucher = grant_voucher(patient=patient, kind=Reward.Kind.CREDIT, credit_cents=1_000, name="Welcome credit")
    notify(patient=patient, title="Hello", body="Welcome")
    code = code_for_patient(patient)
    visitors = {
        "anonymous": Client(HTTP_HOST=host_of("alpha"), raise_request_exception=False),
        "patient": signed_in(host_of("alpha"), patient.user),
    }
    for role in StaffMember.Role.values:
        visitors[f"staff {role}"] = signed_in(host_of("alpha"), StaffMemberFactory(role=role).user)
    paths = [
        *page_paths(settings.ROOT_URLCONF),
        f"/r/{code.code}",
        "/r/NOSUCHCODE",
        f"/rewards/{reward.pk}/",
        f"/vouchers/{voucher.pk}/",
        f"/staff/patients/{patient.pk}/",
        f"/staff/purchases/{purchase.pk}/",
        f"/staff/referrals/qr/{code.code}/poster/",
        "/api/docs/",
        "/api/redoc/",
    ]
    return visitors, paths


def test_every_page_sends_a_strict_policy(alpha_client):
    response = alpha_client.get("/staff/login/")

    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"][0] == "'self'" and "'unsafe-inline'" not in policy["script-src"]
    assert policy["style-src"][0] == "'self'" and "'unsafe-inline'" not in policy["style-src"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]
    # The practice's colours, the one inline style, carry this response's nonce.
    nonce = next(value for value in policy["style-src"] if value.startswith("'nonce-"))[7:-1]
    assert f'<style nonce="{nonce}">' in response.content.decode()


def test_each_response_gets_a_nonce_of_its_own(alpha_client):
    first, second = (policy_of(alpha_client.get("/join/"))["style-src"] for _ in range(2))

    assert first != second


def test_no_page_of_a_practice_has_inline_code_the_policy_refuses(practice_pages):
    visitors, paths = practice_pages
    seen_html = 0
    found = {}
    for who, client in visitors.items():
        for path in paths:
            response = client.get(path)
            if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
                continue
            seen_html += 1
            assert HEADER in response, f"{who} {path}: no {HEADER} header"
            if problems := problems_in(response):
                found[f"{who} {path}"] = problems
    assert not found, found
    # The walk really rendered the portal and the patient app, not just error pages.
    assert seen_html > 60, seen_html


def test_no_page_of_the_platform_has_inline_code_the_policy_refuses(public_client):
    with schema_context(get_public_schema_name()):
        operator = get_user_model().objects.create_superuser(email="ops@platform.test", password="x" * 20)
    public_client.raise_request_exception = False  # pages' errors are the isolation tests' business
    visitors = {"anonymous": public_client, "operator": signed_in(settings.BASE_DOMAIN, operator)}
    paths = [*page_paths(settings.PUBLIC_SCHEMA_URLCONF), "/admin/practices/practice/", "/?code=NOSUCH"]
    found = {}
    for who, client in visitors.items():
        for path in paths:
            response = client.get(path)
            if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
                continue
            assert HEADER in response, f"{who} {path}: no {HEADER} header"
            if problems := problems_in(response):
                found[f"{who} {path}"] = problems
    connection.set_schema_to_public()
    assert not found, found


def test_the_platform_code_form_may_send_visitors_on_to_their_practice(public_client):
    response = public_client.get("/")

    assert policy_of(response)["form-action"] == ["'self'", f"*.{settings.BASE_DOMAIN}:*"]


def test_an_unknown_host_gets_the_policy_too(db, settings):
    settings.DEBUG = False  # django-csp leaves debug 404 pages alone
    response = Client(HTTP_HOST=f"nowhere.{settings.BASE_DOMAIN}").get("/")

    assert response.status_code == 404
    assert HEADER in response
