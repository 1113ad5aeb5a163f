from django.utils import timezone

from loyalty.models import LedgerEntry
from loyalty.services import LineIn, post_points, record_purchase
from tests.factories import CatalogItemFactory, PatientFactory, TierFactory


def signed_in_patient(client):
    patient = PatientFactory(terms_accepted_at=timezone.now())
    client.force_login(patient.user)
    return patient


def test_home_shows_balance_tier_progress_and_expiry(alpha_client, alpha):
    TierFactory(name="Gold", threshold_points=1000)
    patient = signed_in_patient(alpha_client)
    item = CatalogItemFactory(price_cents=25_000)
    record_purchase(patient=patient, lines=[LineIn(item=item, quantity=1, unit_price_cents=25_000)], source="desk")

    page = alpha_client.get("/").content.decode()
    assert "<strong>250</strong> points" in page
    assert "750 more points to reach <strong>Gold</strong>" in page
    assert "250 points expire on" in page
    assert "See all your points history" in page


def test_history_lists_every_entry(alpha_client, alpha):
    patient = signed_in_patient(alpha_client)
    post_points(account_id=patient.points_account.pk, delta=40, kind=LedgerEntry.Kind.BONUS, note="Google review")
    post_points(account_id=patient.points_account.pk, delta=-15, kind=LedgerEntry.Kind.ADJUSTMENT, note="Correction")
    page = alpha_client.get("/points/").content.decode()
    assert "Google review" in page and "+40" in page
    assert "Correction" in page and "−15" in page
    assert "<strong>25</strong> points" in page


def test_points_api_gives_balance_tier_and_next_tier(alpha_client, alpha):
    silver = TierFactory(name="Silver", threshold_points=100, multiplier_percent=110)
    TierFactory(name="Gold", threshold_points=1000)
    patient = signed_in_patient(alpha_client)
    item = CatalogItemFactory(price_cents=15_000)
    record_purchase(patient=patient, lines=[LineIn(item=item, quantity=1, unit_price_cents=15_000)], source="pos")

    body = alpha_client.get("/api/v1/me/points").json()
    assert body["balance"] == 150
    assert body["tier"]["name"] == silver.name
    assert body["next_tier"]["name"] == "Gold"
    assert body["points_to_next_tier"] == 850
    assert body["expires_at"] is not None


def test_ledger_api_is_paginated_and_only_the_patients_own(alpha_client, alpha):
    patient = signed_in_patient(alpha_client)
    other = PatientFactory()
    for _ in range(3):
        post_points(account_id=patient.points_account.pk, delta=5, kind=LedgerEntry.Kind.BONUS)
    post_points(account_id=other.points_account.pk, delta=999, kind=LedgerEntry.Kind.BONUS)
    body = alpha_client.get("/api/v1/me/ledger").json()
    assert body["count"] == 3
    assert [row["delta"] for row in body["results"]] == [5, 5, 5]
    assert body["results"][0]["balance_after"] == 15


def test_points_pages_need_a_patient(alpha_client, alpha):
    assert alpha_client.get("/points/")["Location"] == "/signin/?next=/points/"
    assert alpha_client.get("/api/v1/me/points").status_code in (401, 403)
