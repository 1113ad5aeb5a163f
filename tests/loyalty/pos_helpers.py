"""Calling the POS API in tests: a client for a practice's host, and signed JSON posts."""

import json
import time

from rest_framework.test import APIClient

from practices import audit
from practices.api_keys import create_api_key, sign
from tests.conftest import host_of


def new_key(**fields) -> str:
    """A raw API key of the practice the connection is in."""
    return create_api_key(name=fields.pop("name", "Front desk POS"), actor=audit.System("test setup"), **fields)[1]


def new_key_and_secret(**fields) -> tuple[str, str]:
    """A raw API key of the practice the connection is in, and its signing secret."""
    key, raw_key = create_api_key(name=fields.pop("name", "Front desk POS"), actor=audit.System("test setup"), **fields)
    return raw_key, key.signing_secret


def pos_client(slug: str, raw_key: str | None = None) -> APIClient:
    client = APIClient(HTTP_HOST=host_of(slug))
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def signature_headers(secret: str, method: str, path: str, body: bytes = b"", *, timestamp: int | None = None) -> dict:
    """X-Timestamp and X-Signature (v1) for a request, as the test client takes extra headers."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = sign(secret=secret, timestamp=timestamp, method=method, path=path, body=body)
    return {"HTTP_X_TIMESTAMP": timestamp, "HTTP_X_SIGNATURE": signature}


def post_json(client: APIClient, path: str, body, *, signed_with: str | None = None, raw: bytes | None = None):
    """POST a JSON body (or raw bytes), signed now with the signing secret `signed_with` when given."""
    data = raw if raw is not None else json.dumps(body).encode()
    extra = signature_headers(signed_with, "POST", path, data) if signed_with else {}
    return client.generic("POST", path, data, content_type="application/json", **extra)
