"""POST /api/v1/rewards/{id}/redeem with an Idempotency-Key: a repeat answers the same voucher, spending nothing."""

import pytest
from django.db import IntegrityError
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import post_points
from rewards import services
from rewards.models import Redemption, Reward
from tests.conftest import host_of
from tests.factories import PatientFactory, RewardFactory

KEY = "3f1c7a9e-5b2d-4e8f-9a61-0c4d2b7e8f10"


@pytest.fixture
def api(alpha):
    return APIClient(HTTP_HOST=host_of("alpha"))


def patient_with(points: int):
    patient = PatientFactory(terms_accepted_at=timezone.now())
    post_points(account_id=patient.points_account.pk, delta=points, kind=LedgerEntry.Kind.BONUS)
    return patient


@pytest.fixture
def patient(api):
    patient = patient_with(1_000)
    api.force_login(patient.user)
    return patient


def redeem(api, reward: Reward, key: str | None = KEY):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return api.post(f"/api/v1/rewards/{reward.pk}/redeem", **headers)


def balance(patient) -> int:
    return PointsAccount.objects.get(patient=patient).balance


def test_a_repeat_with_the_same_key_answers_the_same_voucher_and_spends_nothing(api, patient):
    reward = RewardFactory(points_cost=300, stock=5)

    first = redeem(api, reward)
    again = redeem(api, reward)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    voucher = Redemption.objects.get(patient=patient)
    assert (voucher.pk, voucher.idempotency_key) == (first.json()["id"], KEY)
    assert balance(patient) == 700
    assert LedgerEntry.objects.filter(account__patient=patient, kind=LedgerEntry.Kind.REDEMPTION).count() == 1
    assert Reward.objects.get(pk=reward.pk).stock == 4


def test_the_same_key_for_another_reward_is_a_409(api, patient):
    facial, peel = RewardFactory(name="Facial", points_cost=300), RewardFactory(name="Peel", points_cost=200)
    voucher = redeem(api, facial).json()

    response = redeem(api, peel)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "idempotency_conflict"
    assert "Facial" in error["message"] and voucher["code"] in error["message"]
    assert Redemption.objects.filter(patient=patient).count() == 1
    assert balance(patient) == 700


def test_without_a_key_each_call_redeems(api, patient):
    reward = RewardFactory(points_cost=300)
    assert [redeem(api, reward, key=None).status_code for _ in range(2)] == [201, 201]
    assert Redemption.objects.filter(patient=patient, idempotency_key=None).count() == 2
    assert balance(patient) == 400


def test_a_new_key_is_a_new_redemption(api, patient):
    reward = RewardFactory(points_cost=300)
    assert redeem(api, reward, key="first").status_code == 201
    assert redeem(api, reward, key="second").status_code == 201
    assert balance(patient) == 400


def test_keys_are_each_patients_own(api, patient):
    reward = RewardFactory(points_cost=300)
    redeem(api, reward)
    other = patient_with(1_000)
    api.force_login(other.user)

    response = redeem(api, reward)

    assert response.status_code == 201
    assert Redemption.objects.get(patient=other).pk == response.json()["id"]
    assert balance(other) == 700


def test_a_refused_redemption_keeps_no_key(api, patient):
    reward = RewardFactory(points_cost=1_500)
    refused = redeem(api, reward)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "insufficient_points")

    post_points(account_id=patient.points_account.pk, delta=500, kind=LedgerEntry.Kind.BONUS)

    assert redeem(api, reward).status_code == 201
    assert balance(patient) == 0


@pytest.mark.parametrize(
    "key",
    ["", "   ", "k" * 101, "caf\u00e9", "tab\there", "line\x7f", "\x00"],
    ids=["empty", "blank", "too long", "not ascii", "tab", "delete", "nul"],
)
def test_a_key_that_is_not_1_to_100_printable_characters_is_a_400(api, patient, key):
    reward = RewardFactory(points_cost=300)

    response = redeem(api, reward, key=key)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "Idempotency-Key": ["Send 1 to 100 printable ASCII characters, e.g. a UUID."]
    }
    assert not Redemption.objects.exists()
    assert balance(patient) == 1_000


@pytest.mark.parametrize("key", ["k" * 100, "a", "order 17 / try #2", "~!@{}"])
def test_any_1_to_100_printable_characters_make_a_key(api, patient, key):
    reward = RewardFactory(points_cost=300)
    assert [redeem(api, reward, key=key).status_code for _ in range(2)] == [201, 200]
    assert Redemption.objects.get(patient=patient).idempotency_key == key


def test_the_database_holds_one_voucher_per_patient_and_key(alpha):
    patient = patient_with(1_000)
    reward = RewardFactory(points_cost=300)
    services.redeem_reward_once(patient=patient, reward=reward, idempotency_key=KEY)

    # Past the service's look-up (as a request that lost a race would be), the insert itself is refused, as
    # the key's own error rather than retried as a voucher code already taken.
    with pytest.raises(services.IdempotencyKeyTaken):
        services._create_redemption(reward=reward, patient=patient, actor=None, now=timezone.now(), idempotency_key=KEY)
    with pytest.raises(IntegrityError):
        Redemption.objects.create(
            reward=reward,
            patient=patient,
            points_cost=1,
            voucher_code="ZZZZ2222",
            expires_at=timezone.now(),
            idempotency_key=KEY,
        )


def test_the_schema_documents_the_header_and_the_repeat(alpha_client, alpha):
    schema = alpha_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/rewards/{reward_id}/redeem"]["post"]
    [header] = [parameter for parameter in operation["parameters"] if parameter["in"] == "header"]
    assert header["name"] == "Idempotency-Key" and header.get("required") is not True
    assert {"200", "201", "409"} <= set(operation["responses"])
