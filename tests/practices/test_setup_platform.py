from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django_q.models import Schedule
from django_tenants.utils import get_public_schema_name, schema_context

from accounts.models import User
from practices.models import Domain, Practice
from practices.selectors import practice_url
from practices.signals import DAILY_SCHEDULE_NAME, FREQUENT_SCHEDULE_NAME
from tests.two_factor import set_up_two_factor

OPERATOR = "ops@example.com"


def setup_platform(*args: str) -> str:
    out = StringIO()
    call_command("setup_platform", *args, stdout=out)
    return out.getvalue()


def printed_password(out: str) -> str:
    return out.split("One-time password:")[1].split()[0]


def platform_state() -> dict:
    with schema_context(get_public_schema_name()):
        return {
            "platform": list(Practice.objects.filter(schema_name="public").values()),
            "domains": list(Domain.objects.order_by("pk").values()),
            "schedules": list(Schedule.objects.order_by("pk").values("pk", "name", "func", "next_run")),
            "operators": list(User.objects.order_by("pk").values("pk", "email", "password", "is_superuser")),
        }


@pytest.fixture
def without_platform_domain(db):
    """A database as after `migrate_schemas` on a fresh server: no route for BASE_DOMAIN (the session fixture
    made one; it comes back when the test's transaction is rolled back)."""
    Domain.objects.filter(domain=settings.BASE_DOMAIN).delete()


def test_the_platform_host_answers_once_it_has_run(without_platform_domain, public_client):
    assert public_client.get("/").status_code == 404

    out = setup_platform("--domain", settings.BASE_DOMAIN, "--operator-email", OPERATOR)

    assert f"added the domain {settings.BASE_DOMAIN}" in out
    home = public_client.get("/")
    assert home.status_code == 200
    assert "Rewards from your practice" in home.content.decode()
    admin_login = public_client.get("/admin/login/", follow=True)
    assert admin_login.status_code == 200
    assert 'name="password"' in admin_login.content.decode()
    alpha = Practice.objects.get(slug="alpha")
    resolved = public_client.get("/api/v1/practices/resolve", {"code": alpha.invite_code})
    assert resolved.status_code == 200
    assert resolved.json()["slug"] == "alpha"
    assert resolved.json()["api_base_url"] == practice_url(alpha, "/api/v1/")
    assert public_client.get("/api/v1/practices/resolve", {"code": "NOSUCHCODE"}).status_code == 404


def test_the_operator_signs_in_with_the_printed_password_and_sets_up_two_factor_first(db, public_client):
    out = setup_platform("--operator-email", OPERATOR)
    password = printed_password(out)
    assert "Two-factor:        set up at the first sign-in" in out

    response = public_client.post("/staff/login/?next=/admin/", {"login": OPERATOR, "password": password})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    admin_home = public_client.get("/admin/")
    assert admin_home["Location"] == "/staff/2fa/totp/activate/"
    with time_machine.travel(datetime(2026, 11, 30, 15, 0, 5, tzinfo=UTC), tick=False):
        set_up_two_factor(public_client, password=password)
    admin_home = public_client.get("/admin/")
    assert admin_home.status_code == 200
    assert "Practices" in admin_home.content.decode()
    with schema_context(get_public_schema_name()):
        assert User.objects.get(email=OPERATOR).is_superuser


def test_running_it_again_changes_nothing_and_says_so(without_platform_domain):
    first = setup_platform("--operator-email", OPERATOR)
    state = platform_state()

    again = setup_platform("--operator-email", OPERATOR.upper())

    assert platform_state() == state
    assert "Nothing to change" in again
    assert f"{OPERATOR} is already a platform operator: left unchanged." in again
    assert "One-time password" not in again
    with schema_context(get_public_schema_name()):
        assert User.objects.get(email=OPERATOR).check_password(printed_password(first))


def test_it_creates_missing_schedules_with_the_post_migrate_hook(db):
    with schema_context(get_public_schema_name()):
        Schedule.objects.filter(name__in=[DAILY_SCHEDULE_NAME, FREQUENT_SCHEDULE_NAME]).delete()

    out = setup_platform()

    assert f"created the schedule “{DAILY_SCHEDULE_NAME}”" in out
    assert f"created the schedule “{FREQUENT_SCHEDULE_NAME}”" in out
    with schema_context(get_public_schema_name()):
        daily = Schedule.objects.get(name=DAILY_SCHEDULE_NAME)
        assert daily.func == "practices.tasks.run_daily_jobs"
        assert Schedule.objects.filter(name=FREQUENT_SCHEDULE_NAME).count() == 1


def test_it_reactivates_an_inactive_platform_row(db, public_client):
    Practice.objects.filter(schema_name="public").update(is_active=False)
    assert public_client.get("/").status_code == 404

    out = setup_platform()

    assert "reactivated the platform's row" in out
    assert public_client.get("/").status_code == 200


def test_an_existing_account_is_left_as_it_is(db):
    with schema_context(get_public_schema_name()):
        User.objects.create_user(email=OPERATOR, password="their-own-password")

    out = setup_platform("--operator-email", OPERATOR)

    assert f"{OPERATOR} is already an account that is not an operator: left unchanged." in out
    with schema_context(get_public_schema_name()):
        user = User.objects.get(email=OPERATOR)
        assert user.check_password("their-own-password")
        assert not user.is_superuser


def test_a_domain_other_than_base_domain_is_refused(without_platform_domain):
    with pytest.raises(CommandError, match="BASE_DOMAIN"):
        setup_platform("--domain", "loyalty.example.com", "--operator-email", OPERATOR)

    assert not Domain.objects.filter(domain__in=["loyalty.example.com", settings.BASE_DOMAIN]).exists()
    with schema_context(get_public_schema_name()):
        assert not User.objects.filter(email=OPERATOR).exists()


def test_an_invalid_operator_email_leaves_nothing_behind(without_platform_domain):
    with pytest.raises(CommandError, match="not a valid email"):
        setup_platform("--operator-email", "ops-at-example")

    assert not Domain.objects.filter(domain=settings.BASE_DOMAIN).exists()
