"""One way to know the current practice, and its time zone active wherever code runs in it (practices.tenancy).

The first test reads the application's source: domain code asks `practices.selectors.current_practice()` for
the practice and Django (`timezone.localdate()`, `localtime()`, `get_current_timezone()`) for its time zone;
it never reads `connection.tenant` / `request.tenant` or builds a `ZoneInfo` itself. The others prove that the
zone is active where the code relies on it: in a request, in a background task, in `practice_context`, and
nowhere after them.
"""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from practices.middleware import PracticeMiddleware
from practices.models import Practice
from practices.tasks import enqueue_for_practice, in_practice_schema
from practices.tenancy import practice_context
from tests.conftest import host_of
from tests.factories import sign_in_staff

ROOT = Path(settings.BASE_DIR)
APPS = ("accounts", "analytics", "loyalty", "patients", "practices", "referrals", "rewards", "config")
AUCKLAND = "Pacific/Auckland"

PATTERNS = {
    "connection.tenant": re.compile(r"\bconnection\.tenant\b|getattr\(\s*connection\s*,\s*[\"']tenant[\"']"),
    "request.tenant": re.compile(r"\brequest\.tenant\b|getattr\(\s*request\s*,\s*[\"']tenant[\"']"),
    "ZoneInfo(": re.compile(r"\bZoneInfo\("),
}
# The tenancy code itself: where the practice and its zone come from.
TENANCY_MODULES = {"practices/tenancy.py", "practices/selectors.py"}
# (file, pattern): why it may, for now. Keep it short.
ALLOWED: dict[tuple[str, str], str] = {}


def application_files():
    for app in APPS:
        yield from (ROOT / app).rglob("*.py")
    for pattern in ("*.html", "*.txt"):
        yield from (ROOT / "templates").rglob(pattern)


def code_lines(path: Path):
    """The file's lines, without comments and docstring-only lines (words about the rule are not uses of it)."""
    in_docstring = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if path.suffix == ".py":
            quotes = stripped.count('"""')
            if in_docstring or stripped.startswith('"""'):
                in_docstring = in_docstring != (quotes % 2 == 1)
                continue
            line = line.split("#", 1)[0]
        yield number, line


def uses() -> list[tuple[str, str, str]]:
    """(file, pattern, where) for every use of a pattern in application code outside the tenancy modules."""
    found = []
    for path in application_files():
        name = path.relative_to(ROOT).as_posix()
        if name in TENANCY_MODULES:
            continue
        for number, line in code_lines(path):
            found += [
                (name, label, f"{name}:{number}: {line.strip()}") for label, p in PATTERNS.items() if p.search(line)
            ]
    return found


def test_application_code_asks_the_tenancy_helpers_for_the_practice_and_its_zone():
    found = [where for name, label, where in uses() if (name, label) not in ALLOWED]
    assert found == [], (
        "Use practices.selectors.current_practice() for the practice and Django's current time zone "
        "(timezone.localdate/localtime/get_current_timezone) instead:\n" + "\n".join(found)
    )


def test_every_allowed_use_is_still_there():
    stale = set(ALLOWED) - {(name, label) for name, label, _ in uses()}
    assert stale == set(), f"No longer used: remove these from ALLOWED: {sorted(stale)}"


def test_the_scan_finds_a_use(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Never connection.tenant."""\n'
        "zone = ZoneInfo(practice.time_zone)  # built here\n"
        "name = getattr(request, 'tenant', None)\n"
    )
    hits = [(number, label) for number, line in code_lines(sample) for label, p in PATTERNS.items() if p.search(line)]
    assert hits == [(2, "ZoneInfo("), (3, "request.tenant")]


# ---------------------------------------------------------------- requests


@pytest.fixture
def in_auckland(alpha):
    alpha.time_zone = AUCKLAND
    alpha.save(update_fields=["time_zone"])
    return alpha


def test_a_page_shows_todays_date_in_the_practices_time_zone(in_auckland, alpha_client):
    sign_in_staff(alpha_client, role="manager")
    # Tuesday 10 June at 20:00 UTC is already Wednesday 11 June, 08:00 in Auckland.
    with time_machine.travel(datetime(2025, 6, 10, 20, 0, tzinfo=UTC), tick=False):
        page = alpha_client.get("/staff/desk/").content.decode()

    assert "Wednesday, June 11" in page
    assert "Tuesday, June 10" not in page


def test_no_zone_is_left_active_after_a_request(db):
    Practice.objects.filter(slug="alpha").update(time_zone=AUCKLAND)

    response = Client(HTTP_HOST=host_of("alpha")).get("/")

    assert response.status_code == 200
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE
    connection.set_schema_to_public()


def test_the_zone_is_active_in_the_view_and_gone_when_the_view_raised(db, rf):
    Practice.objects.filter(slug="alpha").update(time_zone=AUCKLAND)
    seen = []

    def view(request):
        seen.append(timezone.get_current_timezone_name())
        raise ZeroDivisionError

    try:
        with pytest.raises(ZeroDivisionError):
            PracticeMiddleware(view)(rf.get("/", HTTP_HOST=host_of("alpha")))
    finally:
        connection.set_schema_to_public()

    assert seen == [AUCKLAND]
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_the_platform_host_keeps_the_servers_zone_and_the_zone_before_is_back_after(db, rf):
    seen = []

    def view(request):
        seen.append(timezone.get_current_timezone_name())

    with timezone.override("Europe/London"):
        PracticeMiddleware(view)(rf.get("/", HTTP_HOST=settings.BASE_DOMAIN))
        after = timezone.get_current_timezone_name()

    assert seen == [settings.TIME_ZONE]
    assert after == "Europe/London"


# ---------------------------------------------------------------- tasks and commands

zones_seen: list[str] = []


def record_zone() -> None:
    zones_seen.append(f"{connection.schema_name}:{timezone.get_current_timezone_name()}")


def test_a_background_task_runs_in_its_practices_time_zone(beta, django_capture_on_commit_callbacks):
    zones_seen.clear()
    Practice.objects.filter(pk=beta.pk).update(time_zone=AUCKLAND)

    with django_capture_on_commit_callbacks(execute=True):
        enqueue_for_practice("tests.test_tenancy.record_zone", schema_name=beta.schema_name)

    assert zones_seen == [f"{beta.schema_name}:{AUCKLAND}"]
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_practice_context_enters_the_schema_and_the_zone_and_leaves_both(alpha, beta):
    beta.time_zone = AUCKLAND

    with practice_context(beta):
        record_zone()

    assert zones_seen[-1] == f"{beta.schema_name}:{AUCKLAND}"
    assert connection.schema_name == alpha.schema_name
    assert timezone.get_current_timezone_name() == alpha.time_zone


def test_a_receiver_entering_a_practice_by_schema_name_gets_its_zone(alpha, beta):
    Practice.objects.filter(pk=beta.pk).update(time_zone=AUCKLAND)

    with in_practice_schema(beta.schema_name):
        record_zone()

    assert zones_seen[-1] == f"{beta.schema_name}:{AUCKLAND}"
    assert timezone.get_current_timezone_name() == alpha.time_zone
