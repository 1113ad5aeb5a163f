"""The dashboard is live: the owner keeps it open while the front desk checks a patient out in another
browser, and the figures change within seconds, without a reload."""

import re

import pytest
from playwright.sync_api import expect

from practices.models import StaffMember
from tests.e2e.steps import check_out, staff_sign_in
from tests.factories import CatalogItemFactory, PatientFactory, StaffMemberFactory

# The page asks for fresh figures every 5 s; this leaves room for two polls and the checkout itself.
POLLS = 15_000


@pytest.mark.django_db(transaction=True)
def test_a_purchase_at_the_desk_shows_on_the_open_dashboard(person):
    botox = CatalogItemFactory(name="Botox", category="Injectables", price_cents=12_000)
    PatientFactory(user__first_name="Ada", user__last_name="Lovelace")
    owner = StaffMemberFactory(role=StaffMember.Role.OWNER, user__first_name="Olive", user__last_name="Owner")
    desk = StaffMemberFactory(role=StaffMember.Role.FRONT_DESK, user__first_name="Dana", user__last_name="Desk")

    dashboard = person("owner")
    staff_sign_in(dashboard, owner, next_page="/staff/")
    issued = dashboard.locator(".dash-tile").filter(has_text=re.compile(r"^\s*Points issued")).locator("strong")
    expect(issued).to_have_text("0")
    dashboard.evaluate("window.openedOnce = true")  # gone if the page were reloaded

    desk_page = person("front desk")
    staff_sign_in(desk_page, desk)
    check_out(desk_page, search="lovelace", patient_name="Ada Lovelace", item=botox)

    expect(issued).to_have_text("120", timeout=POLLS)
    assert dashboard.evaluate("window.openedOnce") is True
