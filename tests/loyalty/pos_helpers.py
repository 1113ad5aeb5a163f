"""Calling the POS API in tests: a client for a practice's host, and signed JSON posts."""

import json

from rest_framework.test import APIClient

from practices.api_keys import create_api_key, sign
from tests.conftest import host_of


def new_key(**fields) -> str:
    """A raw API key of the practice the connection is in."""
    return create_api_key(name=fields.pop("name", "Front desk POS"), actor=None, **fields)[1]


def pos_client(slug: str, raw_key: str | None = None) -> APIClient:
    client = APIClient(HTTP_HOST=host_of(slug))
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def post_json(client: APIClient, path: str, body, *, signed_with: str | None = None, raw: bytes | None = None):
    """POST a JSON body (or raw bytes), with an X-Signature computed over exactly those bytes when asked."""
    data = raw if raw is not None else json.dumps(body).encode()
    extra = {"HTTP_X_SIGNATURE": sign(signed_with, data)} if signed_with else {}
    return client.generic("POST", path, data, content_type="application/json", **extra)
