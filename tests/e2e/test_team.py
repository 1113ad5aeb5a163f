"""An owner invites a front-desk colleague from the Team page; the colleague opens the emailed link, chooses a
password, signs in, sets up the two-factor the practice requires, and signs in again with a code."""

import re

import pytest
from django.core import mail
from django.test import override_settings
from playwright.sync_api import expect

from practices.models import Practice, StaffMember
from tests.factories import STAFF_PASSWORD, StaffMemberFactory
from tests.two_factor import app_code, give_two_factor

Role = StaffMember.Role
NEW_PASSWORD = "front-desk-pass-2931"


def enter_code(page, secret: str) -> None:
    expect(page.get_by_role("heading", name="Enter your sign-in code")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(app_code(secret))
    page.get_by_role("button", name="Sign in").click()


def sign_in(page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.django_db(transaction=True)
# A code typed as the 30-second step turns is still good (as for a person typing it); the test computes codes
# from the secret, so this keeps it from depending on when in the step it runs.
@override_settings(MFA_TOTP_TOLERANCE=1)
def test_an_owner_invites_the_front_desk_who_joins_with_two_factor(person, practice):
    Practice.objects.filter(pk=practice.pk).update(staff_two_factor_required=True)
    owner = StaffMemberFactory(role=Role.OWNER, user__first_name="Olive", user__last_name="Owner")
    owner_secret = give_two_factor(owner.user)

    owner_page = person("owner")
    owner_page.goto("/staff/login/?next=/staff/team/")
    sign_in(owner_page, owner.user.email, STAFF_PASSWORD)
    enter_code(owner_page, owner_secret)
    expect(owner_page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    expect(owner_page.get_by_text("No invitations waiting")).to_be_visible()

    owner_page.get_by_label("Email").fill("dana@desk.test")
    owner_page.get_by_label("First name").fill("Dana")
    owner_page.get_by_label("Last name").fill("Desk")
    owner_page.get_by_label("Role").select_option(label="Front desk")
    owner_page.get_by_role("button", name="Send the invitation").click()
    expect(owner_page.locator(".messages")).to_contain_text("Invitation sent to dana@desk.test")
    expect(owner_page.get_by_role("cell", name="dana@desk.test Dana Desk")).to_be_visible()

    # The worker sent the email once the invitation was committed (tasks run at once in tests).
    [email] = [message for message in mail.outbox if message.to == ["dana@desk.test"]]
    link = re.search(r"https?://\S+/staff/invite/\S+/", email.body).group(0)

    dana = person("new front desk")
    dana.goto(link)
    expect(dana.get_by_role("heading", name="Join Browser Test Clinic")).to_be_visible()
    expect(dana.get_by_text("asks its staff to use two-factor authentication")).to_be_visible()
    expect(dana.get_by_label("First name")).to_have_value("Dana")
    dana.get_by_label("Choose a password").fill(NEW_PASSWORD)
    dana.get_by_label("The password again").fill(NEW_PASSWORD)
    dana.get_by_role("button", name="Create my account").click()

    expect(dana.locator(".messages")).to_contain_text("Welcome to Browser Test Clinic! Your account is ready")
    sign_in(dana, "dana@desk.test", NEW_PASSWORD)
    # The practice requires two-factor: set up before anything else, after confirming the password.
    expect(dana.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    dana.get_by_label("Password").fill(NEW_PASSWORD)
    dana.get_by_role("button", name="Confirm").click()
    expect(dana.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    secret = dana.locator("#totp-secret").inner_text().strip()
    dana.get_by_label("Code from the app").fill(app_code(secret))
    dana.get_by_role("button", name="Turn on two-factor").click()
    expect(dana.get_by_role("heading", name="Recovery codes")).to_be_visible()
    dana.get_by_role("link", name="Continue to the staff portal").click()
    expect(dana.locator(".topbar .who")).to_contain_text("Dana Desk · Front desk")

    dana.get_by_role("button", name="Sign out").click()
    expect(dana.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    sign_in(dana, "dana@desk.test", NEW_PASSWORD)
    enter_code(dana, secret)
    expect(dana).to_have_url(re.compile(r"/staff/$"))
    expect(dana.locator(".topbar .who")).to_contain_text("Front desk")

    # The link worked once.
    dana.goto(link)
    expect(dana.get_by_role("heading", name="This invitation was already used")).to_be_visible()
    member = StaffMember.objects.get(user__email="dana@desk.test")
    assert (member.role, member.is_active) == (Role.FRONT_DESK, True)
