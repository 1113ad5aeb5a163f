"""Test worlds: the platform, practice "alpha" (entered by most tests) and practice "beta" (for isolation).

The practices are created once per test session in the test database (cloned from the
template schema, as in production); each test runs in a transaction that is rolled back.
"""

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from practices.models import Practice

PRACTICES = {
    "alpha": {"name": "Alpha Aesthetics", "owner_email": "owner@alpha.test"},
    "beta": {"name": "Beta Dental", "owner_email": "owner@beta.test"},
}
OWNER_PASSWORD = "owner-pass-1234"


def _ensure_practices() -> None:
    from practices.services import create_practice, ensure_platform

    ensure_platform()
    for slug, spec in PRACTICES.items():
        if not Practice.objects.filter(slug=slug).exists():
            create_practice(slug=slug, owner_password=OWNER_PASSWORD, owner_first_name="Owner", **spec)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        _ensure_practices()


def pytest_unconfigure(config):
    """Stop the embedded PostgreSQL if this test run started it."""
    if not settings.configured:
        return
    from config import embedded_db

    if embedded_db.started_here:
        from django.db import connections

        connections.close_all()
        embedded_db.stop(settings.DATA_DIR)


def host_of(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def set_time_zone(practice: Practice, zone: str) -> None:
    """Move the entered practice to `zone` and make it the current zone, as the next request or task in it would."""
    practice.time_zone = zone
    practice.save(update_fields=["time_zone"])
    timezone.activate(zone)


@pytest.fixture
def alpha(db):
    """Practice alpha, entered as a request or a task enters it: ORM calls in the test run in its schema, and
    its time zone is the current one (practices.tenancy)."""
    practice = Practice.objects.get(slug="alpha")
    connection.set_tenant(practice)
    timezone.activate(practice.time_zone)
    yield practice
    timezone.deactivate()
    connection.set_schema_to_public()


@pytest.fixture
def beta(db):
    """Practice beta (not entered)."""
    return Practice.objects.get(slug="beta")


@pytest.fixture
def alpha_client(alpha):
    return Client(HTTP_HOST=host_of("alpha"))


@pytest.fixture
def beta_client(beta):
    return Client(HTTP_HOST=host_of("beta"))


@pytest.fixture
def media_root(settings, tmp_path):
    """A throwaway MEDIA_ROOT. django-tenants' storage caches the folder derived from MEDIA_ROOT and does not
    notice it change, so the cache is dropped on the way in and out (other tests rely on theirs)."""
    from django.core.files.storage import storages

    storage = storages["default"]
    storage.__dict__.pop("relative_media_root", None)
    settings.MEDIA_ROOT = str(tmp_path)
    yield tmp_path
    storage.__dict__.pop("relative_media_root", None)


@pytest.fixture
def private_root(settings, tmp_path_factory):
    """A throwaway PRIVATE_ROOT, apart from the throwaway MEDIA_ROOT (the storage reads the setting on each use)."""
    settings.PRIVATE_ROOT = tmp_path_factory.mktemp("private")
    return settings.PRIVATE_ROOT


@pytest.fixture
def urls_built_with_debug(settings):
    """The URL confs as a process started with DEBUG on builds them (pytest-django turns DEBUG off before
    they are first imported): whatever development serves, a test can ask for."""
    import importlib

    from django.urls import clear_url_caches

    import config.urls_practice
    import config.urls_public

    def rebuild():
        for module in (config.urls_practice, config.urls_public):
            importlib.reload(module)
        clear_url_caches()

    settings.DEBUG = True
    rebuild()
    yield
    settings.DEBUG = False
    rebuild()


@pytest.fixture
def public_client(db):
    return Client(HTTP_HOST=settings.BASE_DOMAIN)
