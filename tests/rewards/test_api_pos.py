"""The POS's voucher endpoints: look a voucher up by code, and use it once."""

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from loyalty.models import LedgerEntry
from loyalty.services import post_points
from rewards.models import Redemption
from rewards.services import cancel_redemption, redeem_reward
from tests.factories import PatientFactory, RewardFactory
from tests.loyalty.pos_helpers import new_key, pos_client


@pytest.fixture
def pos(alpha):
    return pos_client("alpha", new_key())


@pytest.fixture
def voucher(alpha) -> Redemption:
    patient = PatientFactory(user__first_name="Ada", user__last_name="Lovelace")
    post_points(account_id=patient.points_account.pk, delta=1000, kind=LedgerEntry.Kind.BONUS)
    return redeem_reward(patient=patient, reward=RewardFactory(name="Facial credit", credit_cents=5_000))


def test_it_looks_a_voucher_up_by_its_code(pos, voucher):
    body = pos.get(f"/api/v1/pos/vouchers/{voucher.voucher_code.lower()}").json()
    assert body["code"] == voucher.voucher_code
    assert body["reward"]["name"] == "Facial credit" and body["value"] == "$50.00 credit"
    assert body["patient"] == {"id": voucher.patient_id, "name": "Ada Lovelace"}
    assert (body["status"], body["is_usable"]) == ("issued", True)
    assert body["expires_at"]


def test_an_unknown_code_is_404(pos, alpha):
    response = pos.get("/api/v1/pos/vouchers/ZZZZZZZZ")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "voucher_not_found")


@pytest.mark.parametrize(
    "code",
    ["%00", "AB%00CD", "%00/", "%FF", "%C3%A9", "%E2%80%8B", "%F0%9F%98%80", "A" * 2000, "%25", "%20"],
    ids=["nul", "nul inside", "nul then slash", "invalid utf-8", "accent", "zero width", "emoji", "long", "%", "space"],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_code_no_voucher_can_have_is_404_with_the_error_body(pos, voucher, code, method):
    path = f"/api/v1/pos/vouchers/{code}"
    response = getattr(pos, method)(path if method == "get" else f"{path.rstrip('/')}/use")

    assert response.status_code == 404
    assert response.json()["error"]["code"] in ("voucher_not_found", "not_found")
    assert response.json()["error"]["message"]
    voucher.refresh_from_db()
    assert voucher.status == Redemption.Status.ISSUED


def test_using_a_voucher_is_idempotent(pos, voucher):
    first = pos.post(f"/api/v1/pos/vouchers/{voucher.voucher_code}/use")
    second = pos.post(f"/api/v1/pos/vouchers/{voucher.voucher_code}/use")

    assert (first.status_code, first.json()["used_now"], first.json()["status"]) == (200, True, "used")
    assert (second.status_code, second.json()["used_now"]) == (200, False)
    assert second.json()["used_at"] == first.json()["used_at"]
    assert second.json()["used_via"] == "pos"


def test_an_expired_voucher_cant_be_used(pos, voucher):
    with time_machine.travel(voucher.expires_at + timezone.timedelta(minutes=1)):
        response = pos.post(f"/api/v1/pos/vouchers/{voucher.voucher_code}/use")
        assert pos.get(f"/api/v1/pos/vouchers/{voucher.voucher_code}").json()["is_usable"] is False
    assert (response.status_code, response.json()["error"]["code"]) == (409, "voucher_not_usable")
    assert "expired" in response.json()["error"]["message"]
    assert Redemption.objects.get(pk=voucher.pk).status == Redemption.Status.ISSUED


def test_a_cancelled_voucher_cant_be_used(pos, voucher):
    cancel_redemption(redemption=voucher)
    response = pos.post(f"/api/v1/pos/vouchers/{voucher.voucher_code}/use")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "voucher_not_usable")


def test_a_key_is_needed(voucher):
    assert pos_client("alpha").get(f"/api/v1/pos/vouchers/{voucher.voucher_code}").status_code == 401
    assert (
        pos_client("alpha", "pk_live_nope").post(f"/api/v1/pos/vouchers/{voucher.voucher_code}/use").status_code == 401
    )


def test_a_patient_session_opens_nothing(pos, voucher):
    client = pos_client("alpha")
    client.force_login(voucher.patient.user)
    assert client.get(f"/api/v1/pos/vouchers/{voucher.voucher_code}").status_code == 401


def test_betas_key_cant_see_alphas_voucher(voucher, beta):
    with tenant_context(beta):
        beta_key = new_key()
    assert pos_client("beta", beta_key).get(f"/api/v1/pos/vouchers/{voucher.voucher_code}").status_code == 404
    assert pos_client("beta", beta_key).post(f"/api/v1/pos/vouchers/{voucher.voucher_code}/use").status_code == 404
    assert pos_client("alpha", beta_key).get(f"/api/v1/pos/vouchers/{voucher.voucher_code}").status_code == 401
    assert Redemption.objects.get(pk=voucher.pk).status == Redemption.Status.ISSUED
