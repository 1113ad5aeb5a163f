"""The platform admin's sign-in: operators go through the staff sign-in flow on the platform host (password,
then a code from their authenticator app, failed attempts throttled), always with two-factor; practice hosts
have no admin."""

from datetime import UTC, datetime

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import get_public_schema_name, schema_context

from accounts.models import AuditEvent, User
from tests.conftest import host_of
from tests.two_factor import app_code, give_two_factor, recovery_codes_of, set_up_two_factor

OPERATOR = "ops@platform.test"
PASSWORD = "operator-pass-1234"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(datetime(2026, 11, 30, 15, 0, 5, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def operator(db):
    with schema_context(get_public_schema_name()):
        yield User.objects.create_superuser(email=OPERATOR, password=PASSWORD)


def sign_in(client, email=OPERATOR, password=PASSWORD):
    return client.post("/staff/login/", {"login": email, "password": password})


def test_a_wrong_password_at_the_platform_admin_is_a_page_not_a_server_error(operator, public_client):
    response = public_client.post("/admin/login/?next=/admin/", {"username": OPERATOR, "password": "wrong"})

    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=/admin/"
    page = sign_in(public_client, password="wrong")
    assert page.status_code == 200
    assert "not correct" in page.content.decode()


def test_the_admin_sends_visitors_to_the_platform_sign_in(operator, public_client):
    response = public_client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0] == "/staff/login/?next=/admin/"
    page = response.content.decode()
    assert "Platform sign-in" in page and 'name="password"' in page
    assert "Forgot your password" not in page  # no password reset by email on the platform host


def test_failed_sign_ins_at_the_platform_are_throttled(operator, public_client):
    for _ in range(5):
        assert sign_in(public_client, password="wrong").status_code == 200

    throttled = sign_in(public_client)  # even the right password, until the wait is over

    assert throttled.status_code in (200, 429)  # the sign-in page, or a 429 page, saying so
    assert "Too many" in throttled.content.decode()
    assert public_client.get("/admin/").status_code == 302


def test_an_operator_without_two_factor_is_sent_to_set_it_up(operator, public_client):
    signed_in = sign_in(public_client)
    assert signed_in["Location"] == "/admin/"

    admin_home = public_client.get("/admin/")
    assert admin_home["Location"] == "/staff/2fa/totp/activate/"
    assert public_client.get("/admin/practices/practice/")["Location"] == "/staff/2fa/totp/activate/"
    set_up_page = public_client.get("/staff/2fa/", follow=True).content.decode()
    assert "Platform operators sign in with two-factor authentication" in set_up_page


def test_an_operator_signs_in_with_the_password_and_a_code(operator, public_client):
    sign_in(public_client)
    secret = set_up_two_factor(public_client, password=PASSWORD)
    assert public_client.get("/admin/").status_code == 200
    public_client.logout()

    after_password = sign_in(public_client)
    assert after_password["Location"] == "/staff/2fa/authenticate/"
    assert public_client.get("/admin/").status_code == 302
    signed_in = public_client.post("/staff/2fa/authenticate/", {"code": app_code(secret)})

    assert signed_in["Location"] == "/admin/"
    admin_home = public_client.get("/admin/")
    assert admin_home.status_code == 200 and "Practices" in admin_home.content.decode()


def test_an_operator_cannot_turn_two_factor_off(operator, public_client):
    sign_in(public_client)
    set_up_two_factor(public_client, password=PASSWORD)

    page = public_client.get("/staff/2fa/").content.decode()
    refused = public_client.post("/staff/2fa/totp/deactivate/")

    assert "it stays on" in page and "another platform operator" in page
    assert refused.status_code == 200 and "stays on" in refused.content.decode()
    with schema_context(get_public_schema_name()):
        assert Authenticator.objects.filter(user=operator, type=Authenticator.Type.TOTP).exists()


def test_the_admin_form_never_signs_in_by_password_alone(operator, public_client):
    with schema_context(get_public_schema_name()):
        User.objects.create_superuser(email="other@platform.test", password=PASSWORD)
    sign_in(public_client)
    set_up_two_factor(public_client, password=PASSWORD)

    response = public_client.post("/admin/login/", {"username": "other@platform.test", "password": PASSWORD})

    assert response["Location"] == "/admin/"
    assert public_client.get("/staff/2fa/").context["user"].email == OPERATOR


def test_the_command_resets_an_operators_two_factor(operator, public_client):
    sign_in(public_client)
    set_up_two_factor(public_client, password=PASSWORD)

    call_command("reset_two_factor", OPERATOR, "--platform", "--by", "Dana Ops", "--reason", "new phone")

    with schema_context(get_public_schema_name()):
        assert not Authenticator.objects.filter(user=operator).exists()
        event = AuditEvent.objects.get(action="two_factor.reset")
        assert (event.target_id, event.actor_label, event.note) == (
            str(operator.pk),
            "Dana Ops (manage.py reset_two_factor)",
            "new phone",
        )
    public_client.logout()
    sign_in(public_client)
    assert public_client.get("/admin/")["Location"] == "/staff/2fa/totp/activate/"


def test_a_recovery_code_signs_an_operator_in(operator, public_client):
    sign_in(public_client)
    set_up_two_factor(public_client, password=PASSWORD)
    with schema_context(get_public_schema_name()):
        code = recovery_codes_of(operator)[0]
    public_client.logout()

    sign_in(public_client)
    assert public_client.post("/staff/2fa/authenticate/", {"code": code})["Location"] == "/admin/"


@pytest.mark.parametrize("path", ["/admin/", "/admin/login/", "/admin/practices/staffmember/"])
def test_practice_hosts_have_no_admin(alpha, path):
    client = Client(HTTP_HOST=host_of("alpha"))

    assert client.get(path).status_code == 404
    assert client.post(path, {"username": "owner@alpha.test", "password": "x"}).status_code == 404


def test_the_operator_pages_are_on_the_platform_host_only(alpha):
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    assert client.get("/staff/signup/").status_code == 404
    assert client.get("/staff/login/code/").status_code == 404


def test_an_operator_changes_the_one_time_password_on_the_platform_host(operator, public_client):
    sign_in(public_client)
    set_up_two_factor(public_client, password=PASSWORD)
    new = "a-new-long-pass-99"

    changed = public_client.post(
        "/staff/password/change/", {"oldpassword": PASSWORD, "password1": new, "password2": new}
    )

    assert changed.status_code == 302
    with schema_context(get_public_schema_name()):
        operator.refresh_from_db()
        assert operator.check_password(new)


def test_admin_pages_allow_inline_styles_and_no_inline_scripts(operator, public_client):
    """Django's admin templates style with inline <style> blocks: allowed on the operators' pages only."""
    with schema_context(get_public_schema_name()):
        give_two_factor(operator)
    public_client.force_login(operator, backend="django.contrib.auth.backends.ModelBackend")

    response = public_client.get("/admin/practices/practice/")

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    style_src = next(part for part in policy.split(";") if part.strip().startswith("style-src"))
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" in style_src
    assert "'unsafe-inline'" not in script_src
