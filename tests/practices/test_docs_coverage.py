"""The operator and API guides keep up with the code: every setting read from the environment is in
docs/operations.md's table, and every `/api/v1/` endpoint of a practice host is in docs/api.md."""

import re
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parents[2]
# Read only by the test runner (lets several runs share one server): the README's table names it.
TEST_ONLY = {"TEST_DATABASE_NAME"}
READS = re.compile(r"""(?:environ\.get|env_bool|_int)\(\s*["']([A-Z][A-Z0-9_]+)["']""")


def patterns(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def test_every_environment_variable_is_in_the_operations_guide():
    read = set()
    for source in ("config/settings.py", "gunicorn.conf.py"):
        read |= set(READS.findall((ROOT / source).read_text()))
    guide = (ROOT / "docs/operations.md").read_text()

    assert "SECRET_KEY" in read and "WEB_CONCURRENCY" in read  # the pattern still finds them
    assert sorted(name for name in read - TEST_ONLY if f"`{name}`" not in guide) == []
    assert all(f"`{name}`" in (ROOT / "README.md").read_text() for name in TEST_ONLY)


def test_every_practice_api_endpoint_is_in_the_api_guide():
    guide = (ROOT / "docs/api.md").read_text()
    paths = {
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", "{}", path)
        for path in patterns(get_resolver("config.urls_practice"))
        if path.startswith("api/v1/") and path != "api/v1/"
    }
    # The guide writes the parameters as {id}, {code}...
    documented = {re.sub(r"\{\w+\}", "{}", path) for path in re.findall(r"/api/v1/[\w/{}.-]*[\w}]", guide)}

    assert len(paths) > 20
    assert sorted(paths - documented) == []
