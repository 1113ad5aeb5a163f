"""POS API keys: created by the owner, shown once, stored hashed, revocable; and how a request proves it holds one."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from accounts.models import User

from .errors import PracticeError
from .models import ApiKey

KEY_PREFIX = "pk_live_"
# "pk_live_" and four random characters: enough to tell keys apart on the settings page, useless to an attacker.
VISIBLE_CHARS = len(KEY_PREFIX) + 4
# last_used_at is for people ("used 3 minutes ago"), so it is written at most this often rather than on
# every request, which would turn each POS call into an extra write on one hot row.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Longer headers are refused before hashing; real keys are 51 characters.
MAX_KEY_LENGTH = 200
SIGNATURE_SCHEME = "sha256="


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_api_key(*, name: str, actor: User | None, require_signature: bool = False) -> tuple[ApiKey, str]:
    """Create a key for the current practice; returns it and the raw key, which is never stored or shown again."""
    name = (name or "").strip()
    if not name:
        raise PracticeError("Give the key a name, e.g. the POS system that will use it.", field="name")
    # Only randomness: the key encodes nothing (no practice, no id) that could be derived or guessed.
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name[:80],
        prefix=raw_key[:VISIBLE_CHARS],
        key_hash=hash_key(raw_key),
        require_signature=require_signature,
        created_by=actor,
    )
    return key, raw_key


def revoke_api_key(*, key: ApiKey, actor: User | None) -> ApiKey:
    """Revoke a key: the next request made with it is refused. Revoking a revoked key changes nothing."""
    # The update is conditional so two owners revoking at once keep the first time and person.
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_by=actor)
    key.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return key


def authenticate_api_key(raw_key: str) -> ApiKey | None:
    """The active key of the current practice matching `raw_key`, or None; notes its use at most once a minute."""
    if not raw_key or len(raw_key) > MAX_KEY_LENGTH:
        return None
    # Looked up by hash: equal hashes mean equal keys, and the timing of an index lookup reveals nothing usable.
    # Read on every POS request and never cached, so a revoked key is refused at once; in plain SQL, and only
    # the columns needed here (the others load if used), as an ORM query costs more to build than to run.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, require_signature, last_used_at FROM practices_apikey"
            " WHERE key_hash = %s AND revoked_at IS NULL ORDER BY id LIMIT 1",
            [hash_key(raw_key)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    key = ApiKey.from_db(connection.alias, ["id", "require_signature", "last_used_at"], row)
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    if key.last_used_at is None or key.last_used_at < stale:
        # Conditional, so concurrent requests of the same minute write once between them.
        ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=key.pk).update(
            last_used_at=now
        )
        key.last_used_at = now
    return key


def sign(raw_key: str, body: bytes) -> str:
    """The X-Signature header value for `body` signed with the key (what a POS sends)."""
    return SIGNATURE_SCHEME + hmac.new(raw_key.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(*, raw_key: str, body: bytes, header: str) -> bool:
    """Whether `header` ("sha256=<hex>") is the HMAC-SHA256 of the body under the key, compared in constant time."""
    return hmac.compare_digest(sign(raw_key, body).encode(), header.strip().lower().encode())


# ---------------------------------------------------------------- the API side


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>` (or `X-Api-Key: <key>`), plus `X-Signature` when sent or required.

    Authenticates the calling system, not a person: `request.user` is anonymous and `request.auth` the ApiKey.
    """

    def authenticate(self, request):
        raw_key = _raw_key(request)
        if raw_key is None:
            return None
        key = authenticate_api_key(raw_key)
        if key is None:
            raise AuthenticationFailed("This API key is not valid or has been revoked.", code="invalid_api_key")
        header = request.headers.get("X-Signature")
        if header is not None:
            if not signature_matches(raw_key=raw_key, body=request.body, header=header):
                raise AuthenticationFailed(
                    "The X-Signature header does not match the request body signed with this key.",
                    code="bad_signature",
                )
        elif key.require_signature:
            raise AuthenticationFailed(
                "This key only accepts signed requests: send X-Signature: sha256=<HMAC-SHA256 of the body>.",
                code="signature_required",
            )
        # An anonymous user rather than None, so code reading request.user.is_authenticated keeps working.
        return AnonymousUser(), key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (with this challenge) rather than 403 when the key is missing or refused.
        return 'Bearer realm="pos"'


def _raw_key(request) -> str | None:
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("X-Api-Key", "").strip() or None


class HasPracticeApiKey(BasePermission):
    """DRF permission: the request carries an active API key of this practice."""

    message = "Send this practice's API key: Authorization: Bearer <key>."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes the key in the OpenAPI schema (drf-spectacular finds it by its target class)."""

    target_class = "practices.api_keys.ApiKeyAuthentication"
    name = "posApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "The practice's POS API key (created by the owner at /staff/settings/api-keys/), as "
                "`Authorization: Bearer <key>` or `X-Api-Key: <key>`. Optionally sign the body: "
                "`X-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the API key>`; "
                "keys created with “require signature” refuse unsigned requests."
            ),
        }
