"""The checkout at desk speed: the patient and the items found as they are typed, lines added on demand, the
points quoted as lines change, one confirmation, a printable receipt and a text or email receipt with consent."""

import pytest
from django.core import mail
from django.utils import timezone

from loyalty.models import Purchase
from patients.models import Message
from practices.models import BackgroundTask, StaffMember
from tests.factories import CatalogItemFactory, PatientFactory
from tests.factories import sign_in_staff as sign_in
from tests.loyalty.test_staff_checkout import checkout_data, quoted_points

Role = StaffMember.Role


@pytest.fixture
def desk(alpha, alpha_client) -> StaffMember:
    return sign_in(alpha_client, Role.FRONT_DESK)


@pytest.fixture
def patient(alpha):
    return PatientFactory(
        user__first_name="Ada", user__last_name="Lovelace", user__phone="+16285550107", user__email="ada@example.test"
    )


@pytest.fixture
def botox(alpha):
    return CatalogItemFactory(name="Botox", category="Injectables", price_cents=12_000)


def confirm(client, patient, lines, **extra):
    return client.post("/staff/checkout/", checkout_data(patient, lines, step="confirm", **extra))


# ---------------------------------------------------------------- finding, as it is typed


def test_typing_a_name_lists_the_patients_alone_for_htmx(desk, alpha_client, patient):
    response = alpha_client.get("/staff/checkout/", {"q": "Lov"}, HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert f'href="/staff/checkout/?patient={patient.pk}"' in page and "Ada Lovelace" in page
    assert "(628) 555-0107" in page
    assert "<html" not in page


def test_typing_an_item_suggests_the_matching_catalog_items(desk, alpha_client, botox):
    CatalogItemFactory(name="Filler", category="Injectables")
    CatalogItemFactory(name="Botox retired", is_active=False)

    page = alpha_client.get(
        "/staff/checkout/items/", {"line": "0", "lines-0-item_search": "bot"}, HTTP_HX_REQUEST="true"
    ).content.decode()

    assert f'hx-get="/staff/checkout/line/?line=0&amp;item={botox.pk}"' in page
    assert "$120.00" in page
    assert "Filler" not in page and "Botox retired" not in page


def test_choosing_a_suggestion_fills_the_line_and_asks_for_the_quote(desk, alpha_client, botox):
    response = alpha_client.get("/staff/checkout/line/", {"line": "2", "item": botox.pk}, HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert response["HX-Trigger"] == "checkout-changed"
    assert 'id="line-2"' in page and "Line 3" in page
    assert f'name="lines-2-item" value="{botox.pk}"' in page
    assert 'value="Botox · Injectables · $120.00"' in page
    assert "hx-swap-oob" not in page  # the number of lines stays


def test_adding_a_line_brings_one_empty_line_and_counts_it(desk, alpha_client):
    page = alpha_client.get(
        "/staff/checkout/line/", {"lines-TOTAL_FORMS": "1"}, HTTP_HX_REQUEST="true"
    ).content.decode()

    assert 'id="line-1"' in page and "Line 2" in page
    assert (
        '<input type="hidden" name="lines-TOTAL_FORMS" value="2" id="id_lines-TOTAL_FORMS" hx-swap-oob="true">' in page
    )


@pytest.mark.parametrize(
    "query",
    # "²" is a digit to str.isdigit() but no number to int().
    [{"line": "x"}, {"line": "50"}, {}, {"lines-TOTAL_FORMS": "-1"}, {"line": "²"}, {"lines-TOTAL_FORMS": "²"}],
)
def test_odd_line_numbers_are_refused_politely(desk, alpha_client, query):
    assert alpha_client.get("/staff/checkout/line/", query).status_code == 400
    assert alpha_client.get("/staff/checkout/items/", query).status_code == 400


def test_odd_patient_and_item_numbers_are_not_errors(desk, alpha_client, patient, botox):
    page = alpha_client.get("/staff/checkout/", {"patient": "²"})
    assert page.status_code == 200 and "Find the patient" in page.content.decode()
    for item in ("²", "9" * 30):
        line = alpha_client.get("/staff/checkout/line/", {"item": item, "lines-TOTAL_FORMS": "1"})
        assert line.status_code == 200 and 'id="line-1"' in line.content.decode()
    data = checkout_data(patient, [{"item": botox.pk}], step="add_line")
    data["lines-TOTAL_FORMS"] = "²"
    assert alpha_client.post("/staff/checkout/", data).status_code == 200


# ---------------------------------------------------------------- the typed name, without JavaScript


def test_a_typed_item_name_is_enough_to_check_out(desk, alpha_client, patient, botox):
    response = confirm(alpha_client, patient, [{"item_search": "botox", "quantity": 2}])

    purchase = Purchase.objects.get()
    assert response["Location"] == f"/staff/purchases/{purchase.pk}/"
    assert (purchase.points, purchase.total_cents) == (240, 24_000)
    assert purchase.lines.get().item == botox


def test_text_changed_after_choosing_decides_the_item(desk, alpha_client, patient, botox):
    filler = CatalogItemFactory(name="Filler", category="Injectables", price_cents=30_000)

    page = alpha_client.post(
        "/staff/checkout/quote/", checkout_data(patient, [{"item": botox.pk, "item_search": "filler"}])
    ).content.decode()

    assert quoted_points(page) == 300
    assert filler.name in page


def test_a_name_matching_several_items_asks_for_more(desk, alpha_client, patient, botox):
    CatalogItemFactory(name="Botox touch-up", category="Injectables", price_cents=5_000)

    page = confirm(alpha_client, patient, [{"item_search": "bot"}]).content.decode()

    assert "“bot” matches Botox · Injectables · $120.00, Botox touch-up · Injectables · $50.00: type more" in page
    assert not Purchase.objects.exists()


def test_an_unknown_item_name_says_what_to_do(desk, alpha_client, patient, botox):
    page = confirm(alpha_client, patient, [{"item_search": "microneedling"}]).content.decode()

    assert "No catalog item matches “microneedling”" in page
    assert "fill in “Not in the catalog”" in page
    assert not Purchase.objects.exists()


# ---------------------------------------------------------------- receipts


def test_the_printable_receipt_lists_the_items_total_points_and_balance(desk, alpha_client, patient, botox):
    confirm(alpha_client, patient, [{"item": botox.pk, "quantity": 2}])
    purchase = Purchase.objects.get()

    detail = alpha_client.get(f"/staff/purchases/{purchase.pk}/").content.decode()
    page = alpha_client.get(f"/staff/purchases/{purchase.pk}/print/").content.decode()

    assert f'href="/staff/purchases/{purchase.pk}/print/"' in detail
    assert f"Receipt #{purchase.pk}" in page and "Alpha Aesthetics" in page and "Ada Lovelace" in page
    assert "$240.00" in page and "<strong>240</strong>" in page and "<strong>240 points</strong>" in page
    assert "staff-nav" not in page and "data-print" in page


def test_a_text_receipt_goes_to_a_patient_who_agreed_to_texts(desk, alpha_client, patient, botox):
    patient.sms_consent, patient.sms_consent_at = True, timezone.now()
    patient.save()

    response = confirm(alpha_client, patient, [{"item": botox.pk}], text_receipt="on")

    purchase = Purchase.objects.get()
    message = Message.objects.get(patient=patient)
    assert message.purpose == Message.Purpose.TRANSACTIONAL and message.to == "+16285550107"
    assert f"Receipt #{purchase.pk}" in message.body and "Botox" in message.body and "Total $120.00" in message.body
    assert "You earned 120 points" in message.body and "balance: 120 points" in message.body
    follow = alpha_client.get(response["Location"]).content.decode()
    assert "The receipt is texted to (628) 555-0107." in follow


def test_no_text_receipt_without_consent_even_if_asked(desk, alpha_client, patient, botox):
    page = alpha_client.get("/staff/checkout/", {"patient": patient.pk}).content.decode()

    confirm(alpha_client, patient, [{"item": botox.pk}], text_receipt="on")

    assert "the patient hasn't agreed to texts" in page and "Text the receipt" not in page
    assert Purchase.objects.count() == 1 and not Message.objects.exists()


def test_an_email_receipt_is_queued_with_the_purchase_and_sent_once(
    desk, alpha_client, patient, botox, django_capture_on_commit_callbacks
):
    data = checkout_data(patient, [{"item": botox.pk}], step="confirm", email_receipt="on")

    with django_capture_on_commit_callbacks(execute=True):
        alpha_client.post("/staff/checkout/", data)
        alpha_client.post("/staff/checkout/", data)  # a double click

    purchase = Purchase.objects.get()
    assert BackgroundTask.objects.filter(key=f"receipt_email:{purchase.pk}").count() == 1
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ada@example.test"] and email.subject == "Your receipt from Alpha Aesthetics"
    assert f"Receipt #{purchase.pk}" in email.body and "Botox × 1: $120.00" in email.body
    assert "Points earned: 120" in email.body and "Your balance: 120 points" in email.body


def test_no_email_receipt_without_an_address(desk, alpha_client, botox):
    nobody = PatientFactory(user__email=None)

    confirm(alpha_client, nobody, [{"item": botox.pk}], email_receipt="on")

    assert Purchase.objects.count() == 1
    assert not BackgroundTask.objects.filter(key__startswith="receipt_email:").exists()
