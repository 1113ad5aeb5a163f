"""The staff navigation: one line for every role (groups for the program's and the owner's settings pages, each a
menu, and the open group's pages as a second row), and only what the role may open."""

import re

import pytest

from practices.models import StaffMember
from practices.navigation import staff_sections
from tests.factories import StaffMemberFactory, sign_in_staff

Role = StaffMember.Role


def top_bar(page: str) -> list[str]:
    """The labels of the top bar, in order (a group's name, or a section's)."""
    bar = page[page.index('<nav class="staff-nav"') : page.index("</nav>")]
    first_row = bar.split('<ul class="staff-subnav"')[0]
    first_row = re.sub(r"(</summary>)\s*<ul>.*?</ul>", r"\1", first_row, flags=re.S)  # the groups' menus
    return re.findall(
        r"<li(?: class=\"nav-group\")?><(?:a href=\"[^\"]+\"[^>]*|details>\s*<summary[^>]*)>([^<]+)<", first_row
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.FRONT_DESK, ["Desk", "Patients", "Checkout", "Vouchers", "Leaderboard"]),
        (
            Role.MANAGER,
            ["Dashboard", "Desk", "Patients", "Checkout", "Vouchers", "Program", "Referrals", "Leaderboard"],
        ),
        (
            Role.OWNER,
            [
                "Dashboard",
                "Desk",
                "Patients",
                "Checkout",
                "Vouchers",
                "Program",
                "Referrals",
                "Leaderboard",
                "Settings",
            ],
        ),
    ],
)
def test_each_role_gets_one_short_line(alpha, alpha_client, role, expected):
    sign_in_staff(alpha_client, role)

    assert top_bar(alpha_client.get("/staff/patients/").content.decode()) == expected


def test_a_groups_pages_are_a_menu_everywhere_and_a_second_row_when_open(alpha, alpha_client):
    sign_in_staff(alpha_client, Role.OWNER)

    elsewhere = alpha_client.get("/staff/patients/").content.decode()
    catalog = alpha_client.get("/staff/catalog/").content.decode()

    assert 'href="/staff/audit/">Audit trail</a>' in elsewhere and 'href="/staff/tiers/">Tiers</a>' in elsewhere
    assert "staff-subnav" not in elsewhere
    assert '<summary aria-current="true">Program</summary>' in catalog
    row = catalog[catalog.index('<ul class="staff-subnav"') :]
    assert row.index('href="/staff/rewards/">Rewards') < row.index('href="/staff/catalog/" aria-current="page">Catalog')


def test_a_group_the_role_sees_one_page_of_is_that_page(alpha):
    member = StaffMemberFactory(role=Role.MANAGER)

    items = staff_sections(member, "/staff/referrals/leaderboard/")

    labels = {item["label"]: item for item in items}
    assert "Settings" not in labels and "Audit trail" not in labels  # the owner's
    assert labels["Leaderboard"]["active"] and not labels["Referrals"]["active"]
    assert labels["Program"]["children"] and not labels["Leaderboard"]["children"]
