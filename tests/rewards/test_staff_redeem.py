"""Redeeming a reward for a patient from the staff patient page, and the rewards panel on that page."""

import re

import pytest
from django_tenants.utils import tenant_context

from loyalty.models import LedgerEntry
from loyalty.services import post_points
from patients.models import Patient
from rewards.models import Redemption
from rewards.services import redeem_reward, use_voucher
from tests.factories import PatientFactory, RewardFactory, TierFactory, sign_in_staff


@pytest.fixture
def desk(alpha, alpha_client):
    return sign_in_staff(alpha_client, role="front_desk")


@pytest.fixture
def patient(alpha):
    patient = PatientFactory(user__first_name="Dana", user__last_name="Smith")
    post_points(account_id=patient.points_account.pk, delta=1000, kind=LedgerEntry.Kind.BONUS)
    return patient


def balance(patient) -> int:
    patient.points_account.refresh_from_db()
    return patient.points_account.balance


def redeem_url(patient) -> str:
    return f"/staff/patients/{patient.pk}/redeem/"


def test_the_patient_page_lists_vouchers_and_offers_active_rewards(desk, alpha_client, patient):
    used = redeem_reward(patient=patient, reward=RewardFactory(name="Used one", points_cost=100))
    use_voucher(code=used.voucher_code, actor=desk.user)
    issued = redeem_reward(patient=patient, reward=RewardFactory(name="Fresh one", points_cost=100))
    RewardFactory(name="Switched off", is_active=False)

    page = alpha_client.get(f"/staff/patients/{patient.pk}/").content.decode()

    assert "Rewards and vouchers" in page
    assert used.voucher_code in page and issued.voucher_code in page
    assert "Ready to use until" in page and "Used " in page
    assert f'action="{redeem_url(patient)}"' in page
    assert "Fresh one · $50.00 credit · 100 points" in page
    assert "Switched off" not in page


def test_redeeming_asks_to_confirm_with_the_cost_and_balance_after(desk, alpha_client, patient):
    reward = RewardFactory(name="Facial", points_cost=600)

    page = alpha_client.post(redeem_url(patient), {"reward": reward.pk}).content.decode()

    assert "Redeem Facial for Dana Smith?" in page
    assert "<dd>600 points</dd>" in page and "<dd>1,000 points</dd>" in page
    assert "<dd><strong>400</strong> points</dd>" in page
    assert not Redemption.objects.exists() and balance(patient) == 1000


def test_confirming_issues_the_voucher(desk, alpha_client, patient):
    reward = RewardFactory(name="Facial", points_cost=600)

    response = alpha_client.post(redeem_url(patient), {"reward": reward.pk, "step": "confirm"}, follow=True)

    redemption = Redemption.objects.get()
    assert (redemption.patient, redemption.reward, redemption.redeemed_by) == (patient, reward, desk.user)
    assert balance(patient) == 400
    assert response.redirect_chain[-1][0] == f"/staff/patients/{patient.pk}/"
    assert f"Voucher {redemption.voucher_code} issued to Dana Smith: Facial for 600 points." in (
        response.content.decode()
    )


def test_confirming_twice_issues_one_voucher(desk, alpha_client, patient):
    reward = RewardFactory(name="Facial", points_cost=300)
    preview = alpha_client.post(redeem_url(patient), {"reward": reward.pk}).content.decode()
    token = re.search(r'name="token" value="([^"]+)"', preview).group(1)
    confirm = {"reward": reward.pk, "step": "confirm", "token": token}

    alpha_client.post(redeem_url(patient), confirm)
    again = alpha_client.post(redeem_url(patient), confirm, follow=True)

    redemption = Redemption.objects.get()
    assert balance(patient) == 700
    assert f"Already redeemed: voucher {redemption.voucher_code} was issued." in again.content.decode()
    # A new preview is a new form: redeeming again is deliberate, and allowed.
    preview = alpha_client.post(redeem_url(patient), {"reward": reward.pk}).content.decode()
    token = re.search(r'name="token" value="([^"]+)"', preview).group(1)
    alpha_client.post(redeem_url(patient), {**confirm, "token": token})
    assert Redemption.objects.count() == 2 and balance(patient) == 400


def test_not_enough_points_says_how_many_more(desk, alpha_client, patient):
    reward = RewardFactory(points_cost=1250)

    preview = alpha_client.post(redeem_url(patient), {"reward": reward.pk})
    confirmed = alpha_client.post(redeem_url(patient), {"reward": reward.pk, "step": "confirm"})

    for response in (preview, confirmed):
        assert response.status_code == 200
        assert "(250 more needed)" in response.content.decode()
    assert not Redemption.objects.exists() and balance(patient) == 1000


@pytest.mark.parametrize(
    ("reward_kwargs", "message"),
    [
        ({"stock": 0}, "is out of stock"),
        ({"min_tier": "gold"}, "is for Gold members and above"),
        ({"per_patient_limit": 1, "redeemed_before": True}, "the most allowed"),
    ],
)
def test_refusals_are_shown_not_raised(desk, alpha_client, patient, reward_kwargs, message):
    redeemed_before = reward_kwargs.pop("redeemed_before", False)
    if reward_kwargs.get("min_tier") == "gold":
        reward_kwargs["min_tier"] = TierFactory(name="Gold", threshold_points=5000)
    reward = RewardFactory(name="Limited", points_cost=100, **reward_kwargs)
    if redeemed_before:
        redeem_reward(patient=patient, reward=reward)

    response = alpha_client.post(redeem_url(patient), {"reward": reward.pk, "step": "confirm"})

    assert response.status_code == 200
    assert message in response.context["form"].errors["reward"][0]
    assert Redemption.objects.count() == (1 if redeemed_before else 0)


def test_a_reward_switched_off_meanwhile_is_refused(desk, alpha_client, patient):
    reward = RewardFactory(is_active=False)

    response = alpha_client.post(redeem_url(patient), {"reward": reward.pk, "step": "confirm"})

    assert "no longer available" in response.content.decode()
    assert not Redemption.objects.exists()


def test_redeeming_needs_a_post(desk, alpha_client, patient):
    assert alpha_client.get(redeem_url(patient)).status_code == 405


def test_another_practices_patient_is_not_found(desk, alpha_client, patient, beta):
    with tenant_context(beta):
        theirs = PatientFactory()
        reward = RewardFactory()
    ours = set(Patient.objects.values_list("pk", flat=True))

    response = alpha_client.post(redeem_url(theirs), {"reward": reward.pk, "step": "confirm"})

    if theirs.pk not in ours:
        assert response.status_code == 404
    with tenant_context(beta):
        assert not Redemption.objects.exists()
