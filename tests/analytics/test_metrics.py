"""Each dashboard figure over March 2026 equals the count by hand of tests/analytics/history.py.

Every test runs three times: from the raw rows only, from rollups built after the period, and from
rollups built halfway through it (the rest read raw), which must all agree.
"""

import pytest

from analytics import selectors
from tests.analytics.history import MARCH, READ_AT, build_funnel, build_history, prepare, travel


@pytest.fixture(params=["raw", "rolled", "mixed"])
def mode(request):
    return request.param


@pytest.fixture
def history(alpha, mode):
    made = build_history()
    build_funnel(made)
    prepare(mode)
    return made


def read(metric, *args, **kwargs):
    with travel(READ_AT):
        return metric(MARCH, *args, **kwargs)


def test_points_issued_redeemed_and_expired_in_the_period(history):
    points = read(selectors.points)

    # Purchases: Ada 200 (00:10 on March 1) + Cleo 80 + Ben 50 + Ada 20 + Cleo 70 (23:30 on March 31);
    # not Ada's 100 at 23:30 on February 28 nor Cleo's 30 at 00:10 on April 1.
    assert points["issued_by_kind"] == {"purchase": 420, "bonus": 25, "referral": 60, "adjustment": 40}
    assert points["issued"] == 545
    # Redeemed 10 + 150 + 100, of which 100 came back when the voucher was cancelled.
    assert points["redeemed"] == 160
    assert points["expired"] == 75  # Ben's 50 + 25 on March 28
    assert points["taken_back"] == 90  # the refund's 80 and the adjustment's 10
    assert points["net"] == 220
    assert points["redemption_rate"] == pytest.approx(160 / 545)
    assert points["breakage"] == pytest.approx(75 / 545)


def test_the_previous_period_is_the_31_days_before(history):
    points = read(selectors.points)

    assert (MARCH.previous().first_day.isoformat(), MARCH.previous().last_day.isoformat()) == (
        "2026-01-29",
        "2026-02-28",
    )
    assert points["previous"]["issued_by_kind"] == {"purchase": 100, "bonus": 0, "referral": 0, "adjustment": 0}
    assert points["previous"]["redemption_rate"] == 0
    assert points["issued_change"] == pytest.approx(4.45)


def test_the_points_chart_has_a_point_per_day(history):
    series = read(selectors.points)["series"]

    assert len(series) == 31
    assert series[0] == {"label": "Mar 1", "issued": 200, "redeemed": 0}
    assert series[30] == {"label": "Mar 31", "issued": 70, "redeemed": 0}
    assert series[21]["redeemed"] == 150  # March 22
    assert series[25]["redeemed"] == -100  # the cancelled voucher's points back on March 26
    assert sum(point["issued"] for point in series) == 545


def test_liability_at_the_end_of_the_period_is_every_balance_then(history):
    liability = read(selectors.liability)

    # Ada 150 + Ben 0 + Cleo 170 + Hal 100 + Ivy 60, before Cleo's purchase on April 1.
    assert liability["points"] == 480
    assert liability["cents"] == 480 * 5  # the default point value: 5 cents
    assert liability["points_at_start"] == 260  # Ivy 60, Hal 100, Ada 100


def test_liability_of_a_period_ending_now_is_the_sum_of_balances(history):
    from analytics.periods import preset_period
    from loyalty.models import PointsAccount, ProgramSettings

    ProgramSettings.objects.update_or_create(pk=1, defaults={"point_value_cents": 2})
    with travel(READ_AT):
        liability = selectors.liability(preset_period("30d", today=READ_AT.date(), zone=MARCH.zone))

    balances = sum(PointsAccount.objects.values_list("balance", flat=True))
    assert liability["points"] == balances == 510
    assert liability["cents"] == 1020


def test_members_total_new_and_active(history):
    members = read(selectors.members)

    assert members["total"] == 6  # everyone but Eve, who never joined
    assert members["new"] == 2  # Ben, and Cleo at 23:00 on March 31; not Dan at 00:10 on April 1
    assert members["new_previous"] == 1  # Ada
    assert members["active"] == 3  # Ada, Ben, Cleo bought as members; Cleo's March 5 purchase came before
    assert members["active_previous"] == 1  # Ada at 23:30 on February 28
    series = members["series"]
    assert [point["members"] for point in series][:6] == [3, 3, 3, 3, 4, 4]
    assert series[30] == {"label": "Mar 31", "new": 1, "active": 1, "members": 5}
    assert sum(point["new"] for point in series) == 2
    assert [point["active"] for point in series if point["active"]] == [1, 1, 1, 1]


def test_retention_before_and_after_joining(history):
    retention = read(selectors.retention, with_money=True)

    assert retention["before"] == {
        "patients": 1,  # Cleo, on March 5, before she joined
        "repeat_patients": 0,
        "visits": 1,
        "repeat_rate": 0,
        "visits_per_patient": 1,
        "spend_cents": 8_000,
        "spend_per_visit_cents": 8_000,
    }
    assert retention["member"] == {
        "patients": 3,  # Ada twice, Ben, Cleo
        "repeat_patients": 1,
        "visits": 4,
        "repeat_rate": pytest.approx(1 / 3),
        "visits_per_patient": pytest.approx(4 / 3),
        "spend_cents": 34_000,
        "spend_per_visit_cents": 8_500,
    }


def test_retention_without_money_has_no_spend(history):
    retention = read(selectors.retention, with_money=False)

    assert "spend_cents" not in retention["member"] and "spend_per_visit_cents" not in retention["before"]


def test_rewards_by_reward_with_gift_vouchers_apart(history):
    rewards = read(selectors.rewards)

    rows = {row["name"]: row for row in rewards["rows"]}
    figures = ["issued", "points", "used", "cancelled", "expired", "outstanding"]
    assert {name: [row[key] for key in figures] for name, row in rows.items()} == {
        "Facial credit": [1, 150, 1, 0, 0, 0],
        "Peel": [1, 100, 0, 1, 0, 0],
        "Sample": [1, 10, 0, 0, 1, 0],  # unused past March 29, whether or not the job marked it
    }
    assert [(gift["name"], gift["issued"], gift["outstanding"]) for gift in rewards["gifts"]] == [
        ("$25 referral credit", 1, 1)
    ]
    assert rewards["totals"] == {
        "issued": 3,
        "issued_previous": 0,
        "points": 260,
        "used": 1,
        "cancelled": 1,
        "expired": 1,
        "outstanding": 0,
    }


def test_revenue_of_everyone_and_of_referred_patients_net_of_refunds(history):
    revenue = read(selectors.revenue)

    everyone, referred = revenue["all"], revenue["referred"]
    assert (everyone.purchases, everyone.spend_cents, everyone.refund_cents, everyone.net_cents) == (
        5,
        42_000,
        8_000,
        34_000,
    )
    # Ben (referred by Ada) spent $50; Cleo (by a staff member) $80, refunded, and $70.
    assert (referred.purchases, referred.spend_cents, referred.refund_cents, referred.net_cents) == (
        3,
        20_000,
        8_000,
        12_000,
    )
    assert revenue["previous"]["all"].net_cents == 10_000


def test_referral_funnel_by_owner_and_by_source(history):
    funnel = read(selectors.referrals, with_money=True)

    steps = ["visits", "signups", "qualified", "rewarded", "rejected", "revenue_cents"]
    by_owner = {row["key"]: [row[step] for step in steps] for row in funnel["by_owner"]}
    assert by_owner == {
        "patient": [3, 1, 1, 1, 1, 5_000],  # Ada's link: 3 visits, Ben rewarded; Hal's unknown code refused
        "staff": [2, 1, 0, 0, 0, 7_000],  # 2 QR visits on the last evening, Cleo pending
        "partner": [1, 0, 0, 0, 0, 0],  # Dan signed up ten minutes after the period
    }
    by_source = {row["key"]: [row[step] for step in steps] for row in funnel["by_source"]}
    assert by_source == {
        "link": [3, 1, 1, 1, 0, 5_000],
        "qr": [2, 1, 0, 0, 0, 7_000],
        "sms": [1, 0, 0, 0, 0, 0],
        "code": [0, 0, 0, 0, 1, 0],
    }
    assert funnel["total"] == dict(zip(steps, [6, 2, 1, 1, 1, 12_000], strict=True))


def test_top_earners_of_the_period(history):
    earners = read(selectors.top_earners)

    # Earned: Ada 200 + 20, Cleo 80 + 60 + 70, Ben 50 + 25 (adjustments and refunds are not earning).
    assert [(row["name"], row["points"]) for row in earners] == [
        ("Ada Test", 220),
        ("Cleo Test", 210),
        ("Ben Test", 75),
    ]


def test_patients_at_risk(history):
    with travel(READ_AT):
        at_risk = selectors.at_risk()

    # Ivy's points expire on April 10; Hal last bought in July. Ben has no points left.
    assert [(row["name"], row["balance"], row["is_expiring"], row["is_lapsed"]) for row in at_risk["rows"]] == [
        ("Ivy Test", 60, True, True),
        ("Hal Test", 100, False, True),
    ]
    assert (at_risk["count"], at_risk["points"]) == (2, 160)


def test_the_whole_dashboard_without_money_leaves_liability_and_revenue_out(history):
    with travel(READ_AT):
        figures = selectors.dashboard(MARCH, with_money=False)

    assert "liability" not in figures and "revenue" not in figures
    assert "revenue_cents" not in figures["referrals"]["total"]
    assert all("revenue_cents" not in row for row in figures["referrals"]["by_owner"])
    assert figures["points"]["issued"] == 545
