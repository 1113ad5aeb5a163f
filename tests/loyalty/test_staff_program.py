"""Staff program pages: settings (owner only), tiers and campaigns."""

from datetime import UTC, datetime

import pytest
import time_machine

from loyalty.models import Campaign, LedgerEntry, Tier
from loyalty.services import ensure_account, post_points, program_settings
from practices.models import Practice, StaffMember
from tests.factories import CatalogItemFactory, PatientFactory, TierFactory
from tests.factories import sign_in_staff as sign_in

Role = StaffMember.Role


@pytest.fixture
def owner(alpha, alpha_client) -> StaffMember:
    return sign_in(alpha_client, Role.OWNER)


@pytest.fixture
def manager(alpha, alpha_client) -> StaffMember:
    return sign_in(alpha_client, Role.MANAGER)


# ---------------------------------------------------------------- program settings


def settings_data(**changes) -> dict:
    data = {
        "points_per_dollar": "2",
        "point_value_cents": "4",
        "expiry_days": "200",
        "reminder_days": "7, 30, 1",
        "invite_unknown_pos_patients": "",
        "time_zone": "America/Chicago",
    }
    return {**data, **changes}


def test_the_owner_saves_the_settings_and_the_practice_time_zone(owner, alpha, alpha_client):
    response = alpha_client.post("/staff/settings/program/", settings_data(), follow=True)

    saved = program_settings()
    assert (saved.points_per_dollar, saved.point_value_cents, saved.expiry_days) == (2, 4, 200)
    assert saved.reminder_days == [30, 7, 1]
    assert saved.invite_unknown_pos_patients is False
    assert Practice.objects.get(pk=alpha.pk).time_zone == "America/Chicago"
    assert "Program settings saved." in response.content.decode()


def test_a_manager_gets_403_on_the_settings(manager, alpha_client):
    assert alpha_client.get("/staff/settings/program/").status_code == 403
    assert alpha_client.post("/staff/settings/program/", settings_data()).status_code == 403
    assert program_settings().points_per_dollar == 1


@pytest.mark.parametrize(
    ("reminder_days", "message"),
    [
        ("30, 30", "Each number of days can appear only once."),
        ("30, -1", "“-1” is not a whole number of days above 0."),
        ("30, soon", "“soon” is not a whole number of days above 0."),
        ("250, 7", "Reminders must come before the points expire: use fewer than 200 days."),
        ("200", "Reminders must come before the points expire: use fewer than 200 days."),
    ],
)
def test_reminder_days_are_validated(owner, alpha_client, reminder_days, message):
    response = alpha_client.post("/staff/settings/program/", settings_data(reminder_days=reminder_days))

    assert message in response.content.decode()
    assert program_settings().reminder_days == [180, 30, 7, 1]


@pytest.mark.parametrize("expiry_days", ["0", "3651"])
def test_expiry_days_stay_between_1_and_3650(owner, alpha_client, expiry_days):
    response = alpha_client.post("/staff/settings/program/", settings_data(expiry_days=expiry_days, reminder_days=""))

    assert "field-error" in response.content.decode()
    assert program_settings().expiry_days == 365


def test_the_page_shows_the_points_liability_in_dollars(owner, alpha_client):
    for points in (1000, 2500):
        post_points(account_id=PatientFactory().points_account.pk, delta=points, kind=LedgerEntry.Kind.BONUS)

    page = alpha_client.get("/staff/settings/program/").content.decode()

    assert "$175.00" in page  # 3,500 points at the default 5¢


def test_the_navigation_links_to_program_settings_for_the_owner_only(owner, alpha_client):
    assert 'href="/staff/settings/program/"' in alpha_client.get("/staff/catalog/").content.decode()


# ---------------------------------------------------------------- tiers


def test_tiers_are_listed_by_threshold_with_their_patient_counts(manager, alpha_client):
    gold = TierFactory(name="Gold", threshold_points=1500, multiplier_percent=150)
    TierFactory(name="Silver", threshold_points=500, multiplier_percent=125)
    account = ensure_account(patient=PatientFactory())
    account.tier = gold
    account.save()

    page = alpha_client.get("/staff/tiers/").content.decode()

    assert page.index("Silver") < page.index("Gold")
    assert "×1.25" in page and "×1.5" in page
    assert '<td class="num">1</td>' in page


def test_a_manager_adds_and_edits_a_tier(manager, alpha_client):
    alpha_client.post(
        "/staff/tiers/new/",
        {"name": "Gold", "threshold_points": "1500", "multiplier_percent": "125", "perks": "Priority", "sort_order": 0},
    )
    tier = Tier.objects.get(name="Gold")
    alpha_client.post(
        f"/staff/tiers/{tier.pk}/",
        {"name": "Gold+", "threshold_points": "1600", "multiplier_percent": "150", "perks": "", "sort_order": 1},
    )

    tier.refresh_from_db()
    assert (tier.name, tier.threshold_points, tier.multiplier_percent) == ("Gold+", 1600, 150)


def test_a_tier_threshold_must_be_unique_and_the_multiplier_at_least_100(manager, alpha_client):
    TierFactory(name="Silver", threshold_points=500)

    page = alpha_client.post(
        "/staff/tiers/new/",
        {"name": "Also", "threshold_points": "500", "multiplier_percent": "90", "perks": "", "sort_order": 0},
    ).content.decode()

    assert "Another tier already starts at this number of points." in page
    assert "Use 100 or more" in page
    assert Tier.objects.count() == 1


def test_deleting_a_tier_moves_its_patients_to_the_tier_their_points_reach(manager, alpha_client):
    silver = TierFactory(name="Silver", threshold_points=500)
    gold = TierFactory(name="Gold", threshold_points=1500)
    account = ensure_account(patient=PatientFactory())
    post_points(account_id=account.pk, delta=1600, kind=LedgerEntry.Kind.BONUS)
    account.tier = gold
    account.save()

    confirm = alpha_client.get(f"/staff/tiers/{gold.pk}/delete/").content.decode()
    alpha_client.post(f"/staff/tiers/{gold.pk}/delete/")

    assert "1 patient is in this tier" in confirm
    assert not Tier.objects.filter(pk=gold.pk).exists()
    account.refresh_from_db()
    assert account.tier == silver


# ---------------------------------------------------------------- campaigns


def campaign_data(**changes) -> dict:
    data = {
        "name": "Double weekend",
        "multiplier_percent": "200",
        "starts_at": "2026-05-01T09:00",
        "ends_at": "2026-05-03T18:00",
        "category": "",
        "is_active": "on",
    }
    return {**data, **changes}


def test_campaign_times_are_read_in_the_practice_time_zone(manager, alpha, alpha_client):
    CatalogItemFactory(category="Skincare")

    alpha_client.post("/staff/campaigns/new/", campaign_data(category="Skincare"))

    campaign = Campaign.objects.get()
    # alpha is in America/New_York: 9:00 on May 1 is 13:00 UTC (daylight saving time).
    assert campaign.starts_at == datetime(2026, 5, 1, 13, 0, tzinfo=UTC)
    assert campaign.category == "Skincare"
    page = alpha_client.get(f"/staff/campaigns/{campaign.pk}/").content.decode()
    assert 'value="2026-05-01T09:00"' in page


def test_a_campaign_must_end_after_it_starts_and_use_an_existing_category(manager, alpha_client):
    page = alpha_client.post(
        "/staff/campaigns/new/", campaign_data(ends_at="2026-04-30T09:00", category="Nowhere")
    ).content.decode()

    assert "The end must be after the start." in page
    assert "Select a valid choice." in page
    assert not Campaign.objects.exists()


def test_ending_a_running_campaign_early_sets_its_end_to_now(manager, alpha_client):
    campaign = Campaign.objects.create(
        name="Spring",
        multiplier_percent=150,
        starts_at=datetime(2026, 3, 1, tzinfo=UTC),
        ends_at=datetime(2026, 6, 1, tzinfo=UTC),
    )

    with time_machine.travel(datetime(2026, 4, 1, 12, 0, tzinfo=UTC), tick=False):
        listed = alpha_client.get("/staff/campaigns/").content.decode()
        alpha_client.post(f"/staff/campaigns/{campaign.pk}/end/")

    assert "Running" in listed and "×1.5" in listed
    campaign.refresh_from_db()
    assert campaign.ends_at == datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
