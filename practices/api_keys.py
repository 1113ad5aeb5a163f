"""POS API keys: created by the owner, shown once, stored hashed, revocable; and how a request proves it holds one.

Signing (scheme v1). Each key comes with a signing secret, created with it and shown once beside it. A signed
request sends `X-Timestamp: <Unix seconds>` and `X-Signature: v1=<hex>`, the HMAC-SHA256, keyed with the secret,
of the four lines

    {timestamp}\n{METHOD}\n{path and query string, as sent}\n{hex SHA-256 of the raw body}

so a signature is good for one method, one address, one body, and for five minutes either side of our clock.
docs/api.md has a worked example, checked by tests/loyalty/test_pos_signing.py.

Why the secret is stored as it is (in the practice's schema, like the key's hash) rather than hashed or encrypted:
the server must compute the same HMAC, so it needs the secret itself, and a hash would not do. Encrypting it
with a key from the settings would tie every POS integration to that key (rotating SECRET_KEY would silently
break every signature) while protecting little: the secret alone opens nothing, because every request must
also carry the API key, of which only a hash is stored. So a copy of the database is not enough to call the
API, signed or not. The secret is shown once for the same reason as the key: it travels to the POS developer
once, and nobody needs to read it again.

Keys created before signing secrets existed have none (`signing_secret` empty): they keep the older scheme
(`X-Signature: sha256=<HMAC-SHA256 of the body keyed with the API key>`) so integrations keep working, until
the owner replaces them with a new key (create one, move the POS to it, revoke the old one). A secret was not
made up for them by the migration: nobody would have seen it, and the POS signing the old way would break.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from accounts.models import User

from . import audit
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
SECRET_PREFIX = "pk_sign_"  # noqa: S105 (a prefix that tells secrets from keys, not a secret)
SIGNATURE_VERSION = "v1="
# How far X-Timestamp may be from our clock, either way: room for clocks that drift, not for replays.
SIGNATURE_TOLERANCE_SECONDS = 5 * 60
# Keys without a signing secret (created before it existed) sign the body alone, keyed with the API key.
LEGACY_SIGNATURE_SCHEME = "sha256="


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def create_api_key(*, name: str, actor: User | audit.System, require_signature: bool = False) -> tuple[ApiKey, str]:
    """Create a key for the current practice; returns it and the raw key, which is never stored or shown again.
    Recorded in the audit trail (its name and visible prefix, never the key or its secret).

    The key's signing secret is `key.signing_secret` (see the module's docstring for why it is kept as it is).
    """
    audit.require_actor(actor)
    name = (name or "").strip()
    if not name:
        raise PracticeError("Give the key a name, e.g. the POS system that will use it.", field="name")
    # Only randomness: the key encodes nothing (no practice, no id) that could be derived or guessed.
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name[:80],
        prefix=raw_key[:VISIBLE_CHARS],
        key_hash=hash_key(raw_key),
        signing_secret=SECRET_PREFIX + secrets.token_urlsafe(32),
        require_signature=require_signature,
        created_by=actor if isinstance(actor, User) else None,
    )
    audit.record(
        actor=actor,
        action="api_key.created",
        target=key,
        after={"name": key.name, "prefix": key.prefix, "require_signature": key.require_signature},
    )
    return key, raw_key


@transaction.atomic
def revoke_api_key(*, key: ApiKey, actor: User | audit.System) -> ApiKey:
    """Revoke a key: the next request made with it is refused. Recorded in the audit trail; revoking a revoked
    key changes (and records) nothing."""
    audit.require_actor(actor)
    # The update is conditional so two owners revoking at once keep the first time and person.
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=actor if isinstance(actor, User) else None
    )
    key.refresh_from_db(fields=["revoked_at", "revoked_by"])
    if revoked:
        audit.record(
            actor=actor,
            action="api_key.revoked",
            target=key,
            before={"revoked_at": None},
            after={"revoked_at": key.revoked_at},
        )
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
            "SELECT id, require_signature, signing_secret, last_used_at FROM practices_apikey"
            " WHERE key_hash = %s AND revoked_at IS NULL ORDER BY id LIMIT 1",
            [hash_key(raw_key)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    key = ApiKey.from_db(connection.alias, ["id", "require_signature", "signing_secret", "last_used_at"], row)
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    if key.last_used_at is None or key.last_used_at < stale:
        # Conditional, so concurrent requests of the same minute write once between them.
        ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=key.pk).update(
            last_used_at=now
        )
        key.last_used_at = now
    return key


def string_to_sign(*, timestamp: str, method: str, path: str, body: bytes) -> str:
    """What a v1 signature covers: the time, the method, the path with its query string, and the body's digest."""
    return f"{timestamp}\n{method.upper()}\n{path}\n{hashlib.sha256(body).hexdigest()}"


def sign(*, secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The X-Signature header value (v1) of a request, signed with the key's signing secret (what a POS sends)."""
    message = string_to_sign(timestamp=timestamp, method=method, path=path, body=body)
    return SIGNATURE_VERSION + hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signature_matches(*, secret: str, timestamp: str, method: str, path: str, body: bytes, header: str) -> bool:
    """Whether `header` ("v1=<hex>") signs this request with the secret, compared in constant time."""
    expected = sign(secret=secret, timestamp=timestamp, method=method, path=path, body=body)
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())


def sign_legacy(raw_key: str, body: bytes) -> str:
    """The older X-Signature ("sha256=<hex>", the body alone keyed with the API key), for keys without a secret."""
    return LEGACY_SIGNATURE_SCHEME + hmac.new(raw_key.encode(), body, hashlib.sha256).hexdigest()


def legacy_signature_matches(*, raw_key: str, body: bytes, header: str) -> bool:
    """Whether `header` ("sha256=<hex>") is the HMAC-SHA256 of the body under the key, compared in constant time."""
    return hmac.compare_digest(sign_legacy(raw_key, body).encode(), header.strip().lower().encode())


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
            if key.signing_secret:
                _check_signature(request, secret=key.signing_secret, header=header)
            elif not legacy_signature_matches(raw_key=raw_key, body=request.body, header=header):
                raise AuthenticationFailed(
                    "The X-Signature header does not match the request body signed with this key.",
                    code="bad_signature",
                )
        elif key.require_signature:
            raise AuthenticationFailed(
                "This key only accepts signed requests: send X-Timestamp and X-Signature: v1=<hex> as described "
                "in the API guide (docs/api.md, “Signing requests”)."
                if key.signing_secret
                else "This key only accepts signed requests: send X-Signature: sha256=<HMAC-SHA256 of the body>.",
                code="signature_required",
            )
        # An anonymous user rather than None, so code reading request.user.is_authenticated keeps working.
        return AnonymousUser(), key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (with this challenge) rather than 403 when the key is missing or refused.
        return 'Bearer realm="pos"'


def _check_signature(request, *, secret: str, header: str) -> None:
    """Refuses (401) a v1 signature that is stale, from the future, or not of this method, path and body."""
    if not header.strip().lower().startswith(SIGNATURE_VERSION):
        raise AuthenticationFailed(
            "This key signs with its signing secret: send X-Timestamp and X-Signature: v1=<hex> "
            "(docs/api.md, “Signing requests”).",
            code="bad_signature",
        )
    timestamp = request.headers.get("X-Timestamp", "").strip()
    # Digits only, and few of them: int() would also take "+1_000" or a thousand digits.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise AuthenticationFailed(
            "Send X-Timestamp with the time the request was signed, in Unix seconds (e.g. 1767225600).",
            code="invalid_timestamp",
        )
    if abs(time.time() - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
        raise AuthenticationFailed(
            f"X-Timestamp is more than {SIGNATURE_TOLERANCE_SECONDS // 60} minutes away from our clock "
            f"(it is {int(time.time())} here): sign each request as it is sent, and check the POS's clock.",
            code="signature_expired",
        )
    if not signature_matches(
        secret=secret,
        timestamp=timestamp,
        method=request.method,
        path=request.get_full_path(),
        body=request.body,
        header=header,
    ):
        raise AuthenticationFailed(
            "The X-Signature header does not match this request: sign the timestamp, method, path (with its "
            "query string) and body of this very request with the key's signing secret (docs/api.md).",
            code="bad_signature",
        )


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
                "`Authorization: Bearer <key>` or `X-Api-Key: <key>`. Optionally sign each request with the "
                "key's signing secret: `X-Timestamp: <Unix seconds>` and `X-Signature: v1=<hex HMAC-SHA256 of "
                '"{timestamp}\\n{METHOD}\\n{path?query}\\n{hex SHA-256 of the body}">` (within 5 minutes '
                "of our clock; see the API guide); keys created with “require signed requests” refuse "
                "unsigned requests."
            ),
        }
