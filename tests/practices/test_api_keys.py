"""POS API keys: stored hashed and shown once, revocable, and the owner's page that manages them."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from practices import audit
from practices.api_keys import (
    authenticate_api_key,
    create_api_key,
    legacy_signature_matches,
    revoke_api_key,
    sign_legacy,
)
from practices.errors import PracticeError
from practices.models import ApiKey, StaffMember
from tests.factories import StaffMemberFactory
from tests.loyalty.pos_helpers import pos_client

Role = StaffMember.Role
PAGE = "/staff/settings/api-keys/"
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def owner(alpha) -> StaffMember:
    return StaffMemberFactory(role=Role.OWNER, user__first_name="Olive", user__last_name="Owner")


@pytest.fixture
def owner_client(alpha_client, owner):
    alpha_client.force_login(owner.user)
    return alpha_client


def can_call_the_api(raw_key: str, slug: str = "alpha") -> bool:
    return pos_client(slug, raw_key).get("/api/v1/pos/patients", {"phone": "+14155550199"}).status_code != 401


# ---------------------------------------------------------------- the services


def test_only_a_hash_of_the_key_is_stored(alpha, owner):
    key, raw_key = create_api_key(name="Front desk POS", actor=owner.user)

    assert raw_key.startswith("pk_live_")
    assert len(raw_key) > 40
    key.refresh_from_db()
    assert key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert key.prefix == raw_key[:12]
    stored = [str(value) for value in ApiKey.objects.values_list().get()]
    assert raw_key not in stored
    assert (key.name, key.created_by, key.is_active) == ("Front desk POS", owner.user, True)


def test_every_key_is_different(alpha):
    raw_keys = {create_api_key(name=f"POS {i}", actor=audit.System("test setup"))[1] for i in range(5)}

    assert len(raw_keys) == 5


def test_a_key_needs_a_name(alpha):
    with pytest.raises(PracticeError, match="Give the key a name"):
        create_api_key(name="  ", actor=audit.System("test setup"))


def test_the_key_authenticates_until_it_is_revoked(alpha, owner):
    key, raw_key = create_api_key(name="POS", actor=owner.user)
    assert authenticate_api_key(raw_key) == key

    revoke_api_key(key=key, actor=owner.user)

    assert authenticate_api_key(raw_key) is None
    key.refresh_from_db()
    assert key.revoked_by == owner.user
    assert not key.is_active


@pytest.mark.parametrize("raw_key", ["", "pk_live_unknown", "x" * 5000])
def test_unknown_keys_do_not_authenticate(alpha, raw_key):
    create_api_key(name="POS", actor=audit.System("test setup"))

    assert authenticate_api_key(raw_key) is None


def test_revoking_twice_keeps_the_first_revocation(alpha, owner):
    key, _ = create_api_key(name="POS", actor=audit.System("test setup"))
    with time_machine.travel(NOON, tick=False):
        revoke_api_key(key=key, actor=owner.user)
    with time_machine.travel(NOON + timedelta(hours=1), tick=False):
        revoke_api_key(key=key, actor=StaffMemberFactory(role=Role.OWNER).user)

    key.refresh_from_db()
    assert (key.revoked_at, key.revoked_by) == (NOON, owner.user)


def test_last_used_is_written_at_most_once_a_minute(alpha):
    key, raw_key = create_api_key(name="POS", actor=audit.System("test setup"))

    with time_machine.travel(NOON, tick=False):
        authenticate_api_key(raw_key)
    with time_machine.travel(NOON + timedelta(seconds=50), tick=False), CaptureQueriesContext(connection) as queries:
        authenticate_api_key(raw_key)
    key.refresh_from_db()
    assert key.last_used_at == NOON
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SET search_path")]
    assert len(statements) == 1  # the lookup only, no write

    with time_machine.travel(NOON + timedelta(seconds=61), tick=False):
        authenticate_api_key(raw_key)
    key.refresh_from_db()
    assert key.last_used_at == NOON + timedelta(seconds=61)


def test_a_key_only_exists_in_its_own_practice(alpha, beta):
    _, raw_key = create_api_key(name="Alpha POS", actor=audit.System("test setup"))

    with tenant_context(beta):
        assert authenticate_api_key(raw_key) is None
    assert can_call_the_api(raw_key, "alpha")
    assert not can_call_the_api(raw_key, "beta")


def test_older_keys_signatures_are_hmac_sha256_of_the_body_keyed_with_the_key():
    body = b'{"transaction_id": "T-1"}'
    header = sign_legacy("pk_live_secret", body)

    # The value any HMAC-SHA256 implementation gives (what the POS developer checks against).
    assert header == "sha256=51ab06f8fdea9eef68490d5a32ff7a2ef4671bbc3b6d14f694e4e332ae0fb307"
    assert legacy_signature_matches(raw_key="pk_live_secret", body=body, header=header)
    assert legacy_signature_matches(
        raw_key="pk_live_secret", body=body, header=header.upper().replace("SHA256", "sha256")
    )
    assert not legacy_signature_matches(raw_key="pk_live_other", body=body, header=header)
    assert not legacy_signature_matches(raw_key="pk_live_secret", body=body + b" ", header=header)
    assert not legacy_signature_matches(raw_key="pk_live_secret", body=body, header=header.removeprefix("sha256="))


# ---------------------------------------------------------------- the page


@pytest.mark.parametrize("role", [Role.MANAGER, Role.FRONT_DESK])
def test_only_the_owner_may_manage_keys(alpha, alpha_client, role):
    alpha_client.force_login(StaffMemberFactory(role=role).user)

    assert alpha_client.get(PAGE).status_code == 403
    assert alpha_client.post(PAGE, {"name": "Sneaky"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_a_visitor_is_sent_to_sign_in(alpha, alpha_client):
    response = alpha_client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_the_page_lists_keys_with_their_prefix_and_state(alpha, owner, owner_client):
    with time_machine.travel(NOON, tick=False):
        used, used_raw = create_api_key(name="Front desk POS", actor=owner.user)
        authenticate_api_key(used_raw)
    old, _ = create_api_key(name="Old tablet", actor=owner.user)
    revoke_api_key(key=old, actor=owner.user)

    page = owner_client.get(PAGE).content.decode()

    assert "Front desk POS" in page
    assert f"{used.prefix}…" in page
    assert "Nov 23, 2026 7:00 a.m." in page  # last used, in the practice's time zone (New York)
    assert "Old tablet" in page
    assert "Revoked" in page
    assert "by Olive Owner" in page
    assert used_raw not in page
    assert page.count("Revoke…") == 1  # only the active key can be revoked


def test_a_new_key_is_shown_once(alpha, owner, owner_client):
    response = owner_client.post(PAGE, {"name": "Front desk POS", "require_signature": "on"})

    key = ApiKey.objects.get()
    page = response.content.decode()
    raw_key = page.split('id="new-key" value="')[1].split('"')[0]
    secret = page.split('id="new-secret" value="')[1].split('"')[0]
    assert authenticate_api_key(raw_key) == key
    assert secret == key.signing_secret
    assert secret.startswith("pk_sign_")
    assert "they are shown only this once" in page
    assert "no-store" in response["Cache-Control"]
    assert (key.name, key.require_signature, key.created_by) == ("Front desk POS", True, owner.user)
    later = owner_client.get(PAGE).content.decode()
    assert raw_key not in later
    assert secret not in later


def test_the_page_marks_older_keys_without_a_signing_secret(alpha, owner_client):
    older, _ = create_api_key(name="Old tablet", actor=audit.System("test setup"))
    ApiKey.objects.filter(pk=older.pk).update(signing_secret="")
    create_api_key(name="Front desk POS", actor=audit.System("test setup"))

    page = owner_client.get(PAGE).content.decode()

    assert page.count("Older key without a signing secret") == 1
    assert "create a new key, move the POS to it, then revoke the old one" in page


def test_a_key_without_a_name_is_not_created(alpha, owner_client):
    response = owner_client.post(PAGE, {"name": ""})

    assert "Give the key a name" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_revoking_asks_first(alpha, owner_client):
    key, raw_key = create_api_key(name="Front desk POS", actor=audit.System("test setup"))

    page = owner_client.get(f"{PAGE}{key.pk}/revoke/").content.decode()

    assert "Revoke “Front desk POS”?" in page
    assert "stops working immediately" in page
    key.refresh_from_db()
    assert key.is_active
    assert can_call_the_api(raw_key)


def test_a_revoked_key_stops_working_at_once(alpha, owner, owner_client):
    key, raw_key = create_api_key(name="Front desk POS", actor=audit.System("test setup"))
    assert can_call_the_api(raw_key)

    response = owner_client.post(f"{PAGE}{key.pk}/revoke/", follow=True)

    assert "“Front desk POS” was revoked" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_by == owner.user
    assert not can_call_the_api(raw_key)


def test_a_key_of_another_practice_cannot_be_revoked(alpha, beta, owner_client):
    with tenant_context(beta):
        beta_key, _ = create_api_key(name="Beta POS", actor=audit.System("test setup"))

    response = owner_client.post(f"{PAGE}{beta_key.pk}/revoke/")

    assert response.status_code == 404
    with tenant_context(beta):
        beta_key.refresh_from_db()
        assert beta_key.is_active
