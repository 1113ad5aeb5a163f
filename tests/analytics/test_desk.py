"""The front desk's home: patients found as they are typed (htmx, or the plain form), a way to check out and to use
a voucher, today's new members and birthdays, the vouchers not used yet. Managers and owners land on analytics."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from loyalty.models import LedgerEntry
from loyalty.services import post_points
from practices.models import StaffMember
from rewards.models import Redemption
from rewards.services import redeem_reward
from tests.factories import PatientFactory, RewardFactory, sign_in_staff

Role = StaffMember.Role
# Noon in New York (the practice's time zone), a Friday.
NOON = datetime(2025, 6, 13, 16, 0, tzinfo=UTC)


@pytest.fixture
def desk(alpha, alpha_client):
    return sign_in_staff(alpha_client, Role.FRONT_DESK)


def home(client, path: str = "/staff/", **query) -> str:
    with time_machine.travel(NOON, tick=False):
        response = client.get(path, query)
    assert response.status_code == 200
    return response.content.decode()


def voucher(patient, *, name: str = "Free facial") -> Redemption:
    reward = RewardFactory(name=name, points_cost=100)
    post_points(account_id=patient.points_account.pk, delta=100, kind=LedgerEntry.Kind.BONUS)
    with time_machine.travel(NOON - timedelta(days=1), tick=False):
        return redeem_reward(patient=patient, reward=reward)


def test_the_front_desk_lands_on_the_desk_not_on_analytics(desk, alpha_client):
    page = home(alpha_client)

    assert "<h1>Front desk</h1>" in page and "Friday, June 13" in page
    assert 'href="/staff/" aria-current="page">Desk</a>' in page
    assert "Points issued" not in page and "chart" not in page
    assert 'action="/staff/desk/"' in page and 'hx-get="/staff/desk/"' in page
    assert 'href="/staff/checkout/"' in page and 'action="/staff/vouchers/"' in page


@pytest.mark.parametrize("role", [Role.MANAGER, Role.OWNER])
def test_managers_and_owners_land_on_analytics_and_keep_the_desk(alpha, alpha_client, role):
    sign_in_staff(alpha_client, role)

    dashboard = home(alpha_client)
    desk_page = home(alpha_client, "/staff/desk/")

    assert "Points issued" in dashboard and 'href="/staff/" aria-current="page">Dashboard</a>' in dashboard
    assert 'href="/staff/desk/">Desk</a>' in dashboard
    assert "<h1>Front desk</h1>" in desk_page and 'href="/staff/desk/" aria-current="page">Desk</a>' in desk_page


def test_typing_three_letters_lists_patients_to_check_out(desk, alpha_client):
    ada = PatientFactory(user__first_name="Ada", user__last_name="Lovelace", user__phone="+16285550107")
    post_points(account_id=ada.points_account.pk, delta=1310, kind=LedgerEntry.Kind.BONUS)
    voucher(ada)
    PatientFactory(user__first_name="Grace", user__last_name="Hopper")

    with time_machine.travel(NOON, tick=False):
        response = alpha_client.get("/staff/desk/", {"q": "lov"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="desk-results")
    results = response.content.decode()

    assert "<html" not in results and "Grace" not in results
    assert "Ada Lovelace" in results and "(628) 555-0107" in results
    assert "1,310 points" in results and "1 voucher ready" in results
    assert f'href="/staff/checkout/?patient={ada.pk}">Check out' in results
    assert f'href="/staff/patients/{ada.pk}/"' in results


def test_the_search_works_without_javascript_and_by_number(desk, alpha_client):
    ada = PatientFactory(user__first_name="Ada", user__last_name="Lovelace", user__phone="+16285550107")

    page = home(alpha_client, q="555-0107")

    assert "<h1>Front desk</h1>" in page
    assert f'href="/staff/checkout/?patient={ada.pk}">Check out' in page


def test_a_search_with_no_match_says_what_to_do(desk, alpha_client):
    page = home(alpha_client, "/staff/desk/", q="zzz")

    assert "No patient matches “zzz”" in page and 'href="/staff/patients/new/"' in page


def test_many_matches_show_the_first_and_link_to_all(desk, alpha_client):
    for number in range(10):
        PatientFactory(user__first_name=f"Sam{number}", user__last_name="Smith")

    page = home(alpha_client, q="smith")

    assert page.count(">Check out<span") == 8
    assert 'href="/staff/patients/?q=smith">All 10 matches</a>' in page


def test_archived_records_are_not_found(desk, alpha_client):
    PatientFactory(user__first_name="Old", user__last_name="Record", status="archived")

    assert "No patient matches" in home(alpha_client, q="record")


def test_todays_new_members_and_birthdays_in_the_practices_time_zone(desk, alpha_client):
    today = PatientFactory(user__first_name="Nia", user__last_name="New", joined_at=NOON - timedelta(hours=3))
    PatientFactory(
        user__first_name="Yan", user__last_name="Yesterday", joined_at=datetime(2025, 6, 13, 3, 0, tzinfo=UTC)
    )
    PatientFactory(user__first_name="Bea", user__last_name="Born", birthday=date(1990, 6, 13))
    PatientFactory(user__first_name="Tom", user__last_name="Tomorrow", birthday=date(1990, 6, 14))
    PatientFactory(user__first_name="Ivy", user__last_name="Invited", birthday=date(1990, 6, 13), status="pending")

    page = home(alpha_client)

    new = page[page.index('id="new-heading"') : page.index('id="birthday-heading"')]
    born = page[page.index('id="birthday-heading"') : page.index('id="vouchers-heading"')]
    assert f'href="/staff/patients/{today.pk}/">Nia New</a>' in new and "Yan" not in new  # 11 pm the day before there
    assert "Bea Born" in born and "Tom" not in born and "Ivy" not in born


def test_a_leap_day_birthday_is_celebrated_on_february_28_in_other_years(desk, alpha_client):
    PatientFactory(user__first_name="Lea", user__last_name="Leap", birthday=date(2000, 2, 29))

    with time_machine.travel(datetime(2025, 2, 28, 17, 0, tzinfo=UTC), tick=False):
        page = alpha_client.get("/staff/").content.decode()

    assert "Lea Leap" in page[page.index('id="birthday-heading"') :]


def test_the_vouchers_not_used_yet_are_listed_with_their_count(desk, alpha_client):
    patient = PatientFactory(user__first_name="Vera", user__last_name="Voucher")
    ready = voucher(patient, name="Free facial")
    used = voucher(patient, name="Free peel")
    Redemption.objects.filter(pk=used.pk).update(status=Redemption.Status.USED, used_at=timezone.now())

    page = home(alpha_client)

    section = page[page.index('id="vouchers-heading"') :]
    assert f'href="/staff/vouchers/?code={ready.voucher_code}"' in section and "Free facial" in section
    assert "Free peel" not in section
    assert 'href="/staff/vouchers/list/">All 1</a>' in section


def test_the_desk_page_is_for_staff(alpha, alpha_client):
    patient = PatientFactory()
    alpha_client.force_login(patient.user)

    assert alpha_client.get("/staff/desk/").status_code == 403
    alpha_client.logout()
    assert alpha_client.get("/staff/desk/")["Location"].startswith("/staff/login/")
