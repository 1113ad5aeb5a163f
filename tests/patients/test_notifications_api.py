"""The notifications API (/api/v1/notifications, /api/v1/push-subscriptions, /api/v1/push/public-key)."""

import re

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from patients import sms
from patients.models import Notification, PushSubscription
from tests.factories import PatientFactory, StaffMemberFactory
from tests.patients.notify_helpers import browser_keys, new_endpoint, signed_up_patient, subscribe


@pytest.fixture
def patient(alpha, alpha_client):
    """A patient of alpha, signed in (session) on alpha_client."""
    patient = signed_up_patient()
    alpha_client.force_login(patient.user)
    return patient


def post(client, path, data=None, **headers):
    return client.post(path, data if data is not None else {}, content_type="application/json", **headers)


# ---------------------------------------------------------------- who may call it


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/notifications"),
        ("post", "/api/v1/notifications/read"),
        ("post", "/api/v1/push-subscriptions"),
        ("delete", "/api/v1/push-subscriptions"),
    ],
)
def test_visitors_are_refused(alpha_client, alpha, method, path):
    response = getattr(alpha_client, method)(path, {}, content_type="application/json")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"


def test_staff_without_a_patient_record_are_refused(alpha_client, alpha):
    Notification.objects.create(patient=PatientFactory(), title="Private")
    alpha_client.force_login(StaffMemberFactory().user)

    response = alpha_client.get("/api/v1/notifications")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert post(alpha_client, "/api/v1/notifications/read").status_code == 403
    assert Notification.objects.get().read_at is None


# ---------------------------------------------------------------- the inbox


def test_the_list_holds_the_patients_own_notifications_newest_first(alpha_client, patient):
    read_at = timezone.now()
    older = Notification.objects.create(patient=patient, title="Welcome", read_at=read_at)
    newer = Notification.objects.create(patient=patient, title="120 points", body="Thanks!", url="/rewards/")
    Notification.objects.create(patient=PatientFactory(), title="Someone else's")

    body = alpha_client.get("/api/v1/notifications").json()

    assert body["count"] == 2
    assert body["next"] is None
    assert [item["id"] for item in body["results"]] == [newer.pk, older.pk]
    first = body["results"][0]
    assert set(first) == {"id", "title", "body", "url", "created_at", "read_at", "is_read"}
    assert (first["title"], first["body"], first["url"], first["is_read"], first["read_at"]) == (
        "120 points",
        "Thanks!",
        "/rewards/",
        False,
        None,
    )
    assert body["results"][1]["is_read"] is True


def test_the_list_is_paginated(alpha_client, patient):
    Notification.objects.bulk_create(Notification(patient=patient, title=f"Message {n}") for n in range(55))

    first = alpha_client.get("/api/v1/notifications").json()
    second = alpha_client.get("/api/v1/notifications", {"page": 2}).json()

    assert (first["count"], len(first["results"])) == (55, 50)
    assert first["next"].endswith("/api/v1/notifications?page=2")
    assert len(second["results"]) == 5


def test_marking_given_ids_read(alpha_client, patient):
    one = Notification.objects.create(patient=patient, title="One")
    Notification.objects.create(patient=patient, title="Two")

    response = post(alpha_client, "/api/v1/notifications/read", {"ids": [one.pk]})

    assert response.status_code == 200
    assert response.json() == {"marked": 1}
    assert [n.title for n in Notification.objects.filter(read_at__isnull=False)] == ["One"]


def test_marking_everything_read_with_an_empty_body(alpha_client, patient):
    Notification.objects.bulk_create(Notification(patient=patient, title=f"Message {n}") for n in range(3))

    assert post(alpha_client, "/api/v1/notifications/read", {}).json() == {"marked": 3}
    assert post(alpha_client, "/api/v1/notifications/read", {}).json() == {"marked": 0}


def test_another_patients_ids_are_ignored(alpha_client, patient):
    theirs = Notification.objects.create(patient=PatientFactory(), title="Private")

    response = post(alpha_client, "/api/v1/notifications/read", {"ids": [theirs.pk]})

    assert response.json() == {"marked": 0}
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_ids_that_are_not_numbers_are_a_400_naming_the_field(alpha_client, patient):
    response = post(alpha_client, "/api/v1/notifications/read", {"ids": ["all"]})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["ids"]


# ---------------------------------------------------------------- push subscriptions


def subscription_json(endpoint: str | None = None, **keys) -> dict:
    """What the browser's PushSubscription.toJSON() gives."""
    return {"endpoint": endpoint or new_endpoint(), "expirationTime": None, "keys": browser_keys() | keys}


def test_subscribing_this_browser(alpha_client, patient):
    data = subscription_json()

    response = post(alpha_client, "/api/v1/push-subscriptions", data, HTTP_USER_AGENT="Mozilla/5.0 (Android)")

    assert response.status_code == 201
    subscription = PushSubscription.objects.get()
    assert response.json() == {
        "id": subscription.pk,
        "endpoint": data["endpoint"],
        "created_at": response.json()["created_at"],
    }
    assert (subscription.patient, subscription.p256dh, subscription.auth, subscription.user_agent) == (
        patient,
        data["keys"]["p256dh"],
        data["keys"]["auth"],
        "Mozilla/5.0 (Android)",
    )


def test_subscribing_twice_keeps_one_subscription(alpha_client, patient):
    data = subscription_json()
    post(alpha_client, "/api/v1/push-subscriptions", data)
    again = subscription_json(data["endpoint"])

    assert post(alpha_client, "/api/v1/push-subscriptions", again).status_code == 201

    assert PushSubscription.objects.get().p256dh == again["keys"]["p256dh"]


def test_an_endpoint_on_a_private_address_is_a_400(alpha_client, patient):
    response = post(alpha_client, "/api/v1/push-subscriptions", subscription_json("https://10.0.0.5/push"))

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_push_subscription",
        "message": "This is not a web push address.",
        "fields": {"endpoint": ["This is not a web push address."]},
    }
    assert not PushSubscription.objects.exists()


def test_a_subscription_without_keys_is_a_400(alpha_client, patient):
    response = post(alpha_client, "/api/v1/push-subscriptions", {"endpoint": new_endpoint()})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["keys"]


def test_unsubscribing_this_browser(alpha_client, patient):
    subscription = subscribe(patient)

    response = alpha_client.delete(
        "/api/v1/push-subscriptions", {"endpoint": subscription.endpoint}, content_type="application/json"
    )

    assert response.status_code == 204
    assert not PushSubscription.objects.exists()


def test_unsubscribing_by_query_parameter(alpha_client, patient):
    subscription = subscribe(patient)

    response = alpha_client.delete(f"/api/v1/push-subscriptions?endpoint={subscription.endpoint}")

    assert response.status_code == 204
    assert not PushSubscription.objects.exists()


def test_another_patients_browser_cannot_be_unsubscribed(alpha_client, patient):
    theirs = subscribe(PatientFactory())

    response = alpha_client.delete(
        "/api/v1/push-subscriptions", {"endpoint": theirs.endpoint}, content_type="application/json"
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert PushSubscription.objects.filter(pk=theirs.pk).exists()


def test_the_public_key_is_served_to_anyone(alpha_client, alpha, settings):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "BPublicKey", "private"
    assert alpha_client.get("/api/v1/push/public-key").json() == {"public_key": "BPublicKey"}

    settings.VAPID_PUBLIC_KEY = ""
    assert alpha_client.get("/api/v1/push/public-key").json() == {"public_key": None}


# ---------------------------------------------------------------- the app client and other practices


def test_the_app_reads_the_inbox_with_its_session_token(alpha, django_capture_on_commit_callbacks):
    patient = signed_up_patient()
    Notification.objects.create(patient=patient, title="120 points")
    app = Client(HTTP_HOST="alpha.localhost")
    sms.reset_outbox()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(app, "/_allauth/app/v1/auth/code/request", {"phone": patient.phone})
    token = response.json()["meta"]["session_token"]
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)
    response = post(app, "/_allauth/app/v1/auth/code/confirm", {"code": code}, HTTP_X_SESSION_TOKEN=token)
    token = response.json()["meta"]["session_token"]

    response = Client(HTTP_HOST="alpha.localhost").get("/api/v1/notifications", HTTP_X_SESSION_TOKEN=token)

    assert response.status_code == 200
    assert [item["title"] for item in response.json()["results"]] == ["120 points"]


def test_a_beta_patient_never_sees_or_marks_alphas_notifications(alpha, beta, beta_client):
    alphas = Notification.objects.create(patient=PatientFactory(), title="Alpha's offer")
    with tenant_context(beta):
        patient = signed_up_patient()
        Notification.objects.create(patient=patient, title="Beta's reminder")
        beta_client.force_login(patient.user)

    listed = beta_client.get("/api/v1/notifications").json()
    marked = post(beta_client, "/api/v1/notifications/read", {"ids": [alphas.pk]}).json()

    assert [item["title"] for item in listed["results"]] == ["Beta's reminder"]
    assert marked == {"marked": 0}
    with tenant_context(alpha):
        alphas.refresh_from_db()
        assert alphas.read_at is None


def test_the_openapi_schema_describes_the_endpoints(alpha_client, alpha):
    schema = alpha_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    paths, components = schema["paths"], schema["components"]["schemas"]

    def request_properties(path: str) -> set[str]:
        ref = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return set(components[ref.rsplit("/", 1)[1]]["properties"])

    assert "get" in paths["/api/v1/notifications"]
    assert {"count", "next", "previous", "results"} <= set(components["PaginatedNotificationOutList"]["properties"])
    assert components["NotificationOut"]["properties"]["is_read"]["type"] == "boolean"
    assert request_properties("/api/v1/notifications/read") == {"ids"}
    assert request_properties("/api/v1/push-subscriptions") == {"endpoint", "keys"}
    assert "delete" in paths["/api/v1/push-subscriptions"]
    assert "get" in paths["/api/v1/push/public-key"]
