"""The desk checkout: choosing the patient, the points quote before confirming, one purchase per checkout,
the receipt, refunds by managers, and one practice's staff never reaching another's purchases."""

import re

import pytest
from django_tenants.utils import tenant_context

from accounts.models import AuditEvent
from loyalty.forms import new_desk_token
from loyalty.models import LedgerEntry, Purchase, Refund
from loyalty.services import LineIn, ensure_account, record_purchase
from practices.models import StaffMember
from tests.factories import CatalogItemFactory, PatientFactory, TierFactory
from tests.factories import sign_in_staff as sign_in

Role = StaffMember.Role


@pytest.fixture
def desk(alpha, alpha_client) -> StaffMember:
    return sign_in(alpha_client, Role.FRONT_DESK)


@pytest.fixture
def manager(alpha, alpha_client) -> StaffMember:
    return sign_in(alpha_client, Role.MANAGER)


@pytest.fixture
def patient(alpha):
    return PatientFactory(user__first_name="Ada", user__last_name="Lovelace")


@pytest.fixture
def botox(alpha):
    return CatalogItemFactory(name="Botox", category="Injectables", price_cents=12_000)


def checkout_data(patient, lines: list[dict], step: str = "refresh", token: str | None = None, **extra) -> dict:
    data = {
        "patient": patient.pk,
        "token": token or new_desk_token(),
        "payment_method": "card",
        "step": step,
        "lines-TOTAL_FORMS": len(lines),
        "lines-INITIAL_FORMS": 0,
        "lines-MIN_NUM_FORMS": 0,
        "lines-MAX_NUM_FORMS": 50,
        **extra,
    }
    for index, line in enumerate(lines):
        data.update({f"lines-{index}-{key}": value for key, value in line.items()})
    return data


def quoted_points(page: str) -> int:
    return int(re.search(r'data-quote-points="(\d+)"', page).group(1))


# ---------------------------------------------------------------- choosing the patient


def test_the_checkout_finds_the_patient_by_name(desk, alpha_client, patient):
    page = alpha_client.get("/staff/checkout/", {"q": "lovelace"}).content.decode()

    assert f'href="/staff/checkout/?patient={patient.pk}"' in page


def test_coming_from_the_patient_page_starts_with_that_patient_and_a_fresh_token(desk, alpha_client, patient):
    patient_page = alpha_client.get(f"/staff/patients/{patient.pk}/").content.decode()
    page = alpha_client.get("/staff/checkout/", {"patient": patient.pk}).content.decode()

    assert f"/staff/checkout/?patient={patient.pk}" in patient_page
    assert "Ada Lovelace" in page
    assert re.search(r'name="token" value="desk-[0-9a-f-]{36}"', page)
    # One line to start, and one button to confirm: no review step.
    assert 'name="lines-TOTAL_FORMS" value="1"' in page and "Line 1" in page and "Line 2" not in page
    assert "Confirm purchase" in page and "Review points" not in page


# ---------------------------------------------------------------- the quote before confirming


def test_the_page_shows_the_points_before_anything_is_recorded(desk, alpha_client, patient, botox):
    page = alpha_client.post(
        "/staff/checkout/", checkout_data(patient, [{"item": botox.pk, "quantity": 2}])
    ).content.decode()

    assert quoted_points(page) == 240  # 2 × $120 at 1 point per dollar
    assert "$240.00" in page
    assert "Confirm purchase" in page
    assert not Purchase.objects.exists()


def test_the_quote_applies_the_tier_multiplier(desk, alpha_client, patient, botox):
    account = ensure_account(patient=patient)
    account.tier = TierFactory(name="Gold", threshold_points=0, multiplier_percent=150)
    account.save()

    page = alpha_client.post(
        "/staff/checkout/", checkout_data(patient, [{"item": botox.pk, "quantity": 2}])
    ).content.decode()

    assert quoted_points(page) == 360
    assert "×1.5" in page


def test_the_htmx_partial_returns_the_quote_alone(desk, alpha_client, patient, botox):
    response = alpha_client.post(
        "/staff/checkout/quote/", checkout_data(patient, [{"item": botox.pk, "quantity": 1}]), HTTP_HX_REQUEST="true"
    )

    page = response.content.decode()
    assert quoted_points(page) == 120
    assert "<html" not in page


def test_an_edited_price_and_an_ad_hoc_line_are_quoted(desk, alpha_client, patient, botox):
    lines = [
        {"item": botox.pk, "quantity": 1, "price": "100.00"},
        {"name": "Gift card", "category": "Gifts", "price": "50", "quantity": 1},
    ]

    page = alpha_client.post("/staff/checkout/", checkout_data(patient, lines)).content.decode()

    assert quoted_points(page) == 100  # ad-hoc lines are in the total but earn nothing
    assert "$150.00" in page


def test_an_ad_hoc_line_needs_a_price_and_a_checkout_needs_a_line(desk, alpha_client, patient):
    no_price = alpha_client.post("/staff/checkout/", checkout_data(patient, [{"name": "Gift card"}])).content.decode()
    nothing = alpha_client.post("/staff/checkout/", checkout_data(patient, [{}])).content.decode()

    assert "Enter the price of an item that isn&#x27;t in the catalog." in no_price
    assert "Add at least one item to check out." in nothing


def test_add_a_line_posts_back_with_one_more_row(desk, alpha_client, patient, botox):
    page = alpha_client.post(
        "/staff/checkout/", checkout_data(patient, [{"item": botox.pk, "quantity": 1}], step="add_line")
    ).content.decode()

    assert 'name="lines-TOTAL_FORMS" value="2"' in page
    assert "Line 2" in page


# ---------------------------------------------------------------- confirming


def test_confirm_records_one_purchase_and_shows_the_receipt_with_the_new_balance(desk, alpha_client, patient, botox):
    response = alpha_client.post(
        "/staff/checkout/", checkout_data(patient, [{"item": botox.pk, "quantity": 2}], step="confirm"), follow=True
    )

    purchase = Purchase.objects.get()
    assert (purchase.source, purchase.points, purchase.total_cents) == ("desk", 240, 24_000)
    assert purchase.recorded_by == desk.user and purchase.payment_method == "card"
    assert LedgerEntry.objects.filter(purchase=purchase).count() == 1
    receipt = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/staff/purchases/{purchase.pk}/"
    assert "+240</strong> points earned" in receipt
    assert "<strong>240</strong> points" in receipt  # the balance now


def test_a_double_submit_records_one_purchase(desk, alpha_client, patient, botox, django_capture_on_commit_callbacks):
    data = checkout_data(patient, [{"item": botox.pk, "quantity": 1}], step="confirm")

    with django_capture_on_commit_callbacks(execute=True):
        first = alpha_client.post("/staff/checkout/", data)
        second = alpha_client.post("/staff/checkout/", data)

    assert Purchase.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert first["Location"] == second["Location"] == f"/staff/purchases/{Purchase.objects.get().pk}/"
    patient.points_account.refresh_from_db()
    assert patient.points_account.balance == 120


def test_a_forged_token_is_refused(desk, alpha_client, patient, botox):
    page = alpha_client.post(
        "/staff/checkout/", checkout_data(patient, [{"item": botox.pk}], step="confirm", token="pos-123")
    ).content.decode()

    assert "This form has expired" in page
    assert not Purchase.objects.exists()


# ---------------------------------------------------------------- refunds from the receipt


@pytest.fixture
def purchase(patient, botox):
    filler = CatalogItemFactory(name="Filler", price_cents=30_000)
    lines = [
        LineIn(quantity=2, unit_price_cents=12_000, item=botox),
        LineIn(quantity=1, unit_price_cents=30_000, item=filler),
    ]
    purchase, _ = record_purchase(patient=patient, lines=lines, source="desk")
    return purchase


def test_a_manager_refunds_one_line_after_confirming(manager, alpha_client, purchase):
    botox_line = purchase.lines.get(name="Botox")
    data = {"token": new_desk_token(), f"line_{botox_line.pk}": "1", "reason": "Unhappy with the result"}

    receipt = alpha_client.get(f"/staff/purchases/{purchase.pk}/").content.decode()
    confirm = alpha_client.post(f"/staff/purchases/{purchase.pk}/refund/", {**data, "step": "review"}).content.decode()
    assert not Refund.objects.exists()
    response = alpha_client.post(f"/staff/purchases/{purchase.pk}/refund/", {**data, "step": "confirm"}, follow=True)

    assert "Review the refund" in receipt
    assert "Refund $120.00 on receipt" in confirm and "1 × Botox" in confirm
    refund = Refund.objects.get()
    assert (refund.amount_cents, refund.points_taken, refund.reason) == (12_000, 120, "Unhappy with the result")
    assert "Refunded $120.00; 120 points taken back." in response.content.decode()
    patient = purchase.patient
    patient.points_account.refresh_from_db()
    assert patient.points_account.balance == 420


def test_a_refund_by_staff_is_in_the_audit_trail_once(manager, alpha_client, purchase):
    data = {"token": new_desk_token(), "everything": "on", "reason": "Wrong patient", "step": "confirm"}

    alpha_client.post(f"/staff/purchases/{purchase.pk}/refund/", data)
    alpha_client.post(f"/staff/purchases/{purchase.pk}/refund/", data)  # a double click

    refund = Refund.objects.get()
    event = AuditEvent.objects.get(action="purchase.refunded")
    assert (event.actor_id, event.target_id, event.note) == (manager.user_id, str(purchase.pk), "Wrong patient")
    assert event.after == {"refund": refund.pk, "amount_cents": 54_000, "points_taken": 540}


def test_the_front_desk_sees_no_refund_form_and_cannot_refund(desk, alpha_client, purchase):
    receipt = alpha_client.get(f"/staff/purchases/{purchase.pk}/").content.decode()
    response = alpha_client.post(
        f"/staff/purchases/{purchase.pk}/refund/", {"token": new_desk_token(), "everything": "on", "step": "confirm"}
    )

    assert "Review the refund" not in receipt
    assert response.status_code == 403
    assert not Refund.objects.exists()


# ---------------------------------------------------------------- isolation


def test_alpha_staff_cannot_open_betas_receipts(manager, alpha_client, beta):
    with tenant_context(beta):
        beta_item = CatalogItemFactory(name="Whitening")
        beta_purchase, _ = record_purchase(
            patient=PatientFactory(), lines=[LineIn(quantity=1, unit_price_cents=100, item=beta_item)], source="desk"
        )
    assert not Purchase.objects.filter(pk=beta_purchase.pk).exists()  # the id means nothing in alpha

    assert alpha_client.get(f"/staff/purchases/{beta_purchase.pk}/").status_code == 404
    assert alpha_client.post(f"/staff/purchases/{beta_purchase.pk}/refund/", {"everything": "on"}).status_code == 404
    with tenant_context(beta):
        assert not Refund.objects.exists()
