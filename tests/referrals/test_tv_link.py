"""The public TV leaderboard: a secret link the owner makes, replaces and turns off; no sign-in, no highlight."""

import pytest
import time_machine
from django.test import Client

from accounts.models import AuditEvent
from referrals import tv
from referrals.codes import code_for_patient, code_for_staff
from referrals.models import LeaderboardScreen
from tests.conftest import host_of
from tests.factories import PatientFactory, StaffMemberFactory, sign_in_staff
from tests.referrals.test_staff_leaderboard import MONTH_START, NOW, sign_up, staff_rows

LINK_PAGE = "/staff/referrals/leaderboard/tv-link/"


@pytest.fixture
def owner(alpha, alpha_client):
    return sign_in_staff(alpha_client, role="owner", first_name="Olive", last_name="Owner")


@pytest.fixture
def anonymous(alpha):
    """A browser on the TV: nobody signed in."""
    return Client(HTTP_HOST=host_of("alpha"))


def make_link(client) -> str:
    response = client.post(LINK_PAGE, {"do": "replace"})
    assert response.status_code == 302
    return LeaderboardScreen.objects.get().token


def test_the_owner_makes_a_link_that_shows_the_board_without_signing_in(owner, alpha_client, anonymous):
    dana = StaffMemberFactory(role="front_desk", user__first_name="Dana", user__last_name="Desk")
    sign_up(code_for_staff(dana), MONTH_START)

    token = make_link(alpha_client)
    with time_machine.travel(NOW, tick=False):
        response = anonymous.get(f"/tv/{token}/", {"period": "month"})

    page = response.content.decode()
    assert response.status_code == 200
    assert '<body class="tv tv-public">' in page
    assert ("1", "Dana Desk", 1, 0, False) in staff_rows(page)
    # It refreshes itself through the same secret link, and nothing keeps or passes the link on.
    assert f'hx-get="/tv/{token}/board/?period=month&amp;rank=qualified"' in page
    assert 'hx-trigger="every 60s"' in page
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response["X-Robots-Tag"]
    assert "Sign out" not in page and "staff-nav" not in page
    event = AuditEvent.objects.get(action="leaderboard_link.created")
    assert event.actor_id == owner.user_id and token not in str(event.after) + str(event.before)


def test_the_owner_sees_the_link_to_open_on_the_tv(owner, alpha_client):
    token = make_link(alpha_client)

    page = alpha_client.get(LINK_PAGE).content.decode()

    assert f'value="http://{host_of("alpha")}/tv/{token}/"' in page
    assert "Replace the link (the old one stops working)" in page


def test_replacing_the_link_ends_the_old_one_at_once(owner, alpha_client, anonymous):
    old = make_link(alpha_client)
    new = make_link(alpha_client)

    assert new != old
    assert anonymous.get(f"/tv/{old}/").status_code == 404
    assert anonymous.get(f"/tv/{old}/board/").status_code == 404
    # A TV still showing the old link reloads at its next refresh, onto the page saying it no longer works.
    refresh = anonymous.get(f"/tv/{old}/board/", HTTP_HX_REQUEST="true")
    assert refresh.status_code == 204 and refresh["HX-Refresh"] == "true"
    assert anonymous.get(f"/tv/{new}/").status_code == 200
    board = anonymous.get(f"/tv/{new}/board/", HTTP_HX_REQUEST="true").content.decode()
    assert board.lstrip().startswith('<div id="board"') and "<html" not in board
    assert AuditEvent.objects.filter(action="leaderboard_link.replaced", actor=owner.user).count() == 1


def test_turning_the_link_off_ends_it(owner, alpha_client, anonymous):
    token = make_link(alpha_client)

    alpha_client.post(LINK_PAGE, {"do": "off"})

    assert not LeaderboardScreen.objects.exists()
    assert anonymous.get(f"/tv/{token}/").status_code == 404
    assert AuditEvent.objects.filter(action="leaderboard_link.turned_off", actor=owner.user).exists()
    assert "No link yet" in alpha_client.get(LINK_PAGE).content.decode()


def test_no_link_and_wrong_links_are_not_found(alpha, anonymous):
    assert anonymous.get("/tv/anything/").status_code == 404
    assert anonymous.get(f"/tv/{'x' * 500}/").status_code == 404
    assert tv.screen_for("") is None
    assert anonymous.get("/tv/a%00b/").status_code == 404


def test_the_public_board_highlights_nobody_and_names_patients_briefly(owner, alpha_client):
    """Even opened in a browser where a staff member is signed in, the TV shows no "You"."""
    code_for_staff(owner)
    sign_up(code_for_staff(owner), MONTH_START)
    friendly = PatientFactory(user__first_name="Pat", user__last_name="Smith")
    sign_up(code_for_patient(friendly), MONTH_START)
    token = make_link(alpha_client)

    with time_machine.travel(NOW, tick=False):
        page = alpha_client.get(f"/tv/{token}/").content.decode()
        staff_tv = alpha_client.get("/staff/referrals/leaderboard/", {"tv": "1"}).content.decode()

    for screen in (page, staff_tv):
        assert 'class="is-me"' not in screen and ">You<" not in screen
        assert "Pat S." in screen and "Pat Smith" not in screen
    assert ("1", "Olive Owner", 1, 0, False) in staff_rows(page)


@pytest.mark.parametrize("role", ["front_desk", "manager"])
def test_only_the_owner_manages_the_link(alpha, alpha_client, role):
    sign_in_staff(alpha_client, role=role)

    assert alpha_client.get(LINK_PAGE).status_code == 403
    assert alpha_client.post(LINK_PAGE, {"do": "replace"}).status_code == 403
    assert not LeaderboardScreen.objects.exists()
    assert "TV link (no sign-in)" not in alpha_client.get("/staff/referrals/leaderboard/").content.decode()


def test_a_link_opens_its_own_practice_only(owner, alpha_client, beta):
    token = make_link(alpha_client)

    assert Client(HTTP_HOST=host_of("beta")).get(f"/tv/{token}/").status_code == 404


def test_a_staff_member_without_a_name_is_not_shown_by_email(owner, alpha_client, anonymous):
    """The public screen shows names only: a staff member who never gave one is "Staff member", not an address."""
    nameless = StaffMemberFactory(user__first_name="", user__last_name="", user__email="nameless@example.test")
    sign_up(code_for_staff(nameless), MONTH_START)
    token = make_link(alpha_client)

    with time_machine.travel(NOW, tick=False):
        page = anonymous.get(f"/tv/{token}/").content.decode()
        board = anonymous.get(f"/tv/{token}/board/", HTTP_HX_REQUEST="true").content.decode()
        staff_page = alpha_client.get("/staff/referrals/leaderboard/").content.decode()

    for screen in (page, board):
        assert "nameless@example.test" not in screen
        assert ("1", "Staff member", 1, 0, False) in staff_rows(screen)
    assert "nameless@example.test" in staff_page  # the staff's own page still tells them apart
