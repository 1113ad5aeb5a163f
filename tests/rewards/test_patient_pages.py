"""The patient's rewards and vouchers pages."""

import re

import pytest
from django.utils import timezone

from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import post_points
from rewards.models import Redemption
from rewards.services import redeem_reward
from tests.factories import PatientFactory, RewardFactory, TierFactory


@pytest.fixture
def patient(alpha_client, alpha):
    patient = PatientFactory(terms_accepted_at=timezone.now())
    post_points(account_id=patient.points_account.pk, delta=1000, kind=LedgerEntry.Kind.BONUS)
    alpha_client.force_login(patient.user)
    return patient


def balance(patient) -> int:
    return PointsAccount.objects.get(patient=patient).balance


def token_of(page: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def test_it_shows_ready_close_and_locked_rewards_with_progress(alpha_client, patient):
    RewardFactory(name="Facial credit", points_cost=600)
    RewardFactory(name="Free peel", points_cost=1450)
    RewardFactory(name="VIP night", points_cost=100, min_tier=TierFactory(name="Gold"))
    RewardFactory(name="Hidden", points_cost=100, is_active=False)

    page = alpha_client.get("/rewards/").content.decode()

    ready, close, locked = page.index("Ready to redeem"), page.index("Almost there"), page.index("Unlock with")
    assert ready < page.index("Facial credit") < close < page.index("Free peel") < locked < page.index("VIP night")
    assert "450 more points to go" in page
    assert '<progress class="progress" max="100" value="68"' in page  # 1000 of 1450
    assert "<strong>Gold</strong> members" in page
    assert "Hidden" not in page


def test_the_rewards_page_needs_a_signed_in_patient(alpha_client, alpha):
    assert alpha_client.get("/rewards/")["Location"] == "/signin/?next=/rewards/"


def test_the_confirmation_shows_cost_and_balance_after(alpha_client, patient):
    reward = RewardFactory(name="Facial credit", points_cost=600)
    page = alpha_client.get(f"/rewards/{reward.pk}/").content.decode()
    assert "<strong>600</strong> points" in page
    assert "<dd>400 points</dd>" in page
    assert "Redeem</button>" in page


def test_redeeming_creates_a_voucher_and_goes_to_it(alpha_client, patient):
    reward = RewardFactory(points_cost=600)
    token = token_of(alpha_client.get(f"/rewards/{reward.pk}/").content.decode())

    response = alpha_client.post(f"/rewards/{reward.pk}/", {"token": token})

    voucher = Redemption.objects.get(patient=patient)
    assert response["Location"] == f"/vouchers/{voucher.pk}/"
    assert balance(patient) == 400


def test_a_double_submit_creates_one_voucher(alpha_client, patient):
    reward = RewardFactory(points_cost=100)
    token = token_of(alpha_client.get(f"/rewards/{reward.pk}/").content.decode())

    first = alpha_client.post(f"/rewards/{reward.pk}/", {"token": token})
    second = alpha_client.post(f"/rewards/{reward.pk}/", {"token": token}, follow=True)

    voucher = Redemption.objects.get(patient=patient)
    assert first["Location"] == second.redirect_chain[0][0] == f"/vouchers/{voucher.pk}/"
    assert "You already redeemed this reward" in second.content.decode()
    assert balance(patient) == 900


@pytest.mark.parametrize("token", ["", "x" * 500, "not a token!"])
def test_a_form_without_a_token_of_ours_redeems_nothing(alpha_client, patient, token):
    reward = RewardFactory(points_cost=100)

    response = alpha_client.post(f"/rewards/{reward.pk}/", {"token": token}, follow=True)

    assert response.status_code == 200
    assert "Something went wrong with the form" in response.content.decode()
    assert not Redemption.objects.exists() and balance(patient) == 1000


def test_a_refused_redemption_is_a_message_not_an_error(alpha_client, patient):
    reward = RewardFactory(points_cost=500, stock=1)
    token = token_of(alpha_client.get(f"/rewards/{reward.pk}/").content.decode())
    reward.stock = 0  # taken by someone else between the confirmation and the click
    reward.save()

    response = alpha_client.post(f"/rewards/{reward.pk}/", {"token": token}, follow=True)

    assert response.status_code == 200
    assert "is out of stock" in response.content.decode()
    assert not Redemption.objects.exists()
    assert balance(patient) == 1000


def test_a_reward_not_offered_is_a_404(alpha_client, patient):
    assert alpha_client.get(f"/rewards/{RewardFactory(is_active=False).pk}/").status_code == 404


def test_vouchers_page_lists_issued_first_with_their_qr(alpha_client, patient):
    used = redeem_reward(patient=patient, reward=RewardFactory(name="Old one", points_cost=100))
    Redemption.objects.filter(pk=used.pk).update(status=Redemption.Status.USED, used_at=timezone.now())
    ready = redeem_reward(patient=patient, reward=RewardFactory(name="New one", points_cost=100))

    page = alpha_client.get("/vouchers/").content.decode()

    assert page.index("New one") < page.index("Old one")
    assert ready.voucher_code in page and used.voucher_code in page
    assert page.count("<svg") == 1 and f'aria-label="QR code of voucher {ready.voucher_code}"' in page


def test_a_voucher_page_shows_a_large_qr_and_the_code(alpha_client, patient):
    voucher = redeem_reward(patient=patient, reward=RewardFactory())
    page = alpha_client.get(f"/vouchers/{voucher.pk}/").content.decode()
    assert "<svg" in page and voucher.voucher_code in page
    assert "Cancel and get my points back" in page


def test_another_patients_voucher_is_a_404(alpha_client, patient):
    other = PatientFactory()
    post_points(account_id=other.points_account.pk, delta=500, kind=LedgerEntry.Kind.BONUS)
    voucher = redeem_reward(patient=other, reward=RewardFactory())
    assert alpha_client.get(f"/vouchers/{voucher.pk}/").status_code == 404
    assert alpha_client.post(f"/vouchers/{voucher.pk}/cancel/").status_code == 404
    assert Redemption.objects.get(pk=voucher.pk).status == Redemption.Status.ISSUED


def test_cancelling_asks_first_then_returns_the_points(alpha_client, patient):
    voucher = redeem_reward(patient=patient, reward=RewardFactory(points_cost=300))

    confirm = alpha_client.get(f"/vouchers/{voucher.pk}/cancel/").content.decode()
    assert "Cancel this voucher?" in confirm and "<strong>300</strong> points" in confirm
    response = alpha_client.post(f"/vouchers/{voucher.pk}/cancel/", follow=True)

    assert "300 points are back with you" in response.content.decode()
    assert balance(patient) == 1000
    assert Redemption.objects.get(pk=voucher.pk).status == Redemption.Status.CANCELLED


def test_cancelling_twice_says_why_it_cant(alpha_client, patient):
    voucher = redeem_reward(patient=patient, reward=RewardFactory(points_cost=300))
    alpha_client.post(f"/vouchers/{voucher.pk}/cancel/")
    response = alpha_client.post(f"/vouchers/{voucher.pk}/cancel/", follow=True)
    assert "is cancelled: it can&#x27;t be cancelled" in response.content.decode()
    assert balance(patient) == 1000


def test_the_nav_links_to_rewards(alpha_client, patient):
    assert '<a href="/rewards/">Rewards</a>' in alpha_client.get("/points/").content.decode()
