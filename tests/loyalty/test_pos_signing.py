"""Signed POS requests: a signature made with the key's signing secret covers one method, path, time and body."""

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.conf import settings

from loyalty.models import Purchase, Refund
from practices.api_keys import hash_key, sign, sign_legacy, string_to_sign
from practices.models import ApiKey
from tests.factories import CatalogItemFactory, PatientFactory
from tests.loyalty.pos_helpers import new_key, new_key_and_secret, pos_client, post_json, signature_headers

PURCHASES = "/api/v1/pos/purchases"
PHONE = "+14155550123"
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def patient(alpha):
    return PatientFactory(user__phone=PHONE)


@pytest.fixture
def botox(alpha):
    return CatalogItemFactory(name="Botox", external_id="SKU-BOTOX", price_cents=12_000)


@pytest.fixture
def key_and_secret(alpha) -> tuple[str, str]:
    return new_key_and_secret()


@pytest.fixture
def pos(key_and_secret):
    return pos_client("alpha", key_and_secret[0])


@pytest.fixture
def secret(key_and_secret) -> str:
    return key_and_secret[1]


def sale(transaction_id: str = "T-1") -> dict:
    return {"transaction_id": transaction_id, "patient": {"phone": PHONE}, "lines": [{"item_id": "SKU-BOTOX"}]}


def error(response) -> dict:
    return response.json()["error"]


def send(client, method: str, path: str, body: bytes, headers: dict):
    return client.generic(method, path, body, content_type="application/json", **headers)


# ---------------------------------------------------------------- accepted


def test_a_new_key_comes_with_a_signing_secret_of_its_own(alpha):
    key_a, secret_a = new_key_and_secret()
    key_b, secret_b = new_key_and_secret()

    assert secret_a.startswith("pk_sign_") and len(secret_a) > 40
    assert len({key_a, secret_a, key_b, secret_b}) == 4
    assert ApiKey.objects.get(key_hash=hash_key(key_a)).signing_secret == secret_a


def test_a_correctly_signed_purchase_is_recorded(pos, secret, patient, botox):
    response = post_json(pos, PURCHASES, sale(), signed_with=secret)

    assert response.status_code == 201
    assert Purchase.objects.get().external_id == "T-1"


def test_a_signed_get_covers_its_query_string(pos, secret, patient):
    path = "/api/v1/pos/patients?phone=%2B14155550123"

    response = pos.get(path, **signature_headers(secret, "GET", path))

    assert response.status_code == 200
    assert response.json()["id"] == patient.pk


@pytest.mark.parametrize("seconds", [-299, 299])
def test_a_few_minutes_of_clock_drift_are_accepted(pos, secret, patient, botox, seconds):
    body = json.dumps(sale()).encode()
    with time_machine.travel(NOON, tick=False):
        headers = signature_headers(secret, "POST", PURCHASES, body, timestamp=int(NOON.timestamp()) + seconds)
        response = send(pos, "POST", PURCHASES, body, headers)

    assert response.status_code == 201


# ---------------------------------------------------------------- refused


@pytest.fixture
def two_purchases(pos, secret, patient, botox) -> list[int]:
    return [post_json(pos, PURCHASES, sale(f"T-{n}")).json()["id"] for n in (1, 2)]


def test_a_signature_replayed_on_another_endpoint_is_refused(pos, secret, two_purchases):
    first, second = two_purchases
    body = b'{"reason": "Changed her mind"}'
    headers = signature_headers(secret, "POST", f"{PURCHASES}/{first}/refunds", body)

    replayed = send(pos, "POST", f"{PURCHASES}/{second}/refunds", body, headers)

    assert replayed.status_code == 401
    assert error(replayed)["code"] == "bad_signature"
    assert "path" in error(replayed)["message"]
    assert not Refund.objects.exists()
    assert send(pos, "POST", f"{PURCHASES}/{first}/refunds", body, headers).status_code == 201


@pytest.mark.parametrize(
    ("signed", "sent"),
    [
        (("GET", "/api/v1/pos/patients?phone=%2B14155550123"), ("POST", "/api/v1/pos/patients?phone=%2B14155550123")),
        (("GET", "/api/v1/pos/patients?phone=%2B14155550123"), ("GET", "/api/v1/pos/patients?phone=%2B14155550199")),
        (("GET", "/api/v1/pos/patients?phone=%2B14155550123"), ("GET", "/api/v1/pos/patients")),
        (("POST", PURCHASES), ("PUT", PURCHASES)),
    ],
    ids=["another method", "another query", "no query", "a sale sent as PUT"],
)
def test_a_signature_for_another_method_or_path_is_refused(pos, secret, patient, signed, sent):
    headers = signature_headers(secret, *signed, b"")

    response = send(pos, *sent, b"", headers)

    assert response.status_code == 401
    assert error(response)["code"] == "bad_signature"


def test_a_signature_of_another_body_is_refused(pos, secret, patient, botox):
    headers = signature_headers(secret, "POST", PURCHASES, json.dumps(sale("T-1")).encode())

    response = send(pos, "POST", PURCHASES, json.dumps(sale("T-2")).encode(), headers)

    assert response.status_code == 401
    assert error(response)["code"] == "bad_signature"
    assert not Purchase.objects.exists()


def test_a_signature_made_with_another_secret_is_refused(pos, patient, botox):
    response = post_json(pos, PURCHASES, sale(), signed_with="pk_sign_not-this-keys-secret")

    assert response.status_code == 401
    assert error(response)["code"] == "bad_signature"
    assert not Purchase.objects.exists()


def test_a_key_with_a_secret_refuses_the_older_body_only_signature(key_and_secret, pos, patient, botox):
    raw_key, _ = key_and_secret
    body = json.dumps(sale()).encode()

    response = send(pos, "POST", PURCHASES, body, {"HTTP_X_SIGNATURE": sign_legacy(raw_key, body)})

    assert response.status_code == 401
    assert error(response)["code"] == "bad_signature"
    assert "v1=" in error(response)["message"]
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("seconds", [-301, 301, -86_400])
def test_a_stale_or_future_timestamp_is_refused(pos, secret, patient, botox, seconds):
    body = json.dumps(sale()).encode()
    with time_machine.travel(NOON, tick=False):
        headers = signature_headers(secret, "POST", PURCHASES, body, timestamp=int(NOON.timestamp()) + seconds)
        response = send(pos, "POST", PURCHASES, body, headers)

    assert response.status_code == 401
    assert error(response) == {
        "code": "signature_expired",
        "message": f"X-Timestamp is more than 5 minutes away from our clock (it is {int(NOON.timestamp())} here): "
        "sign each request as it is sent, and check the POS's clock.",
        "fields": {},
    }
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("timestamp", [None, "", "soon", "1.7e9", "+1767225600", "9" * 40, "１７６７２２５６００"])
def test_a_missing_or_unreadable_timestamp_is_refused(pos, secret, patient, timestamp):
    path = "/api/v1/pos/patients?phone=%2B14155550123"
    headers = signature_headers(secret, "GET", path)
    if timestamp is None:
        del headers["HTTP_X_TIMESTAMP"]
    else:
        headers["HTTP_X_TIMESTAMP"] = timestamp

    response = pos.get(path, **headers)

    assert response.status_code == 401
    assert error(response)["code"] == "invalid_timestamp"


def test_a_key_that_requires_signatures_refuses_unsigned_requests(alpha, patient, botox):
    raw_key, secret = new_key_and_secret(require_signature=True)
    client = pos_client("alpha", raw_key)

    unsigned = post_json(client, PURCHASES, sale("T-1"))
    signed = post_json(client, PURCHASES, sale("T-2"), signed_with=secret)

    assert unsigned.status_code == 401
    assert error(unsigned)["code"] == "signature_required"
    assert "X-Timestamp" in error(unsigned)["message"]
    assert signed.status_code == 201
    assert list(Purchase.objects.values_list("external_id", flat=True)) == ["T-2"]


# ---------------------------------------------------------------- keys made before signing secrets


@pytest.fixture
def older_key(alpha) -> str:
    """A key as created before signing secrets existed (the migration left theirs empty)."""
    raw_key = new_key(require_signature=True)
    ApiKey.objects.filter(key_hash=hash_key(raw_key)).update(signing_secret="")
    return raw_key


def test_an_older_key_keeps_its_body_signature(older_key, patient, botox):
    client = pos_client("alpha", older_key)
    body = json.dumps(sale()).encode()

    signed = send(client, "POST", PURCHASES, body, {"HTTP_X_SIGNATURE": sign_legacy(older_key, body)})
    unsigned = post_json(client, PURCHASES, sale("T-2"))
    wrong = send(client, "POST", PURCHASES, body, {"HTTP_X_SIGNATURE": sign_legacy("pk_live_other", body)})

    assert signed.status_code == 201
    assert (unsigned.status_code, error(unsigned)["code"]) == (401, "signature_required")
    assert (wrong.status_code, error(wrong)["code"]) == (401, "bad_signature")


# ---------------------------------------------------------------- the worked example of docs/api.md


def documented_example() -> dict:
    """The values of the worked example in docs/api.md, read from the page itself."""
    page = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text()
    section = page.split("### Signing requests", 1)[1].split("\n## ", 1)[0]
    request = re.search(r"```http\n(.*?)\n```", section, re.S).group(1)
    head, body = request.split("\n\n", 1)
    request_line, *header_lines = head.split("\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    method, path, _ = request_line.split(" ")
    return {
        "secret": re.search(r"\| signing secret \| `([^`]+)` \|", section).group(1),
        "body_sha256": re.search(r"\| SHA-256 of the body \| `([0-9a-f]{64})` \|", section).group(1),
        "string_to_sign": re.search(r"```text\n(.*?)\n```", section, re.S).group(1),
        "python": re.search(r"```python\n(.*?)\n```", section, re.S).group(1),
        "method": method,
        "path": path,
        "headers": headers,
        "body": body.encode(),
    }


def test_the_documented_example_is_what_the_server_computes():
    example = documented_example()
    timestamp = example["headers"]["X-Timestamp"]
    request = {"timestamp": timestamp, "method": example["method"], "path": example["path"], "body": example["body"]}

    assert hashlib.sha256(example["body"]).hexdigest() == example["body_sha256"]
    assert string_to_sign(**request) == example["string_to_sign"]
    assert sign(secret=example["secret"], **request) == example["headers"]["X-Signature"]
    assert datetime.fromtimestamp(int(timestamp), UTC) == datetime(2026, 1, 1, tzinfo=UTC)


def test_the_documented_python_signs_like_the_server():
    example = documented_example()
    namespace: dict = {}
    exec(example["python"], namespace)  # noqa: S102 (the snippet integrators copy, from our own docs)

    with time_machine.travel(int(example["headers"]["X-Timestamp"]), tick=False):
        headers = namespace["signed_headers"](example["secret"], example["method"], example["path"], example["body"])

    assert headers == {key: example["headers"][key] for key in ("X-Timestamp", "X-Signature")}


def test_the_documented_request_is_accepted_at_its_time(alpha):
    example = documented_example()
    raw_key = example["headers"]["Authorization"].removeprefix("Bearer ")
    ApiKey.objects.create(
        name="Docs", prefix=raw_key[:12], key_hash=hash_key(raw_key), signing_secret=example["secret"]
    )
    PatientFactory(user__phone="+14155550142")
    CatalogItemFactory(external_id="BTX-1", price_cents=12_000)
    headers = {
        "HTTP_AUTHORIZATION": example["headers"]["Authorization"],
        "HTTP_X_TIMESTAMP": example["headers"]["X-Timestamp"],
        "HTTP_X_SIGNATURE": example["headers"]["X-Signature"],
    }

    with time_machine.travel(int(example["headers"]["X-Timestamp"]) + 60, tick=False):
        accepted = send(pos_client("alpha"), example["method"], example["path"], example["body"], headers)
    late = send(pos_client("alpha"), example["method"], example["path"], example["body"], headers)

    assert accepted.status_code == 201
    assert accepted.json()["transaction_id"] == "T-10293"
    assert (late.status_code, error(late)["code"]) == (401, "signature_expired")
