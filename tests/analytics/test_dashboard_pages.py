"""The dashboard pages: the staff home, what each role sees, CSV exports, the live refresh, isolation."""

import csv
import io
import re

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from analytics import rollups
from practices.models import StaffMember
from tests.analytics.history import READ_AT, at, build_funnel, build_history, buy, patient, travel
from tests.factories import sign_in_staff

Role = StaffMember.Role
MARCH_QUERY = {"period": "custom", "start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def history(alpha):
    made = build_history()
    build_funnel(made)
    return made


def page(client, path="/staff/", **query) -> str:
    with travel(READ_AT):
        response = client.get(path, query)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def csv_rows(client, table, **query) -> list[list[str]]:
    with travel(READ_AT):
        response = client.get(f"/staff/analytics/export/{table}.csv", query)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode())))


def tile(html: str, label: str) -> str:
    return re.search(rf"{re.escape(label)}</span>\s*<strong>([^<]*)</strong>", html).group(1)


def test_the_staff_home_is_the_dashboard(alpha, alpha_client, history):
    sign_in_staff(alpha_client, Role.OWNER, first_name="Olive")
    html = page(alpha_client, **MARCH_QUERY)

    assert "Welcome, Olive" in html
    assert "Mar 1 – Mar 31, 2026" in html and "Compared with the 31 days before (Jan 29 – Feb 28, 2026)" in html
    assert tile(html, "Points issued") == "545"
    assert tile(html, "New members") == "2"
    assert tile(html, "Outstanding liability") == "$24.00"
    assert tile(html, "Revenue, net of refunds") == "$340.00"
    assert 'id="chart-members"' in html and 'id="chart-points"' in html and 'id="chart-funnel"' in html
    assert 'hx-get="/staff/analytics/live/?period=custom&amp;start=2026-03-01&amp;end=2026-03-31"' in html
    assert 'href="/staff/analytics/export/rewards.csv?period=custom&amp;start=2026-03-01&amp;end=2026-03-31"' in html
    assert f'href="/staff/patients/{history.ivy.pk}/">Ivy Test</a>' in html  # at risk, with a link


def test_the_front_desk_sees_no_liability_revenue_or_spend(alpha, alpha_client, history):
    sign_in_staff(alpha_client, Role.FRONT_DESK)
    with travel(READ_AT):
        # Their home is the desk (tests/analytics/test_desk.py).
        response = alpha_client.get("/staff/analytics/", MARCH_QUERY)
    html = response.content.decode()

    assert "liability" not in response.context and "revenue" not in response.context
    assert "spend_per_visit_cents" not in response.context["retention"]["member"]
    assert "liability" not in html.lower() and "revenue" not in html.lower()
    assert "$24.00" not in html and "$340.00" not in html and "Average spend" not in html
    # What helps at the desk is there: points, patients at risk, the desk's shortcuts.
    assert tile(html, "Points issued") == "545"
    assert "Ivy Test" in html and 'href="/staff/checkout/"' in html


def test_a_manager_sees_the_money(alpha, alpha_client, history):
    sign_in_staff(alpha_client, Role.MANAGER)
    html = page(alpha_client, "/staff/analytics/", **MARCH_QUERY)

    assert tile(html, "Revenue from referred patients") == "$120.00"
    assert "Average spend per visit" in html and "$85.00" in html


@pytest.mark.parametrize("table", ["liability", "revenue"])
def test_money_exports_are_forbidden_to_the_front_desk(alpha, alpha_client, history, table):
    sign_in_staff(alpha_client, Role.FRONT_DESK)

    assert alpha_client.get(f"/staff/analytics/export/{table}.csv").status_code == 403


def test_the_front_desks_exports_leave_money_columns_out(alpha, alpha_client, history):
    sign_in_staff(alpha_client, Role.FRONT_DESK)

    retention = csv_rows(alpha_client, "retention", **MARCH_QUERY)
    referrals = csv_rows(alpha_client, "referrals", **MARCH_QUERY)
    assert retention == [
        ["when", "patients", "repeat_patients", "repeat_rate_percent", "visits", "visits_per_patient"],
        ["before joining", "1", "0", "0.0", "1", "1.00"],
        ["as members", "3", "1", "33.3", "4", "1.33"],
    ]
    assert referrals[0] == ["owner", "visits", "signups", "qualified", "rewarded", "rejected"]


def test_exports_hold_the_tables_rows(alpha, alpha_client, history):
    sign_in_staff(alpha_client, Role.OWNER)

    assert csv_rows(alpha_client, "retention", **MARCH_QUERY)[2][-2:] == ["340.00", "85.00"]
    assert csv_rows(alpha_client, "liability", **MARCH_QUERY) == [
        ["when", "points", "dollars"],
        ["start of the period", "260", "13.00"],
        ["end of the period", "480", "24.00"],
    ]
    assert csv_rows(alpha_client, "referrals", **MARCH_QUERY)[1:] == [
        ["Patient", "3", "1", "1", "1", "1", "50.00"],
        ["Staff", "2", "1", "0", "0", "0", "70.00"],
        ["Partner", "1", "0", "0", "0", "0", "0.00"],
        ["Total", "6", "2", "1", "1", "1", "120.00"],
    ]
    rewards = csv_rows(alpha_client, "rewards", **MARCH_QUERY)
    assert rewards[1:] == [
        ["Facial credit", "no", "1", "0", "150", "1", "0", "0", "0"],
        ["Peel", "no", "1", "0", "100", "0", "1", "0", "0"],
        ["Sample", "no", "1", "0", "10", "0", "0", "1", "0"],
        ["$25 referral credit", "yes", "1", "0", "0", "0", "0", "0", "1"],
    ]
    at_risk = csv_rows(alpha_client, "at_risk")
    assert [(row[1], row[3], row[4], row[6], row[7]) for row in at_risk[1:]] == [
        ("Ivy Test", "60", "2026-04-10 12:00", "yes", "yes"),
        ("Hal Test", "100", "2026-07-01 12:00", "no", "yes"),
    ]
    top = csv_rows(alpha_client, "top_earners", **MARCH_QUERY)
    assert [(row[0], row[2], row[3]) for row in top[1:]] == [("1", "Ada Test", "220"), ("2", "Cleo Test", "210"),
                                                            ("3", "Ben Test", "75")]  # fmt: skip
    members = csv_rows(alpha_client, "members", **MARCH_QUERY)
    assert len(members) == 32 and members[5] == ["Mar 5", "1", "0", "4"]
    points = csv_rows(alpha_client, "points", **MARCH_QUERY)
    assert ["issued", "545", "100"] in points and ["breakage (%)", "13.8", "0.0"] in points
    activity = csv_rows(alpha_client, "activity", **MARCH_QUERY)
    assert activity[1][2] == "Cleo Test" and activity[1][0] == "2026-03-31 23:30"


def test_the_live_figures_change_after_a_purchase(alpha, alpha_client):
    sign_in_staff(alpha_client, Role.OWNER)
    ada = patient("Ada", joined=at(1, 5))
    buy(ada, when=at(3, 30), dollars=100)
    with travel(at(4, 1, 3)):
        rollups.build()  # through March 30

    def live() -> str:
        with travel(at(4, 1, 15)):
            response = alpha_client.get("/staff/analytics/live/", {"period": "7d"})
        assert response.status_code == 200
        return response.content.decode()

    before = live()
    buy(ada, when=at(4, 1, 14), dollars=250)
    after = live()

    assert (tile(before, "Points issued"), tile(after, "Points issued")) == ("100", "350")
    for part in ["analytics-kpis", "analytics-chart-data", "analytics-tables"]:
        assert re.search(rf'id="{part}"[^>]*hx-swap-oob="true"', after), part
    charts = re.search(r'data-charts="([^"]*)"', after).group(1)
    assert "&quot;issued&quot;:[0,0,0,0,100,0,250]" in charts


def test_nothing_of_another_practice_shows(alpha, alpha_client, beta, history):
    sign_in_staff(alpha_client, Role.OWNER)
    before = page(alpha_client, **MARCH_QUERY)
    with tenant_context(beta):
        zed = patient("Zed", joined=at(3, 2))
        buy(zed, when=at(3, 3), dollars=900)
        with travel(at(4, 2, 3)):
            rollups.build()
    connection.set_tenant(alpha)

    after = page(alpha_client, **MARCH_QUERY)
    assert "Zed" not in after
    assert tile(after, "Points issued") == tile(before, "Points issued") == "545"
    assert tile(after, "Revenue, net of refunds") == "$340.00"
    assert [row[1] for row in csv_rows(alpha_client, "top_earners", **MARCH_QUERY)[1:]] == [
        str(history.ada.pk),
        str(history.cleo.pk),
        str(history.ben.pk),
    ]


def test_a_new_practice_gets_empty_states(alpha, alpha_client):
    sign_in_staff(alpha_client, Role.OWNER)
    html = page(alpha_client)

    assert "Your figures start here" in html
    assert "No vouchers in this period" in html and "No patient is at risk" in html
    assert "Nobody earned points in this period yet" in html
    assert tile(html, "Members") == "0" and tile(html, "Redemption rate") == "—"


def test_a_wrong_custom_period_is_explained_and_the_default_shown(alpha, alpha_client):
    sign_in_staff(alpha_client, Role.OWNER)
    html = page(alpha_client, period="custom", start="2026-02-01", end="2026-01-01")

    assert "The end date must be on or after the start date." in html
    assert "Last 30 days" in html


def test_the_live_refresh_refuses_a_wrong_period(alpha, alpha_client):
    sign_in_staff(alpha_client, Role.OWNER)

    response = alpha_client.get("/staff/analytics/live/", {"period": "custom", "start": "x"})
    assert response.status_code == 400


def test_an_unknown_table_is_not_found(alpha, alpha_client):
    sign_in_staff(alpha_client, Role.OWNER)

    assert alpha_client.get("/staff/analytics/export/secrets.csv").status_code == 404


def test_the_dashboard_needs_a_signed_in_staff_member(alpha, alpha_client):
    response = alpha_client.get("/staff/analytics/")

    assert response.status_code == 302 and response["Location"].startswith("/staff/login/")


def test_every_patient_at_risk_is_listed_a_page_at_a_time(alpha, alpha_client, history):
    sign_in_staff(alpha_client, Role.FRONT_DESK)
    html = page(alpha_client, "/staff/analytics/at-risk/")

    assert "2 patients" in html
    assert html.index("Ivy Test") < html.index("Hal Test")
    assert f'href="/staff/patients/{history.hal.pk}/"' in html


def test_the_page_makes_the_same_number_of_queries_with_more_history(
    alpha, alpha_client, history, django_assert_max_num_queries
):
    sign_in_staff(alpha_client, Role.OWNER)
    with travel(at(4, 2, 3)):
        rollups.build()
    page(alpha_client, **MARCH_QUERY)
    for day in range(1, 28):
        buy(history.ben, when=at(3, day, 16), dollars=10)

    with django_assert_max_num_queries(45):
        page(alpha_client, **MARCH_QUERY)
