"""docs/api.md names every operation of the OpenAPI schema: each method and path, e.g. "`GET /api/v1/pos/purchases`"
(a host may come before the path, and the path's parameters have names of the guide's choosing)."""

import re
from pathlib import Path

from drf_spectacular.generators import SchemaGenerator

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("get", "post", "put", "patch", "delete")


def operations(urlconf: str) -> set[str]:
    """ "METHOD /path" of every operation in the schema served by this URL conf, parameters written {}."""
    schema = SchemaGenerator(urlconf=urlconf).get_schema(request=None, public=True)
    return {
        f"{method.upper()} {re.sub(r'{[^}]+}', '{}', path)}"
        for path, item in schema["paths"].items()
        for method in item
        if method in METHODS
    }


def documented() -> set[str]:
    """ "METHOD /path" of every `METHOD [https://host]/path...` the guide writes in code, parameters written {}."""
    guide = (ROOT / "docs/api.md").read_text()
    found = re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (?:https?://[^/\s`]+)?(/api/[\w/{}<>.-]*)", guide)
    return {f"{method} {re.sub(r'[{<][^}>]*[}>]', '{}', path)}" for method, path in found}


def test_every_operation_of_the_practice_api_is_in_the_guide():
    schema = operations("config.urls_practice")
    assert "GET /api/v1/pos/purchases" in schema and len(schema) > 25  # the schema is still read whole
    assert sorted(schema - documented()) == []


def test_the_platform_hosts_operations_are_in_the_guide():
    schema = operations("config.urls_public")
    assert schema == {"GET /api/v1/practices/resolve"}
    assert sorted(schema - documented()) == []
