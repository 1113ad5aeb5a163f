"""The reward list and editor of the staff portal (managers and owners)."""

import io
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from loyalty.models import LedgerEntry
from loyalty.services import post_points
from rewards.models import Redemption, Reward
from rewards.services import cancel_redemption, redeem_reward
from tests.factories import CatalogItemFactory, PatientFactory, RewardFactory, TierFactory, sign_in_staff


@pytest.fixture
def manager(alpha, alpha_client):
    return sign_in_staff(alpha_client, role="manager", first_name="Mia", last_name="Manager")


def rich_patient(points: int = 5000):
    patient = PatientFactory()
    post_points(account_id=patient.points_account.pk, delta=points, kind=LedgerEntry.Kind.BONUS)
    return patient


def png(width: int, height: int) -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 30, 30, 128)).save(data, format="PNG")
    data.seek(0)
    data.name = "picture.png"
    return data


def form_data(**changes) -> dict:
    data = {
        "name": "$50 credit",
        "description": "Off any treatment.",
        "kind": "credit",
        "credit": "50.00",
        "percent_off": "",
        "item": "",
        "points_cost": "500",
        "min_tier": "",
        "starts_at": "",
        "ends_at": "",
        "stock": "",
        "per_patient_limit": "",
        "limit_period": "year",
        "is_active": "on",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_it_adds_a_credit_reward_in_cents(manager, alpha_client):
    response = alpha_client.post("/staff/rewards/new/", form_data(credit="49.50", stock="10"))

    assert response.status_code == 302
    reward = Reward.objects.get(name="$50 credit")
    assert (reward.kind, reward.credit_cents, reward.points_cost, reward.stock) == ("credit", 4950, 500, 10)
    assert reward.percent_off is None and reward.item is None and reward.is_active


def test_a_new_reward_goes_to_the_end_of_the_list(manager, alpha_client):
    RewardFactory(display_order=4)

    alpha_client.post("/staff/rewards/new/", form_data())

    assert Reward.objects.get(name="$50 credit").display_order == 5


def test_it_adds_a_free_item_reward_and_a_tiered_percent_reward(manager, alpha_client):
    item = CatalogItemFactory(name="HydraFacial")
    gold = TierFactory(name="Gold")

    alpha_client.post("/staff/rewards/new/", form_data(name="Free facial", kind="free_item", credit="", item=item.pk))
    alpha_client.post(
        "/staff/rewards/new/", form_data(name="VIP", kind="percent", credit="", percent_off="20", min_tier=gold.pk)
    )

    facial, vip = Reward.objects.get(name="Free facial"), Reward.objects.get(name="VIP")
    assert (facial.item, facial.value_label) == (item, "Free HydraFacial")
    assert (vip.percent_off, vip.min_tier, vip.credit_cents) == (20, gold, None)


def test_it_edits_a_reward_and_drops_the_value_of_another_kind(manager, alpha_client):
    reward = RewardFactory(name="Old", credit_cents=5000)

    alpha_client.post(f"/staff/rewards/{reward.pk}/", form_data(name="New", kind="percent", percent_off="15"))

    reward.refresh_from_db()
    assert (reward.name, reward.kind, reward.percent_off, reward.credit_cents) == ("New", "percent", 15, None)


def test_the_edit_page_shows_the_credit_in_dollars(manager, alpha_client):
    reward = RewardFactory(credit_cents=12345)

    page = alpha_client.get(f"/staff/rewards/{reward.pk}/").content.decode()

    assert 'value="123.45"' in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Give the reward a name"),
        ({"points_cost": "0"}, "points_cost", "greater than or equal to 1"),
        ({"credit": ""}, "credit", "Enter the credit in dollars"),
        ({"credit": "ten"}, "credit", "Enter an amount in dollars"),
        ({"kind": "percent", "credit": "", "percent_off": "120"}, "percent_off", "from 1 to 100"),
        ({"kind": "percent", "credit": "", "percent_off": ""}, "percent_off", "from 1 to 100"),
        ({"kind": "free_item", "credit": ""}, "item", "Choose the free item"),
        (
            {"starts_at": "2025-06-01T09:00", "ends_at": "2025-05-01T09:00"},
            "ends_at",
            "The end must be after the start.",
        ),
    ],
)
def test_invalid_input_is_shown_on_its_field(manager, alpha_client, changes, field, message):
    response = alpha_client.post("/staff/rewards/new/", form_data(**changes))

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert message.split(" (")[0] in response.content.decode()
    assert not Reward.objects.exists()


def test_the_window_is_read_in_the_practice_time_zone(manager, alpha_client):
    alpha_client.post("/staff/rewards/new/", form_data(starts_at="2025-06-01T09:00", ends_at="2025-07-01T09:00"))

    reward = Reward.objects.get()
    assert reward.starts_at.isoformat() == "2025-06-01T13:00:00+00:00"  # 9 am in New York (EDT)


def test_an_uploaded_picture_is_shrunk_to_a_jpeg_in_the_practice_folder(manager, alpha, alpha_client, media_root):
    response = alpha_client.post("/staff/rewards/new/", {**form_data(), "upload": png(2400, 1600)})

    assert response.status_code == 302
    reward = Reward.objects.get()
    path = Path(reward.image.path)
    assert path.is_relative_to(Path(media_root) / alpha.schema_name)
    assert reward.image.name.startswith("rewards/") and reward.image.name.endswith(".jpg")
    with Image.open(path) as stored:
        assert (stored.format, stored.size, stored.mode) == ("JPEG", (1200, 800), "RGB")


def test_a_new_picture_replaces_the_old_file(manager, alpha_client, media_root, django_capture_on_commit_callbacks):
    alpha_client.post("/staff/rewards/new/", {**form_data(), "upload": png(300, 300)})
    reward = Reward.objects.get()
    old = Path(reward.image.path)

    with django_capture_on_commit_callbacks(execute=True):
        alpha_client.post(f"/staff/rewards/{reward.pk}/", {**form_data(), "upload": png(200, 200)})

    reward.refresh_from_db()
    assert not old.exists()
    assert Path(reward.image.path).exists()


def test_a_file_that_is_not_a_picture_is_refused(manager, alpha_client, media_root):
    text = io.BytesIO(b"not a picture")
    text.name = "picture.png"

    response = alpha_client.post("/staff/rewards/new/", {**form_data(), "upload": text})

    assert "not a picture we can read" in " ".join(response.context["form"].errors["upload"])
    assert not Reward.objects.exists()


def test_a_picture_over_5_mb_is_refused(manager, alpha_client, media_root):
    big = io.BytesIO(b"\0" * (5 * 1024 * 1024 + 1))
    big.name = "huge.png"

    response = alpha_client.post("/staff/rewards/new/", {**form_data(), "upload": big})

    assert "larger than 5 MB" in " ".join(response.context["form"].errors["upload"])


def test_the_list_shows_each_reward_with_its_redemption_count(manager, alpha_client):
    gold = TierFactory(name="Gold")
    popular = RewardFactory(name="Popular", points_cost=100, stock=7, min_tier=None)
    RewardFactory(name="Quiet", kind="percent", credit_cents=None, percent_off=10, min_tier=gold, is_active=False)
    patient = rich_patient()
    for _ in range(3):
        redeem_reward(patient=patient, reward=popular)
    cancel_redemption(redemption=redeem_reward(patient=patient, reward=popular))

    response = alpha_client.get("/staff/rewards/")

    rows = {reward.name: reward for reward in response.context["rewards"]}
    assert rows["Popular"].redeemed_count == 3  # the cancelled one doesn't count
    assert rows["Quiet"].redeemed_count == 0
    page = response.content.decode()
    assert "$50.00 credit" in page and "10% off" in page
    assert "Gold and above" in page and "Inactive" in page
    assert '<td class="num">4</td>' in page  # stock left: 7 - 3 (the cancelled voucher gave one back)


def test_the_list_makes_the_same_number_of_queries_for_more_rewards(manager, alpha_client):
    RewardFactory(min_tier=TierFactory(), kind="free_item", credit_cents=None, item=CatalogItemFactory())
    with CaptureQueriesContext(connection) as few:
        alpha_client.get("/staff/rewards/")
    for _ in range(10):
        RewardFactory(min_tier=TierFactory(), kind="free_item", credit_cents=None, item=CatalogItemFactory())
    with CaptureQueriesContext(connection) as many:
        alpha_client.get("/staff/rewards/")

    assert len(many) == len(few)


def test_moving_a_reward_up_swaps_it_with_the_one_above(manager, alpha_client):
    RewardFactory(name="A", display_order=0)
    RewardFactory(name="B", display_order=1)
    third = RewardFactory(name="C", display_order=2)

    alpha_client.post(f"/staff/rewards/{third.pk}/move/", {"direction": "up"})

    assert [reward.name for reward in Reward.objects.all()] == ["A", "C", "B"]


def test_moving_sorts_out_rewards_that_shared_a_place(manager, alpha_client):
    RewardFactory(name="A", points_cost=100)
    RewardFactory(name="B", points_cost=200)
    RewardFactory(name="C", points_cost=300)
    top = Reward.objects.get(name="A")

    alpha_client.post(f"/staff/rewards/{top.pk}/move/", {"direction": "down"})
    alpha_client.post(f"/staff/rewards/{top.pk}/move/", {"direction": "down"})
    alpha_client.post(f"/staff/rewards/{top.pk}/move/", {"direction": "down"})  # already last: nothing changes

    assert [reward.name for reward in Reward.objects.all()] == ["B", "C", "A"]


def test_deactivating_asks_first_then_switches_it_off(manager, alpha_client):
    reward = RewardFactory(name="Facial")

    confirm = alpha_client.get(f"/staff/rewards/{reward.pk}/active/").content.decode()
    reward.refresh_from_db()
    assert "Deactivate Facial?" in confirm and reward.is_active

    alpha_client.post(f"/staff/rewards/{reward.pk}/active/")
    reward.refresh_from_db()
    assert not reward.is_active

    alpha_client.post(f"/staff/rewards/{reward.pk}/active/")
    reward.refresh_from_db()
    assert reward.is_active


def test_a_reward_never_redeemed_is_deleted_after_confirmation(manager, alpha_client):
    reward = RewardFactory(name="Unused")

    confirm = alpha_client.get(f"/staff/rewards/{reward.pk}/delete/").content.decode()
    assert "It has never been redeemed, so it will be deleted for good." in confirm
    assert Reward.objects.filter(pk=reward.pk).exists()

    response = alpha_client.post(f"/staff/rewards/{reward.pk}/delete/", follow=True)

    assert not Reward.objects.filter(pk=reward.pk).exists()
    assert "“Unused” was deleted." in response.content.decode()


def test_a_reward_with_vouchers_is_only_deactivated(manager, alpha_client):
    reward = RewardFactory(name="Popular", points_cost=100)
    redemption = redeem_reward(patient=rich_patient(), reward=reward)

    confirm = alpha_client.get(f"/staff/rewards/{reward.pk}/delete/").content.decode()
    assert "it will be deactivated instead" in confirm

    alpha_client.post(f"/staff/rewards/{reward.pk}/delete/")

    reward.refresh_from_db()
    assert not reward.is_active
    assert Redemption.objects.get(pk=redemption.pk).reward == reward


@pytest.mark.parametrize(
    "url",
    ["/staff/rewards/", "/staff/rewards/new/", "/staff/rewards/{id}/", "/staff/rewards/{id}/delete/"],
)
def test_front_desk_cannot_manage_rewards(alpha, alpha_client, url):
    reward = RewardFactory()
    sign_in_staff(alpha_client, role="front_desk")

    assert alpha_client.get(url.format(id=reward.pk)).status_code == 403
    assert alpha_client.post(url.format(id=reward.pk), form_data(name="Hacked")).status_code == 403
    assert alpha_client.post(f"/staff/rewards/{reward.pk}/active/").status_code == 403
    reward.refresh_from_db()
    assert reward.is_active and reward.name != "Hacked"


def test_managers_see_rewards_in_the_navigation_and_front_desk_does_not(alpha, alpha_client):
    sign_in_staff(alpha_client, role="front_desk")
    desk_page = alpha_client.get("/staff/vouchers/").content.decode()
    sign_in_staff(alpha_client, role="manager")
    manager_page = alpha_client.get("/staff/vouchers/").content.decode()

    assert 'href="/staff/rewards/"' not in desk_page and 'href="/staff/vouchers/"' in desk_page
    assert 'href="/staff/rewards/"' in manager_page


def test_another_practices_reward_is_not_found(manager, alpha_client, beta):
    from django_tenants.utils import tenant_context

    with tenant_context(beta):
        theirs = RewardFactory(name="Beta reward")
    RewardFactory(name="Alpha reward")

    assert "Beta reward" not in alpha_client.get("/staff/rewards/").content.decode()
    if not Reward.objects.filter(pk=theirs.pk).exists():
        assert alpha_client.get(f"/staff/rewards/{theirs.pk}/").status_code == 404
