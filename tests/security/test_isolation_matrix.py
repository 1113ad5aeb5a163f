"""Every URL pattern of both URL confs, requested by every kind of caller: nobody gets in where they should not,
and nothing answers a 5xx.

The patterns are walked from the resolvers, so a new page or endpoint is covered the day it is added. Path
parameters are filled with real objects of practice alpha (the patient's own voucher, a reward, a partner...),
so that a page that forgets its permission check shows it by answering 2xx. The rules:

1. No 5xx, for any caller, on GET and on an empty POST.
2. Callers from elsewhere (the staff and patients of practice beta with their own sessions, a POS key of beta,
   a platform operator) get nothing on alpha's host that an anonymous visitor does not get.
3. A patient gets no staff page, no POS endpoint; a POS key gets nothing but the POS API.
4. A staff page marked with a role (`staff_required(role=...)`) gives no 2xx to a lower role.
5. Another patient of the same practice gets nothing that belongs to the first one (vouchers, notifications).
6. Anonymous visitors get a 2xx only on the pages listed in PUBLIC (sign-in, join, share links, the PWA
   files...): a new page that answers anonymous visitors must be added there on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from loyalty.models import Campaign
from loyalty.services import LineIn, record_purchase
from patients.models import Notification, PatientImport
from patients.notifications import notify
from practices import audit
from practices.api_keys import create_api_key
from practices.models import Practice, StaffInvite, StaffMember
from referrals.codes import code_for_patient
from referrals.models import Milestone, Partner
from referrals.tv import replace_tv_link
from rewards.models import Reward
from rewards.services import grant_voucher
from tests.conftest import host_of
from tests.factories import (
    CatalogItemFactory,
    EarningActionFactory,
    PatientFactory,
    RewardFactory,
    StaffMemberFactory,
    TierFactory,
)

ROLES = [StaffMember.Role.FRONT_DESK, StaffMember.Role.MANAGER, StaffMember.Role.OWNER]
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}

# URL names (as reversed, with namespaces) an anonymous visitor may get a 2xx on.
PUBLIC = {
    "practice": {
        "patients:home",
        "account_signup",
        "account_login",
        "account_request_login_code",
        "account_confirm_login_code",
        "account_reset_password",
        "account_reset_password_done",
        "account_reset_password_from_key",  # the page says when the link is wrong or used
        "account_reset_password_from_key_done",
        "account_confirm_email",  # likewise
        "account_inactive",
        "account_email_verification_sent",
        "account_verify_phone",
        "practices:invite_accept",  # an emailed invitation to the staff (the page says when the link is wrong or used)
        "notifications:manifest",
        "notifications:service_worker",
        "api:api_root",
        "api:api_practice",
        "api:push_public_key",
        "api_schema",
        "api_docs",
        "api_redoc",
        "headless:app:config",
        "admin:login",
        "referrals:share",
        # The TV leaderboard by its secret link (referrals.tv): public on purpose, for the link's holder.
        "referrals:tv",
        "referrals:tv_board",
        # The program's terms and privacy notice, the app's icons and offline page (practices.views_branding).
        "practices:terms",
        "practices:privacy",
        "practices:brand_picture",
        "notifications:offline",
    },
    "public": {
        "platform_home",
        "resolve",
        "admin:login",
        "account_login",
        "account_reset_password",
        "account_reset_password_done",
    },
}


@dataclass
class Caller:
    name: str
    client: Client
    headers: dict = field(default_factory=dict)
    role: str | None = None  # a staff role of alpha
    is_patient: bool = False  # a patient of alpha
    foreign: bool = False  # belongs to another practice, or to the platform
    pos_key: bool = False  # alpha's own POS key


@dataclass
class World:
    patient: object
    other_patient: object
    values: dict[str, str]
    callers: list[Caller]


def signed_in(host: str, user) -> Client:
    client = Client(HTTP_HOST=host)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def world(alpha, beta) -> World:
    patient = PatientFactory(user__first_name="Ada")
    other_patient = PatientFactory(user__first_name="Bob")
    item = CatalogItemFactory(external_id="SKU-1")
    purchase, _ = record_purchase(
        patient=patient, lines=[LineIn(quantity=1, unit_price_cents=10_000, item=item)], source="desk"
    )
    reward = RewardFactory(points_cost=1)
    voucher = grant_voucher(patient=patient, kind=Reward.Kind.CREDIT, credit_cents=1_000, name="Welcome credit")
    notify(patient=patient, title="Hello", body="")
    notification = Notification.objects.get(patient=patient)
    patient_import = PatientImport.objects.create(
        file=ContentFile(b"phone\n+14155550100\n", name="patients.csv"), filename="patients.csv"
    )
    key, raw_key = create_api_key(name="POS", actor=audit.System("test setup"))
    now = timezone.now()
    campaign = Campaign.objects.create(name="Double", starts_at=now, ends_at=now + timedelta(days=2))
    values = {
        "purchase_id": purchase.pk,
        "reward_id": reward.pk,
        "voucher_id": voucher.pk,
        "redemption_id": voucher.pk,
        "patient_id": patient.pk,
        "import_id": patient_import.pk,
        "key_id": key.pk,
        "notification_id": notification.pk,
        "item_id": item.pk,
        "tier_id": TierFactory().pk,
        "campaign_id": campaign.pk,
        "action_id": EarningActionFactory().pk,
        "milestone_id": Milestone.objects.create(count=3, points=100).pk,
        "partner_id": Partner.objects.create(name="Bella Blog").pk,
        "member_id": StaffMemberFactory(role=StaffMember.Role.FRONT_DESK).pk,
        "invite_id": StaffInvite.objects.create(
            email="invited@alpha.test", expires_at=now + timedelta(days=7), link_version="v1", sent_at=now
        ).pk,
        "voucher_code": voucher.voucher_code,
        "referral_code": code_for_patient(patient).code,
        "token": replace_tv_link(actor=audit.System("test setup")).token,  # a live TV link; other tokens fail
        "table": "points",
    }
    alpha_host = host_of("alpha")
    callers = [Caller("anonymous", Client(HTTP_HOST=alpha_host))]
    for role in ROLES:
        member = StaffMemberFactory(role=role)
        callers.append(Caller(f"staff:{role}", signed_in(alpha_host, member.user), role=role))
    callers.append(Caller("patient", signed_in(alpha_host, patient.user), is_patient=True))
    callers.append(Caller("other patient", signed_in(alpha_host, other_patient.user), is_patient=True))
    callers.append(
        Caller("pos key", Client(HTTP_HOST=alpha_host), {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}, pos_key=True)
    )
    with tenant_context(beta):
        beta_owner = StaffMemberFactory(role=StaffMember.Role.OWNER)
        beta_patient = PatientFactory()
        _, beta_key = create_api_key(name="POS", actor=audit.System("test setup"))
        for name, user in (("beta owner", beta_owner.user), ("beta patient", beta_patient.user)):
            client = signed_in(host_of("beta"), user)  # the session lives in beta's schema
            client.defaults["HTTP_HOST"] = alpha_host
            callers.append(Caller(name, client, foreign=True))
    callers.append(
        Caller("beta pos key", Client(HTTP_HOST=alpha_host), {"HTTP_AUTHORIZATION": f"Bearer {beta_key}"}, foreign=True)
    )
    with schema_context(get_public_schema_name()):
        operator = get_user_model().objects.create_superuser(email="ops@platform.test", password="x" * 20)
        client = signed_in(settings.BASE_DOMAIN, operator)
        client.defaults["HTTP_HOST"] = alpha_host
        callers.append(Caller("platform operator", client, foreign=True))
    connection.set_tenant(alpha)
    return World(
        patient=patient, other_patient=other_patient, values={k: str(v) for k, v in values.items()}, callers=callers
    )


# ---------------------------------------------------------------- the URL patterns


@dataclass(frozen=True)
class Route:
    name: str  # with namespaces, e.g. "loyalty:history"
    route: str
    keys: tuple[str, ...]


def routes(urlconf: str) -> Iterator[Route]:
    def walk(patterns, namespace: str, prefix: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and pattern.name:
                keys = tuple(pattern.pattern.regex.groupindex)
                yield Route(f"{namespace}{pattern.name}", prefix + str(pattern.pattern), keys)

    seen = set()
    for route in walk(get_resolver(urlconf).url_patterns, "", ""):
        if route.name not in seen:  # a name reversed by two patterns resolves to the first
            seen.add(route.name)
            yield route


def fill(route: Route, values: dict[str, str]) -> dict[str, str]:
    kwargs = {}
    for key in route.keys:
        if key == "code":
            kwargs[key] = values["voucher_code"] if "voucher" in route.route else values["referral_code"]
        elif key in values:
            kwargs[key] = values[key]
        elif key in {"object_id", "content_type_id", "app_label", "model_name"}:
            kwargs[key] = {"app_label": "practices", "model_name": "practice"}.get(key, "1")
        else:
            kwargs[key] = "x1"  # tokens and keys of links sent by email: wrong ones on purpose
    return kwargs


def url_of(route: Route, values: dict[str, str], urlconf: str) -> str | None:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(route.name, kwargs=fill(route, values), urlconf=urlconf)
    except NoReverseMatch:
        return None


def required_role(path: str, urlconf: str) -> str | None:
    match = resolve(path, urlconf=urlconf)
    return getattr(match.func, "staff_role", None)


# ---------------------------------------------------------------- the matrix


def statuses(world: World, urlconf: str, method: str) -> dict[tuple[str, str], int]:
    results = {}
    for route in routes(urlconf):
        url = url_of(route, world.values, urlconf)
        if url is None:
            continue
        for caller in world.callers:
            if method == "post" and route.name in {"account_logout", "admin:logout"}:
                continue  # would end the caller's session for the rest of the walk
            response = getattr(caller.client, method)(url, **caller.headers)
            results[(route.name, caller.name)] = response.status_code
            connection.set_tenant(Practice.objects.get(slug="alpha"))
    return results


def test_every_practice_url_for_every_caller(world, alpha):
    urlconf = settings.ROOT_URLCONF
    got = statuses(world, urlconf, "get")
    assert len({name for name, _ in got}) > 150, "the walk found too few URL patterns"
    problems = []
    callers = {caller.name: caller for caller in world.callers}
    anonymous_ok = {name for (name, who), status in got.items() if who == "anonymous" and status < 300}
    for (name, who), status in sorted(got.items()):
        caller = callers[who]
        ok = 200 <= status < 300
        if status >= 500:
            problems.append(f"{name}: {status} for {who}")
        elif not ok:
            continue
        elif who == "anonymous" and name not in PUBLIC["practice"]:
            problems.append(f"{name}: {status} for an anonymous visitor (add it to PUBLIC if that is meant)")
        elif caller.foreign and name not in anonymous_ok:
            problems.append(f"{name}: {status} for {who}, from another practice or the platform")
        elif (caller.is_patient or caller.pos_key) and name not in anonymous_ok and _is_staff_page(name):
            problems.append(f"{name}: {status} for {who}, a staff page")
        elif caller.pos_key and name not in anonymous_ok and not _is_pos(name):
            problems.append(f"{name}: {status} for a POS key outside the POS API")
        elif not caller.pos_key and _is_pos(name):
            problems.append(f"{name}: {status} for {who} without a POS key")
        elif caller.role and (role := _role_of(name, world, urlconf)) and ROLE_RANK[caller.role] < ROLE_RANK[role]:
            problems.append(f"{name}: {status} for {who}, a page for {role} and above")
        elif who == "other patient" and _is_patients_own(name, urlconf):
            problems.append(f"{name}: {status} for another patient of the practice")
    assert problems == [], "\n".join(problems)


def test_no_empty_post_to_a_practice_url_is_a_server_error(world, alpha):
    got = statuses(world, settings.ROOT_URLCONF, "post")
    assert [f"{name}: {status} for {who}" for (name, who), status in sorted(got.items()) if status >= 500] == []


def test_every_platform_url_for_every_caller(world, alpha):
    urlconf = settings.PUBLIC_SCHEMA_URLCONF
    for caller in world.callers:
        caller.client.defaults["HTTP_HOST"] = settings.BASE_DOMAIN
    got = statuses(world, urlconf, "get") | {
        (name, f"{who} (POST)"): status for (name, who), status in statuses(world, urlconf, "post").items()
    }
    assert len({name for name, _ in got}) > 20, "the walk found too few URL patterns"
    problems = []
    for (name, who), status in sorted(got.items()):
        if status >= 500:
            problems.append(f"{name}: {status} for {who}")
        elif 200 <= status < 300 and name not in PUBLIC["public"] and not who.startswith("platform operator"):
            problems.append(f"{name}: {status} for {who} on the platform host")
    assert problems == [], "\n".join(problems)


# Account pages under /staff/ that any signed-in person may use.
FOR_ANYONE_SIGNED_IN = {"account_logout"}


def _is_staff_page(name: str) -> bool:
    if name in FOR_ANYONE_SIGNED_IN:
        return False
    return name.startswith(("admin:", "staff")) or ":staff" in name or name in STAFF_NAMES


def _role_of(name: str, world: World, urlconf: str) -> str | None:
    route = next(route for route in routes(urlconf) if route.name == name)
    url = url_of(route, world.values, urlconf)
    return required_role(url, urlconf) if url else None


def _is_pos(name: str) -> bool:
    return name.rpartition(":")[2].startswith("pos_")


def _is_patients_own(name: str, urlconf: str) -> bool:
    """A URL naming one of the patient's own things (their voucher, their notification)."""
    route = next(route for route in routes(urlconf) if route.name == name)
    return bool({"voucher_id", "notification_id"} & set(route.keys)) and not route.route.startswith("staff/")


def _staff_names() -> set[str]:
    names = set()
    for route in routes(settings.ROOT_URLCONF):
        if route.route.startswith("staff/") and route.name not in PUBLIC["practice"]:
            names.add(route.name)
    return names


STAFF_NAMES = _staff_names()


def test_odd_values_in_path_parameters_are_never_a_server_error(world, alpha):
    """A NUL byte or a string where a code goes (PostgreSQL refuses NUL in text): a 4xx, never a 5xx."""
    from django.urls import NoReverseMatch, reverse

    errors = []
    for urlconf, host in (
        (settings.ROOT_URLCONF, host_of("alpha")),
        (settings.PUBLIC_SCHEMA_URLCONF, settings.BASE_DOMAIN),
    ):
        for route in routes(urlconf):
            if not route.keys:
                continue
            kwargs = {key: value for key, value in fill(route, world.values).items()}
            for key in route.keys:
                odd = dict(kwargs, **{key: "a\x00b"})
                try:
                    url = reverse(route.name, kwargs=odd, urlconf=urlconf)
                except NoReverseMatch:
                    continue  # an int parameter: the URL cannot carry it
                for caller in world.callers[:5]:  # anonymous and alpha's staff
                    status = caller.client.get(url, HTTP_HOST=host, **caller.headers).status_code
                    if status >= 500:
                        errors.append(f"{route.name} ({key}): {status} for {caller.name}")
                    connection.set_tenant(alpha)
    assert errors == [], "\n".join(errors)
