"""Referral program settings and milestones (owner only)."""

import pytest

from accounts.models import AuditEvent
from referrals import services
from referrals.models import Milestone
from tests.factories import sign_in_staff

URL = "/staff/referrals/settings/"


@pytest.fixture
def owner(alpha, alpha_client):
    return sign_in_staff(alpha_client, role="owner", first_name="Olga", last_name="Owner")


def form_data(**changes) -> dict:
    data = {
        "enabled": "on",
        "referrer_reward_kind": "points",
        "referrer_points": "500",
        "referrer_credit": "",
        "referrer_percent_off": "",
        "referee_reward_kind": "points",
        "referee_points": "250",
        "referee_credit": "",
        "referee_percent_off": "",
        "min_purchase": "50.00",
        "yearly_limit": "",
        "reward_staff_referrals": "on",
        "clawback_days": "30",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_the_page_shows_the_current_settings(owner, alpha_client):
    page = alpha_client.get(URL).content.decode()

    assert 'name="referrer_points" value="500"' in page
    assert 'name="referee_points" value="250"' in page
    assert 'name="min_purchase" value="50.00"' in page
    assert 'name="clawback_days" value="30"' in page
    assert "No milestones yet." in page


def test_the_owner_saves_rewards_minimum_limit_and_clawback(owner, alpha_client):
    response = alpha_client.post(
        URL,
        form_data(
            enabled=None,
            referrer_reward_kind="credit",
            referrer_credit="25",
            referee_reward_kind="percent",
            referee_percent_off="15",
            min_purchase="$75.50",
            yearly_limit="10",
            reward_staff_referrals=None,
            clawback_days="14",
        ),
        follow=True,
    )

    row = services.referral_settings()
    assert row.enabled is False
    assert (row.referrer_reward_kind, row.referrer_credit_cents, row.referrer_points) == ("credit", 2500, 0)
    assert (row.referee_reward_kind, row.referee_percent_off, row.referee_points) == ("percent", 15, 0)
    assert row.min_purchase_cents == 7550
    assert row.yearly_limit == 10
    assert row.reward_staff_referrals is False
    assert row.clawback_days == 14
    page = response.content.decode()
    assert "Referral settings saved. Changed: referrals: on → off; referrer reward: 500 points → $25.00 credit" in page
    assert "minimum qualifying purchase: $50.00 → $75.50" in page
    assert "yearly limit: no limit → 10 per referrer" in page
    event = AuditEvent.objects.get(action="referral_settings.updated")
    assert event.actor == owner.user
    assert (event.before["min_purchase_cents"], event.after["min_purchase_cents"]) == (5000, 7550)


def test_an_empty_yearly_limit_means_no_limit(owner, alpha_client):
    alpha_client.post(URL, form_data(yearly_limit="5"))
    alpha_client.post(URL, form_data(yearly_limit=""))

    assert services.referral_settings().yearly_limit is None


def test_saving_without_changes_says_so(owner, alpha_client):
    page = alpha_client.post(URL, form_data(), follow=True).content.decode()

    assert "Referral settings saved: nothing changed." in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"referrer_reward_kind": "credit", "referrer_credit": ""}, "A credit reward needs an amount in dollars"),
        ({"referee_reward_kind": "credit", "referee_credit": "0"}, "A credit reward needs an amount in dollars"),
        ({"referee_reward_kind": "percent", "referee_percent_off": "0"}, "Enter a discount from 1 to 100 percent."),
        ({"referee_reward_kind": "percent", "referee_percent_off": "101"}, "Enter a discount from 1 to 100 percent."),
        ({"referrer_reward_kind": "points", "referrer_points": ""}, "Enter the points, e.g. 250."),
        ({"min_purchase": ""}, "Enter the minimum purchase in dollars"),
        ({"min_purchase": "ten"}, "Enter an amount in dollars, like 120.00."),
        ({"yearly_limit": "0"}, "greater than or equal to 1"),
        ({"clawback_days": "-1"}, "greater than or equal to 0"),
        ({"referrer_reward_kind": ""}, "Choose the referrer&#x27;s reward (or Nothing)."),
    ],
)
def test_invalid_settings_are_explained_and_not_saved(owner, alpha_client, changes, message):
    response = alpha_client.post(URL, form_data(**changes))

    assert response.status_code == 200
    assert message in response.content.decode()
    row = services.referral_settings()
    assert (row.referrer_points, row.referee_points, row.min_purchase_cents) == (500, 250, 5000)


def test_nothing_as_a_reward_needs_no_value(owner, alpha_client):
    alpha_client.post(URL, form_data(referrer_reward_kind="none", referrer_points=""))

    row = services.referral_settings()
    assert (row.referrer_reward_kind, row.referrer_points) == ("none", 0)


def test_a_manager_gets_403(alpha, alpha_client):
    sign_in_staff(alpha_client, role="manager")

    assert alpha_client.get(URL).status_code == 403
    assert alpha_client.post(URL, form_data(enabled=None)).status_code == 403
    milestone = {"count": 3, "points": 100}
    assert alpha_client.post("/staff/referrals/settings/milestones/new/", milestone).status_code == 403
    assert services.referral_settings().enabled is True


def test_the_front_desk_gets_403(alpha, alpha_client):
    sign_in_staff(alpha_client, role="front_desk")

    assert alpha_client.get(URL).status_code == 403


# ---------------------------------------------------------------- milestones


def test_the_owner_adds_a_milestone(owner, alpha_client):
    page = alpha_client.post(
        "/staff/referrals/settings/milestones/new/", {"count": "3", "points": "1000"}, follow=True
    ).content.decode()

    assert [(m.count, m.points) for m in Milestone.objects.all()] == [(3, 1000)]
    assert "Milestone added: 1,000 bonus points at 3 referrals." in page
    assert '<td class="num">3</td>' in page


def test_a_second_milestone_at_the_same_count_is_refused(owner, alpha_client):
    Milestone.objects.create(count=3, points=1000)

    page = alpha_client.post(
        "/staff/referrals/settings/milestones/new/", {"count": "3", "points": "50"}
    ).content.decode()

    assert "There is already a milestone at 3 referrals: edit that one." in page
    assert Milestone.objects.get().points == 1000


def test_a_milestone_needs_a_positive_count_and_points(owner, alpha_client):
    page = alpha_client.post("/staff/referrals/settings/milestones/new/", {"count": "0", "points": ""}).content.decode()

    assert "greater than or equal to 1" in page
    assert "Enter the bonus in points, e.g. 500." in page
    assert not Milestone.objects.exists()


def test_the_owner_edits_a_milestone(owner, alpha_client):
    milestone = Milestone.objects.create(count=3, points=1000)

    form = alpha_client.get(f"/staff/referrals/settings/milestones/{milestone.pk}/").content.decode()
    alpha_client.post(f"/staff/referrals/settings/milestones/{milestone.pk}/", {"count": "5", "points": "2000"})

    assert 'value="1000"' in form
    milestone.refresh_from_db()
    assert (milestone.count, milestone.points) == (5, 2000)


def test_deleting_a_milestone_asks_first(owner, alpha_client):
    milestone = Milestone.objects.create(count=3, points=1000)
    url = f"/staff/referrals/settings/milestones/{milestone.pk}/delete/"

    question = alpha_client.get(url).content.decode()
    assert "Delete the milestone at 3 referrals?" in question
    assert Milestone.objects.exists()

    alpha_client.post(url)
    assert not Milestone.objects.exists()
