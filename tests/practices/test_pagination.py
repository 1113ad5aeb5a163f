"""Every list of the API comes in pages whose size the client picks (`?page_size=`), up to a cap."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.models import LedgerEntry
from loyalty.services import post_points
from patients.models import Notification
from practices.pagination import MAX_PAGE_SIZE
from referrals.codes import code_for_patient
from referrals.services import record_signup
from tests.conftest import host_of
from tests.factories import PatientFactory


@pytest.fixture
def patient(alpha):
    return PatientFactory(terms_accepted_at=timezone.now())


@pytest.fixture
def api(patient):
    client = APIClient(HTTP_HOST=host_of("alpha"))
    client.force_login(patient.user)
    return client


@pytest.fixture
def inbox(patient):
    """MAX_PAGE_SIZE + 5 notifications: more than the largest page."""
    Notification.objects.bulk_create(
        Notification(patient=patient, title=f"Note {number}") for number in range(MAX_PAGE_SIZE + 5)
    )


def test_the_default_page_holds_50(api, inbox):
    body = api.get("/api/v1/notifications").json()
    assert (body["count"], len(body["results"])) == (MAX_PAGE_SIZE + 5, 50)
    assert "page=2" in body["next"]


def test_the_client_picks_the_page_size_and_the_next_link_keeps_it(api, inbox):
    first = api.get("/api/v1/notifications?page_size=7").json()
    assert len(first["results"]) == 7
    assert "page_size=7" in first["next"]

    second = api.get(first["next"]).json()
    assert len(second["results"]) == 7
    assert not {row["id"] for row in first["results"]} & {row["id"] for row in second["results"]}


@pytest.mark.parametrize("size", ["201", "100000", "9" * 40])
def test_a_page_size_above_the_cap_is_served_at_the_cap(api, inbox, size):
    body = api.get(f"/api/v1/notifications?page_size={size}").json()
    assert len(body["results"]) == MAX_PAGE_SIZE == 200
    assert body["next"] is not None


@pytest.mark.parametrize("size", ["abc", "", "0", "-3", "1.5", "1e3", "%C2%B2"])
def test_a_page_size_that_is_not_a_positive_whole_number_is_the_default(api, inbox, size):
    response = api.get(f"/api/v1/notifications?page_size={size}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 50


def test_the_points_history_takes_a_page_size(api, patient):
    for _ in range(4):
        post_points(account_id=patient.points_account.pk, delta=10, kind=LedgerEntry.Kind.BONUS)
    body = api.get("/api/v1/me/ledger?page_size=3").json()
    assert (body["count"], len(body["results"])) == (4, 3)


def test_the_friends_in_the_referrals_summary_take_a_page_size(api, patient):
    code = code_for_patient(patient)
    for _ in range(3):
        record_signup(patient=PatientFactory(), code=code.code, source="sms")
    referrals = api.get("/api/v1/me/referrals?page_size=2").json()["referrals"]
    assert (referrals["count"], len(referrals["results"])) == (3, 2)
    assert "page_size=2" in referrals["next"]
