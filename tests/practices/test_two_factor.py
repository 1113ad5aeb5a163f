"""Staff two-factor authentication: turning it on (QR code, key, a code, recovery codes shown once), signing in
with it, turning it off, the owner's requirement for all staff, resets of a lost phone, and who may use it."""

from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import AuditEvent
from practices.models import Practice, StaffMember
from tests.conftest import host_of
from tests.factories import STAFF_PASSWORD, PatientFactory, StaffMemberFactory, sign_in_staff
from tests.two_factor import app_code, recovery_codes_of, set_up_two_factor

Role = StaffMember.Role


@pytest.fixture(autouse=True)
def frozen_clock():
    # Codes change every 30 seconds: the clock stands still, so a code computed here is the one the server expects.
    with time_machine.travel(datetime(2026, 11, 30, 15, 0, 5, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def sign_in(client, email, password=STAFF_PASSWORD):
    return client.post("/staff/login/", {"login": email, "password": password})


def has_app(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


# ---------------------------------------------------------------- turning it on


def test_the_account_menu_leads_to_the_two_factor_page(alpha, alpha_client):
    sign_in_staff(alpha_client)
    staff_home = alpha_client.get("/staff/").content.decode()
    assert '<a href="/staff/2fa/">Two-factor</a>' in staff_home

    page = alpha_client.get("/staff/2fa/").content.decode()
    assert "Two-factor authentication" in page
    assert "<strong>Off.</strong>" in page
    assert 'href="/staff/2fa/totp/activate/">Set up two-factor' in page


def test_set_up_asks_for_the_password_then_shows_a_qr_code_and_the_key(alpha, alpha_client):
    sign_in_staff(alpha_client)

    asked = alpha_client.get("/staff/2fa/totp/activate/")
    assert asked.status_code == 302 and asked["Location"].startswith("/staff/reauthenticate/")
    wrong = alpha_client.post(asked["Location"], {"password": "not-my-password"})
    assert wrong.status_code == 200 and "Confirm it" in wrong.content.decode()
    alpha_client.post(asked["Location"], {"password": STAFF_PASSWORD})
    page = alpha_client.get("/staff/2fa/totp/activate/").content.decode()

    secret = alpha_client.session["mfa.totp.secret"]
    assert 'src="data:image/svg+xml;base64,' in page
    assert f'<code id="totp-secret">{secret}</code>' in page
    assert 'autocomplete="one-time-code"' in page


def test_a_wrong_code_does_not_turn_it_on(alpha, alpha_client):
    member = sign_in_staff(alpha_client)
    set_up_page = alpha_client.get("/staff/2fa/totp/activate/")
    alpha_client.post(set_up_page["Location"], {"password": STAFF_PASSWORD})
    alpha_client.get("/staff/2fa/totp/activate/")
    secret = alpha_client.session["mfa.totp.secret"]

    response = alpha_client.post("/staff/2fa/totp/activate/", {"code": app_code(secret, steps_ahead=3)})

    assert response.status_code == 200
    assert "That code isn&#x27;t right" in response.content.decode()
    assert not has_app(member.user)


def test_turning_it_on_shows_the_recovery_codes_once_with_download_and_print(
    alpha, alpha_client, django_capture_on_commit_callbacks
):
    member = sign_in_staff(alpha_client)
    set_up_two_factor(alpha_client, password=STAFF_PASSWORD, on_commit=django_capture_on_commit_callbacks)
    codes = recovery_codes_of(member.user)

    first = alpha_client.get("/staff/2fa/recovery-codes/").content.decode()
    again = alpha_client.get("/staff/2fa/recovery-codes/").content.decode()

    assert has_app(member.user) and len(codes) == 10
    assert all(code in first for code in codes)
    assert "shown only this once" in first
    assert 'download="recovery-codes.txt" href="data:text/plain;charset=utf-8,' in first
    assert "data-print hidden" in first
    assert not any(code in again for code in codes)
    assert "can't be shown again" in again
    event = AuditEvent.objects.get(target_type="accounts.user", target_id=str(member.user.pk))
    assert (event.action, event.actor, event.after) == ("two_factor.turned_on", member.user, {"two_factor": "on"})


def test_new_recovery_codes_replace_the_old_ones(alpha, alpha_client, django_capture_on_commit_callbacks):
    member = sign_in_staff(alpha_client)
    set_up_two_factor(alpha_client, password=STAFF_PASSWORD)
    old = recovery_codes_of(member.user)

    confirm = alpha_client.get("/staff/2fa/recovery-codes/generate/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        alpha_client.post("/staff/2fa/recovery-codes/generate/")
    new = recovery_codes_of(member.user)
    shown = alpha_client.get("/staff/2fa/recovery-codes/").content.decode()

    assert "10 unused codes stop working" in confirm
    assert set(new).isdisjoint(old)
    assert all(code in shown for code in new)
    assert (
        AuditEvent.objects.filter(target_id=str(member.user.pk), action="two_factor.recovery_codes_created").count()
        == 1
    )


# ---------------------------------------------------------------- signing in


def test_signing_in_then_needs_the_code_from_the_app(alpha, alpha_client):
    member = sign_in_staff(alpha_client)
    secret = set_up_two_factor(alpha_client, password=STAFF_PASSWORD)
    alpha_client.logout()

    after_password = sign_in(alpha_client, member.user.email)
    assert after_password["Location"] == "/staff/2fa/authenticate/"
    assert alpha_client.get("/staff/")["Location"].startswith("/staff/login/")  # not signed in yet
    code_page = alpha_client.get("/staff/2fa/authenticate/").content.decode()
    wrong = alpha_client.post("/staff/2fa/authenticate/", {"code": "000000"})
    signed_in = alpha_client.post("/staff/2fa/authenticate/", {"code": app_code(secret)})

    assert "Enter your sign-in code" in code_page and "recovery codes" in code_page
    assert wrong.status_code == 200 and "That code isn&#x27;t right" in wrong.content.decode()
    assert signed_in["Location"] == "/staff/"
    assert alpha_client.get("/staff/").status_code == 200


def test_a_recovery_code_signs_in_once(alpha, alpha_client):
    member = sign_in_staff(alpha_client)
    set_up_two_factor(alpha_client, password=STAFF_PASSWORD)
    code = recovery_codes_of(member.user)[0]
    alpha_client.logout()

    sign_in(alpha_client, member.user.email)
    first = alpha_client.post("/staff/2fa/authenticate/", {"code": code})
    alpha_client.logout()
    sign_in(alpha_client, member.user.email)
    second = alpha_client.post("/staff/2fa/authenticate/", {"code": code})

    assert first["Location"] == "/staff/"
    assert second.status_code == 200 and "That code isn&#x27;t right" in second.content.decode()
    assert len(recovery_codes_of(member.user)) == 9


def test_wrong_codes_are_throttled_with_how_long_to_wait(alpha, alpha_client, frozen_clock):
    member = sign_in_staff(alpha_client)
    secret = set_up_two_factor(alpha_client, password=STAFF_PASSWORD)
    alpha_client.logout()
    sign_in(alpha_client, member.user.email)

    for _ in range(5):
        alpha_client.post("/staff/2fa/authenticate/", {"code": "000000"})
    throttled = alpha_client.post("/staff/2fa/authenticate/", {"code": app_code(secret)})
    frozen_clock.shift(301)
    later = alpha_client.post("/staff/2fa/authenticate/", {"code": app_code(secret)})

    assert throttled.status_code == 200
    assert "Too many wrong codes. Please wait 5 minutes, then try again." in throttled.content.decode()
    assert later["Location"] == "/staff/"


def test_staff_without_two_factor_sign_in_with_the_password_alone(alpha, alpha_client):
    member = StaffMemberFactory()
    assert sign_in(alpha_client, member.user.email)["Location"] == "/staff/"


# ---------------------------------------------------------------- turning it off


def test_staff_turn_it_off_after_confirming_with_a_code(alpha, alpha_client, frozen_clock):
    member = sign_in_staff(alpha_client)
    secret = set_up_two_factor(alpha_client, password=STAFF_PASSWORD)
    frozen_clock.shift(600)  # the confirmation of the set-up is no longer recent

    asked = alpha_client.get("/staff/2fa/totp/deactivate/")
    assert asked["Location"].startswith("/staff/reauthenticate/")
    password_page = alpha_client.get(asked["Location"]).content.decode()
    assert "Use a code from your authenticator app instead" in password_page
    alpha_client.post("/staff/2fa/reauthenticate/?next=/staff/2fa/totp/deactivate/", {"code": app_code(secret)})
    confirm = alpha_client.get("/staff/2fa/totp/deactivate/").content.decode()
    done = alpha_client.post("/staff/2fa/totp/deactivate/")

    assert "Turn off two-factor authentication?" in confirm
    assert done["Location"] == "/staff/2fa/"
    assert not Authenticator.objects.filter(user=member.user).exists()  # the recovery codes go too
    event = AuditEvent.objects.filter(target_type="accounts.user", target_id=str(member.user.pk)).first()
    assert (event.action, event.actor) == ("two_factor.turned_off", member.user)


def test_required_two_factor_cannot_be_turned_off(alpha, alpha_client):
    Practice.objects.filter(pk=alpha.pk).update(staff_two_factor_required=True)
    alpha.staff_two_factor_required = True
    member = sign_in_staff(alpha_client)
    set_up_two_factor(alpha_client, password=STAFF_PASSWORD)

    page = alpha_client.get("/staff/2fa/").content.decode()
    refused = alpha_client.post("/staff/2fa/totp/deactivate/")

    assert "it stays on" in page and "Turn off" not in page
    assert refused.status_code == 200 and "stays on" in refused.content.decode()
    assert has_app(member.user)


# ---------------------------------------------------------------- the owner's requirement


def owner_client(alpha) -> Client:
    client = Client(HTTP_HOST=host_of("alpha"))
    sign_in_staff(client, role=Role.OWNER, first_name="Olivia")
    return client


def test_the_owner_requires_two_factor_for_all_staff_and_it_is_recorded(alpha):
    client = owner_client(alpha)
    owner = StaffMember.objects.get(user__first_name="Olivia")
    page = client.get("/staff/settings/security/").content.decode()
    assert "Require two-factor authentication for all staff" in page

    response = client.post("/staff/settings/security/", {"staff_two_factor_required": "on"})

    assert response["Location"] == "/staff/settings/security/"
    assert Practice.objects.get(pk=alpha.pk).staff_two_factor_required
    event = AuditEvent.objects.get(action="practice.two_factor_requirement_changed")
    assert (event.actor, event.before, event.after) == (
        owner.user,
        {"staff_two_factor_required": False},
        {"staff_two_factor_required": True},
    )
    assert owner.user.email in event.actor_label


def test_turning_the_requirement_off_is_recorded_too_and_saving_it_unchanged_is_not(alpha):
    client = owner_client(alpha)
    set_up_two_factor(client, password=STAFF_PASSWORD)
    client.post("/staff/settings/security/", {"staff_two_factor_required": "on"})
    client.post("/staff/settings/security/", {"staff_two_factor_required": "on"})
    client.post("/staff/settings/security/", {})

    changes = AuditEvent.objects.filter(action="practice.two_factor_requirement_changed").order_by("id")
    assert [(event.before, event.after) for event in changes] == [
        ({"staff_two_factor_required": False}, {"staff_two_factor_required": True}),
        ({"staff_two_factor_required": True}, {"staff_two_factor_required": False}),
    ]
    page = client.get("/staff/settings/security/").content.decode()
    assert "Two-factor requirement for staff changed" in page and "Yes → No" in page


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.MANAGER])
def test_only_the_owner_sees_and_changes_the_requirement(alpha, alpha_client, role):
    sign_in_staff(alpha_client, role=role)

    assert alpha_client.get("/staff/settings/security/").status_code == 403
    assert alpha_client.post("/staff/settings/security/", {"staff_two_factor_required": "on"}).status_code == 403
    assert not Practice.objects.get(pk=alpha.pk).staff_two_factor_required


def test_staff_without_two_factor_are_sent_to_set_it_up_before_any_staff_page(alpha, alpha_client):
    Practice.objects.filter(pk=alpha.pk).update(staff_two_factor_required=True)
    member = sign_in_staff(alpha_client, role=Role.MANAGER)

    for page in ("/staff/", "/staff/patients/", "/staff/settings/security/"):
        response = alpha_client.get(page)
        assert response.status_code == 302 and response["Location"] == "/staff/2fa/totp/activate/", page
    set_up = alpha_client.get("/staff/2fa/", follow=True).content.decode()
    assert "Your practice requires two-factor authentication for staff" in set_up

    set_up_two_factor(alpha_client, password=STAFF_PASSWORD)
    assert alpha_client.get("/staff/").status_code == 200
    assert has_app(member.user)


def test_a_one_time_password_is_changed_before_two_factor_is_set_up(alpha, alpha_client):
    Practice.objects.filter(pk=alpha.pk).update(staff_two_factor_required=True)
    member = StaffMemberFactory(must_change_password=True)
    sign_in(alpha_client, member.user.email)

    assert alpha_client.get("/staff/")["Location"] == "/staff/password/change/"
    assert alpha_client.get("/staff/2fa/totp/activate/")["Location"] == "/staff/password/change/"


def test_staff_with_two_factor_are_not_held_up_by_the_requirement(alpha, alpha_client):
    sign_in_staff(alpha_client)
    set_up_two_factor(alpha_client, password=STAFF_PASSWORD)
    Practice.objects.filter(pk=alpha.pk).update(staff_two_factor_required=True)

    assert alpha_client.get("/staff/").status_code == 200


def test_another_practice_is_not_bound_by_the_requirement(alpha, beta, beta_client):
    Practice.objects.filter(pk=alpha.pk).update(staff_two_factor_required=True)
    from django_tenants.utils import tenant_context

    with tenant_context(beta):
        sign_in_staff(beta_client)
        assert beta_client.get("/staff/").status_code == 200


# ---------------------------------------------------------------- resets (a lost phone)


def test_the_owner_resets_a_staff_members_two_factor_and_it_is_recorded(alpha, alpha_client):
    member = sign_in_staff(alpha_client, first_name="Frank")
    set_up_two_factor(alpha_client, password=STAFF_PASSWORD)
    client = owner_client(alpha)
    owner = StaffMember.objects.get(user__first_name="Olivia")

    listed = client.get("/staff/settings/security/").content.decode()
    confirm = client.get(f"/staff/settings/security/staff/{member.pk}/reset/").content.decode()
    done = client.post(f"/staff/settings/security/staff/{member.pk}/reset/")

    assert f'href="/staff/settings/security/staff/{member.pk}/reset/"' in listed
    assert "lost their phone" in confirm
    assert done["Location"] == "/staff/settings/security/"
    assert not Authenticator.objects.filter(user=member.user).exists()
    event = AuditEvent.objects.get(action="two_factor.reset")
    assert (event.target_id, event.actor) == (str(member.user.pk), owner.user)
    alpha_client.logout()
    assert sign_in(alpha_client, member.user.email)["Location"] == "/staff/"  # the password alone, now


def test_the_owner_does_not_reset_their_own_from_the_staff_list(alpha):
    client = owner_client(alpha)
    owner = StaffMember.objects.get(user__first_name="Olivia")
    set_up_two_factor(client, password=STAFF_PASSWORD)

    client.post(f"/staff/settings/security/staff/{owner.pk}/reset/")

    assert has_app(owner.user)
    assert not AuditEvent.objects.filter(action="two_factor.reset").exists()


def test_a_manager_cannot_reset_anyones_two_factor(alpha, alpha_client):
    other = StaffMemberFactory()
    Authenticator.objects.create(user=other.user, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"})
    sign_in_staff(alpha_client, role=Role.MANAGER)

    assert alpha_client.post(f"/staff/settings/security/staff/{other.pk}/reset/").status_code == 403
    assert has_app(other.user)


def test_the_command_resets_a_staff_members_two_factor_with_who_and_why(alpha, alpha_client):
    member = sign_in_staff(alpha_client)
    set_up_two_factor(alpha_client, password=STAFF_PASSWORD)
    out = StringIO()

    call_command(
        "reset_two_factor",
        member.user.email.upper(),
        "--practice",
        "alpha",
        "--by",
        "Sam Support <sam@platform.test>",
        "--reason",
        "phone lost, checked by a call",
        stdout=out,
    )

    assert "Reset the two-factor authentication" in out.getvalue()
    assert not Authenticator.objects.filter(user=member.user).exists()
    event = AuditEvent.objects.get(action="two_factor.reset")
    assert event.target_id == str(member.user.pk) and event.actor is None
    assert event.actor_label == "Sam Support <sam@platform.test> (manage.py reset_two_factor)"
    assert event.note == "phone lost, checked by a call"


def test_the_command_refuses_unknown_accounts_and_patients(alpha):
    patient = PatientFactory(user__email="pat@example.test")
    with pytest.raises(CommandError, match="No account"):
        call_command("reset_two_factor", "nobody@example.test", "--practice", "alpha", "--by", "Sam")
    with pytest.raises(CommandError, match="not a staff member"):
        call_command("reset_two_factor", patient.user.email, "--practice", "alpha", "--by", "Sam")
    with pytest.raises(CommandError, match="No practice"):
        call_command("reset_two_factor", "x@example.test", "--practice", "nowhere", "--by", "Sam")


# ---------------------------------------------------------------- who may use it


def test_the_staff_api_refuses_staff_without_required_two_factor(alpha):
    from rest_framework.test import APIRequestFactory

    from practices.roles import HasStaffRole

    Practice.objects.filter(pk=alpha.pk).update(staff_two_factor_required=True)
    alpha.staff_two_factor_required = True
    request = APIRequestFactory().get("/api/v1/x")
    request.user = StaffMemberFactory(role=Role.OWNER).user
    permission = HasStaffRole()

    assert not permission.has_permission(request, None)
    assert "requires two-factor authentication" in permission.message


def test_patients_get_no_two_factor_pages(alpha):
    patient = PatientFactory()
    client = Client(HTTP_HOST=host_of("alpha"))
    client.force_login(patient.user, backend="django.contrib.auth.backends.ModelBackend")

    for page in ("/staff/2fa/", "/staff/2fa/totp/activate/", "/staff/2fa/recovery-codes/"):
        assert client.get(page).status_code == 403, page
    assert not Authenticator.objects.filter(user=patient.user).exists()


def test_the_app_cannot_add_or_remove_authenticators(alpha):
    patient = PatientFactory()
    client = Client(HTTP_HOST=host_of("alpha"))
    client.force_login(patient.user, backend="django.contrib.auth.backends.ModelBackend")

    for path in ("/_allauth/app/v1/account/authenticators", "/_allauth/app/v1/account/authenticators/totp"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["errors"][0]["message"].startswith("Two-factor authentication is managed")
    assert client.post("/_allauth/app/v1/account/authenticators/totp", {"code": "123456"}).status_code == 404
