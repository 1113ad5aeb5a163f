from datetime import timedelta

from rewards.models import Redemption
from rewards.services import redeem_reward, reward_settings
from tests.factories import PatientFactory, RewardFactory, sign_in_staff


def test_the_owner_sets_how_long_vouchers_last(alpha_client, alpha):
    sign_in_staff(alpha_client, role="owner")
    response = alpha_client.post(
        "/staff/rewards/settings/", {"voucher_valid_days": "30", "refund_expired_vouchers": ""}
    )
    assert response.status_code == 302
    settings_row = reward_settings()
    assert (settings_row.voucher_valid_days, settings_row.refund_expired_vouchers) == (30, False)

    patient = PatientFactory()
    from loyalty.services import post_points

    post_points(account_id=patient.points_account.pk, delta=500, kind="bonus")
    redemption = redeem_reward(patient=patient, reward=RewardFactory(points_cost=100))
    assert abs((redemption.expires_at - redemption.created_at) - timedelta(days=30)) < timedelta(minutes=1)
    assert redemption.status == Redemption.Status.ISSUED


def test_bad_values_are_refused(alpha_client, alpha):
    sign_in_staff(alpha_client, role="owner")
    page = alpha_client.post("/staff/rewards/settings/", {"voucher_valid_days": "0"}).content.decode()
    assert "greater than or equal to 1" in page
    assert reward_settings().voucher_valid_days == 90


def test_only_the_owner_changes_voucher_settings(alpha_client, alpha):
    sign_in_staff(alpha_client, role="manager")
    assert alpha_client.get("/staff/rewards/settings/").status_code == 403
