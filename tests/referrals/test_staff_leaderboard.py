"""The referral leaderboard: counts per period in the practice's time zone, ranking, TV mode, roles."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import strip_tags
from django_tenants.utils import tenant_context

from loyalty.services import LineIn, record_purchase, refund_purchase
from practices import audit
from referrals import services, staff_selectors
from referrals.codes import code_for_patient, code_for_staff
from referrals.models import Partner, Referral, ReferralCode
from tests.factories import PatientFactory, StaffMemberFactory, sign_in_staff

# Alpha is in New York: May 15, 2025 at noon there.
NOW = datetime(2025, 5, 15, 16, 0, tzinfo=UTC)
MONTH_START = datetime(2025, 5, 1, 4, 0, tzinfo=UTC)  # May 1, 00:00 EDT
QUARTER_START = datetime(2025, 4, 1, 4, 0, tzinfo=UTC)  # April 1, 00:00 EDT
YEAR_START = datetime(2025, 1, 1, 5, 0, tzinfo=UTC)  # January 1, 00:00 EST
SECOND = 1

SETUP = audit.System("test setup")  # data the test starts from


def at(moment: datetime, seconds: int = 0) -> datetime:
    return datetime.fromtimestamp(moment.timestamp() + seconds, tz=UTC)


def sign_up(code: ReferralCode, when: datetime, **names) -> Referral:
    with time_machine.travel(when, tick=False):
        friend = PatientFactory(**{f"user__{key}": value for key, value in names.items()})
        return services.record_signup(patient=friend, code=code.code, source="qr")


def qualify(referral: Referral, when: datetime) -> Referral:
    with time_machine.travel(when, tick=False):
        purchase, _ = record_purchase(
            patient=referral.referred,
            lines=[LineIn(quantity=1, unit_price_cents=10_000, name="Facial", category="Skin")],
            source="desk",
        )
        services.qualify(purchase_id=purchase.pk)
        services.issue_rewards(referral_id=referral.pk)
    referral.refresh_from_db()
    return referral


def counts(period: str, member) -> tuple[int, int]:
    board = staff_selectors.leaderboard(period=period, now=NOW)  # in alpha's zone, New York
    row = next(row for row in board.staff if row.code == member.referral_code.code)
    return row.signups, row.qualified


def staff_rows(page: str) -> list[tuple[str, str, int, int, bool]]:
    section = page[page.index('id="board-staff-heading"') : page.index('id="board-partners-heading"')]
    rows = re.findall(
        r'<tr( class="is-me")?>\s*<td class="rank">(\d+)</td>\s*<td>(.*?)</td>\s*'
        r'<td class="num">(\d+)</td>\s*<td class="num">(\d+)</td>',
        section,
        re.S,
    )
    return [
        (rank, " ".join(strip_tags(name).split()), int(signups), int(qualified), bool(me))
        for me, rank, name, signups, qualified in rows
    ]


@pytest.fixture
def dana(alpha):
    return StaffMemberFactory(role="front_desk", user__first_name="Dana", user__last_name="Desk")


def test_sign_ups_count_from_the_start_of_each_period_in_the_practice_time_zone(dana):
    code = code_for_staff(dana)
    sign_up(code, MONTH_START)  # first second of May in New York
    sign_up(code, at(MONTH_START, -SECOND))  # April 30, 23:59:59
    sign_up(code, QUARTER_START)
    sign_up(code, at(QUARTER_START, -SECOND))  # March 31
    sign_up(code, YEAR_START)
    sign_up(code, at(YEAR_START, -SECOND))  # December 31, 2024

    assert counts("month", dana)[0] == 1
    assert counts("quarter", dana)[0] == 3
    assert counts("year", dana)[0] == 5
    assert counts("all", dana)[0] == 6


def test_qualified_referrals_count_when_they_qualified_and_not_once_reversed(dana):
    code = code_for_staff(dana)
    old = datetime(2024, 11, 1, 15, 0, tzinfo=UTC)
    qualify(sign_up(code, old), MONTH_START)  # joined last year, qualified this month
    qualify(sign_up(code, old), at(MONTH_START, -SECOND))  # qualified on April 30: this quarter
    qualify(sign_up(code, old), at(QUARTER_START, -SECOND))  # March 31: this year
    qualify(sign_up(code, old), at(YEAR_START, -SECOND))  # December 31, 2024: all time only
    sign_up(code, old)  # never qualified
    refunded = qualify(sign_up(code, old), at(MONTH_START, 3600))
    with time_machine.travel(at(MONTH_START, 7200), tick=False):
        refund, _ = refund_purchase(purchase=refunded.qualifying_purchase)
        assert services.claw_back(refund_id=refund.pk).status == Referral.Status.REVERSED

    assert counts("month", dana)[1] == 1
    assert counts("quarter", dana)[1] == 2
    assert counts("year", dana)[1] == 3
    assert counts("all", dana)[1] == 4
    # The refunded friend still joined with the code: a sign-up, not a qualified referral.
    assert counts("all", dana)[0] == 6


def test_rejected_sign_ups_do_not_count(dana):
    code = code_for_staff(dana)
    sign_up(code, MONTH_START)
    settings_row = services.referral_settings()
    settings_row.enabled = False
    settings_row.save()
    rejected = sign_up(code, at(MONTH_START, 60))

    assert rejected.status == Referral.Status.REJECTED
    assert counts("month", dana) == (1, 0)


def test_a_period_follows_the_practice_time_zone(alpha):
    # 03:00 UTC on May 1 is still April 30 in New York (alpha's zone), but already May 1 in London.
    moment = datetime(2025, 5, 1, 3, 0, tzinfo=UTC)
    assert staff_selectors.period_start("month", now=moment) == datetime(2025, 4, 1, 4, 0, tzinfo=UTC)
    with timezone.override("Europe/London"):
        assert staff_selectors.period_start("month", now=moment) == datetime(2025, 4, 30, 23, 0, tzinfo=UTC)
    assert staff_selectors.period_start("quarter", now=NOW) == QUARTER_START
    assert staff_selectors.period_start("year", now=NOW) == YEAR_START
    assert staff_selectors.period_start("all", now=NOW) is None


def test_staff_are_ranked_by_qualified_then_sign_ups_and_ties_share_a_place(alpha, alpha_client):
    ann = StaffMemberFactory(user__first_name="Ann", user__last_name="Able")
    ben = StaffMemberFactory(user__first_name="Ben", user__last_name="Baker")
    cal = StaffMemberFactory(user__first_name="Cal", user__last_name="Cole")
    for member, joined, qualified in ((ann, 2, 2), (ben, 3, 1), (cal, 3, 1)):
        for number in range(joined):
            referral = sign_up(code_for_staff(member), at(MONTH_START, 3600 * (number + 1)))
            if number < qualified:
                qualify(referral, at(MONTH_START, 86_400))
    me = sign_in_staff(alpha_client, role="front_desk", first_name="Zoe", last_name="Zed")

    with time_machine.travel(NOW, tick=False):
        page = alpha_client.get("/staff/referrals/leaderboard/").content.decode()
        by_signups = alpha_client.get("/staff/referrals/leaderboard/", {"rank": "signups"}).content.decode()

    rows = staff_rows(page)
    assert rows[:3] == [
        ("1", "Ann Able", 2, 2, False),
        ("2", "Ben Baker", 3, 1, False),
        ("2", "Cal Cole", 3, 1, False),
    ]
    assert [name for _, name, *_ in staff_rows(by_signups)[:3]] == ["Ben Baker", "Cal Cole", "Ann Able"]
    assert [rank for rank, *_ in staff_rows(by_signups)[:3]] == ["1", "1", "3"]
    mine = [row for row in rows if row[4]]
    assert mine == [("4", f"{me.user.get_full_name()} You", 0, 0, True)]


def test_partners_and_top_ten_patients_have_their_own_tables(alpha, alpha_client):
    glow = services.save_partner(partner=Partner(name="Glow Studio"), actor=SETUP)
    services.save_partner(partner=Partner(name="Dormant Gym", is_active=False), actor=SETUP)
    sign_up(glow.referral_code, MONTH_START)
    referrers = [PatientFactory(user__first_name=f"Pat{n:02d}", user__last_name="Smith") for n in range(11)]
    for number, patient in enumerate(referrers):
        for _ in range(1 if number else 2):
            sign_up(code_for_patient(patient), at(MONTH_START, 60))
    sign_in_staff(alpha_client, role="front_desk")

    with time_machine.travel(NOW, tick=False):
        page = alpha_client.get("/staff/referrals/leaderboard/").content.decode()
        tv = alpha_client.get("/staff/referrals/leaderboard/", {"tv": "1"}).content.decode()

    partners = page[page.index('id="board-partners-heading"') : page.index('id="board-patients-heading"')]
    patients = page[page.index('id="board-patients-heading"') :]
    assert "Glow Studio" in partners and "Dormant Gym" not in partners
    assert patients.count('<td class="rank">') == 10
    assert f'href="/staff/patients/{referrers[0].pk}/">Pat00 Smith</a>' in patients
    assert patients.index("Pat00 Smith") < patients.index("Pat01 Smith")
    # The screen in the break room shows patients by first name and last initial only.
    assert "Pat00 S." in tv and "Pat00 Smith" not in tv


def test_the_period_links_change_the_counts(alpha, alpha_client, dana):
    sign_up(code_for_staff(dana), at(QUARTER_START, 3600))
    sign_in_staff(alpha_client, role="front_desk")

    with time_machine.travel(NOW, tick=False):
        month = alpha_client.get("/staff/referrals/leaderboard/").content.decode()
        quarter = alpha_client.get("/staff/referrals/leaderboard/", {"period": "quarter"}).content.decode()

    assert ("1", "Dana Desk", 0, 0, False) in staff_rows(month)
    assert ("1", "Dana Desk", 1, 0, False) in staff_rows(quarter)
    assert "Since April 1, 2025" in quarter


def test_the_front_desk_sees_the_leaderboard_in_the_navigation(alpha, alpha_client):
    sign_in_staff(alpha_client, role="front_desk")

    page = alpha_client.get("/staff/referrals/leaderboard/").content.decode()

    assert '<a href="/staff/referrals/leaderboard/" aria-current="page">Leaderboard</a>' in page
    assert '<a href="/staff/referrals/">' not in page  # the log is for managers
    assert "Referral leaderboard" in page


def test_tv_mode_is_full_screen_and_refreshes_itself(alpha, alpha_client):
    sign_in_staff(alpha_client, role="front_desk")

    page = alpha_client.get("/staff/referrals/leaderboard/", {"tv": "1", "period": "year"}).content.decode()

    assert '<body class="tv">' in page
    assert "staff-nav" not in page and "Sign out" not in page
    assert 'hx-get="/staff/referrals/leaderboard/board/?period=year&amp;rank=qualified&amp;tv=1"' in page
    assert 'hx-trigger="every 60s"' in page
    assert "This year" in page


def test_the_tv_fetches_the_board_alone(alpha, alpha_client, dana):
    sign_up(code_for_staff(dana), MONTH_START)
    sign_in_staff(alpha_client, role="front_desk")

    with time_machine.travel(NOW, tick=False):
        fragment = alpha_client.get(
            "/staff/referrals/leaderboard/board/", {"tv": "1"}, HTTP_HX_REQUEST="true"
        ).content.decode()

    assert fragment.lstrip().startswith('<div id="board"')
    assert "<html" not in fragment
    assert ("1", "Dana Desk", 1, 0, False) in staff_rows(fragment)


def test_a_tv_whose_sign_in_lapsed_reloads_to_the_sign_in_page(alpha, alpha_client):
    response = alpha_client.get("/staff/referrals/leaderboard/board/", {"tv": "1"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 204
    assert response["HX-Refresh"] == "true"
    assert alpha_client.get("/staff/referrals/leaderboard/board/").status_code == 302


def test_another_practices_leaderboard_never_shows_alphas_referrals(alpha, beta, beta_client, dana):
    sign_up(code_for_staff(dana), MONTH_START)
    sign_up(code_for_patient(PatientFactory(user__first_name="Alphonsine")), MONTH_START)

    with tenant_context(beta), time_machine.travel(NOW, tick=False):
        sign_in_staff(beta_client, role="front_desk")
        page = beta_client.get("/staff/referrals/leaderboard/", {"period": "all"}).content.decode()

    assert "Dana Desk" not in page and "Alphonsine" not in page
    assert "No patient has referred a friend yet." in page


def test_the_leaderboard_makes_the_same_queries_however_many_referrals(alpha, alpha_client, dana):
    sign_in_staff(alpha_client, role="front_desk")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            alpha_client.get("/staff/referrals/leaderboard/", {"period": "all"})
        return len(captured)

    few = queries()
    for number in range(4):
        StaffMemberFactory()
        services.save_partner(partner=Partner(name=f"Partner {number}"), actor=SETUP)
        sign_up(code_for_patient(PatientFactory()), MONTH_START)
        sign_up(code_for_staff(dana), MONTH_START)

    assert queries() == few


def test_the_leaderboard_is_the_current_section_not_the_referrals_log(alpha, alpha_client):
    sign_in_staff(alpha_client, role="manager")

    page = alpha_client.get("/staff/referrals/leaderboard/").content.decode()

    assert '<a href="/staff/referrals/leaderboard/" aria-current="page">Leaderboard</a>' in page
    assert '<a href="/staff/referrals/">Referrals</a>' in page
