"""Staff catalog pages: adding and editing items, prices in dollars, deactivate versus delete, CSV import."""

import pytest

from loyalty.models import CatalogItem
from loyalty.services import LineIn, record_purchase
from practices.models import StaffMember
from tests.factories import STAFF_PASSWORD, CatalogItemFactory, PatientFactory, StaffMemberFactory

Role = StaffMember.Role


@pytest.fixture
def manager(alpha, alpha_client) -> StaffMember:
    member = StaffMemberFactory(role=Role.MANAGER)
    alpha_client.post("/staff/login/", {"login": member.user.email, "password": STAFF_PASSWORD})
    return member


def item_data(**changes) -> dict:
    data = {
        "name": "Botox",
        "category": "Injectables",
        "kind": "service",
        "price": "120.00",
        "earning": "per_dollar",
        "points_per_dollar": "",
        "fixed_points": "",
        "external_id": "",
        "is_active": "on",
    }
    return {**data, **changes}


def test_a_manager_adds_an_item_with_its_price_in_dollars(manager, alpha_client):
    response = alpha_client.post("/staff/catalog/new/", item_data(price="1,250.50", external_id="POS-1"), follow=True)

    item = CatalogItem.objects.get(name="Botox")
    assert (item.price_cents, item.external_id, item.points_per_dollar, item.is_active) == (125050, "POS-1", None, True)
    assert "“Botox” was added to the catalog." in response.content.decode()
    assert "$1,250.50" in response.content.decode()


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("-5", "The amount can&#x27;t be negative."),
        ("12.345", "Use at most two decimals (cents), like 120.50."),
        ("twelve", "Enter an amount in dollars, like 120.00."),
        ("", "Enter the price, e.g. 120.00."),
    ],
)
def test_a_bad_price_is_refused_with_a_clear_error(manager, alpha_client, price, message):
    response = alpha_client.post("/staff/catalog/new/", item_data(price=price))

    assert message in response.content.decode()
    assert not CatalogItem.objects.exists()


def test_a_duplicate_pos_id_is_refused(manager, alpha_client):
    CatalogItemFactory(name="Filler", external_id="POS-9")

    response = alpha_client.post("/staff/catalog/new/", item_data(external_id="POS-9"))

    assert "“Filler” already has the POS id POS-9." in response.content.decode()
    assert CatalogItem.objects.count() == 1


def test_fixed_earning_needs_its_points(manager, alpha_client):
    response = alpha_client.post("/staff/catalog/new/", item_data(earning="fixed", fixed_points=""))

    assert "Enter the points each item earns" in response.content.decode()


def test_editing_shows_the_price_in_dollars_and_saves_changes(manager, alpha_client):
    item = CatalogItemFactory(name="Peel", price_cents=9950, external_id="P-1")

    form = alpha_client.get(f"/staff/catalog/{item.pk}/").content.decode()
    alpha_client.post(
        f"/staff/catalog/{item.pk}/",
        item_data(name="Peel", price="80", earning="fixed", fixed_points="40", external_id="P-1"),
    )

    assert 'value="99.50"' in form
    item.refresh_from_db()
    assert (item.price_cents, item.earning, item.fixed_points) == (8000, "fixed", 40)


def test_search_and_the_active_filter(manager, alpha_client):
    CatalogItemFactory(name="Hydrafacial", category="Facials")
    CatalogItemFactory(name="Lip filler", category="Injectables", is_active=False)

    by_category = alpha_client.get("/staff/catalog/", {"q": "facials"}).content.decode()
    inactive = alpha_client.get("/staff/catalog/", {"status": "inactive"}).content.decode()

    assert "Hydrafacial" in by_category and "Lip filler" not in by_category
    assert "Lip filler" in inactive and "Hydrafacial" not in inactive


def test_the_front_desk_cannot_open_the_catalog(alpha, alpha_client):
    member = StaffMemberFactory(role=Role.FRONT_DESK)
    alpha_client.post("/staff/login/", {"login": member.user.email, "password": STAFF_PASSWORD})

    assert alpha_client.get("/staff/catalog/").status_code == 403


# ---------------------------------------------------------------- deactivate versus delete


def test_an_item_never_purchased_is_deleted_after_confirmation(manager, alpha_client):
    item = CatalogItemFactory(name="Unused")

    confirm = alpha_client.get(f"/staff/catalog/{item.pk}/delete/").content.decode()
    alpha_client.post(f"/staff/catalog/{item.pk}/delete/")

    assert "will be deleted for good" in confirm
    assert not CatalogItem.objects.filter(pk=item.pk).exists()


def test_an_item_on_a_past_purchase_is_deactivated_not_deleted(manager, alpha_client):
    item = CatalogItemFactory(name="Sold")
    record_purchase(
        patient=PatientFactory(), lines=[LineIn(quantity=1, unit_price_cents=100, item=item)], source="desk"
    )

    confirm = alpha_client.get(f"/staff/catalog/{item.pk}/delete/").content.decode()
    response = alpha_client.post(f"/staff/catalog/{item.pk}/delete/", follow=True)

    assert "it will be deactivated instead" in confirm
    item.refresh_from_db()
    assert item.is_active is False
    assert "was deactivated" in response.content.decode()


# ---------------------------------------------------------------- CSV import


def upload(client, text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile("catalog.csv", text.encode(), content_type="text/csv")
    return client.post("/staff/catalog/import/", {"file": file})


CSV = (
    "name,category,kind,price,external_id,earning,points_per_dollar,fixed_points,active\n"
    "Botox,Injectables,service,120.00,B-1,per_dollar,2,,yes\n"
    "Serum,Skincare,product,45.5,,fixed,,30,yes\n"
    "Broken,Facials,service,-10,,per_dollar,,,yes\n"
    "Odd,Facials,gadget,10,,per_dollar,,,yes\n"
)


def test_import_keeps_good_rows_and_reports_bad_ones(manager, alpha_client):
    page = upload(alpha_client, CSV).content.decode()

    botox, serum = CatalogItem.objects.get(external_id="B-1"), CatalogItem.objects.get(name="Serum")
    assert (botox.price_cents, botox.points_per_dollar) == (12000, 2)
    assert (serum.kind, serum.price_cents, serum.earning, serum.fixed_points) == ("product", 4550, "fixed", 30)
    assert CatalogItem.objects.count() == 2
    assert "<strong>2</strong> added" in page and "<strong>2</strong> refused" in page
    assert "price: The amount can&#x27;t be negative." in page
    assert "kind: Select a valid choice." in page


def test_reimporting_updates_by_pos_id_or_name_and_category_without_duplicates(manager, alpha_client):
    upload(alpha_client, CSV)
    changed = CSV.replace("120.00", "130.00").replace("45.5,,fixed,,30", "50,,fixed,,35")

    page = upload(alpha_client, changed).content.decode()

    assert CatalogItem.objects.count() == 2
    assert CatalogItem.objects.get(external_id="B-1").price_cents == 13000
    assert CatalogItem.objects.get(name="Serum").fixed_points == 35
    assert "<strong>0</strong> added" in page and "<strong>2</strong> updated" in page


def test_a_row_repeated_in_the_file_is_reported_not_duplicated(manager, alpha_client):
    text = "name,category,price,external_id\nBotox,Injectables,120,B-1\nBotox again,Injectables,99,B-1\n"

    page = upload(alpha_client, text).content.decode()

    assert CatalogItem.objects.get().name == "Botox"
    assert "The same item is already on row 2." in page


def test_import_refuses_a_file_without_the_required_columns(manager, alpha_client):
    page = upload(alpha_client, "title,cost\nBotox,120\n").content.decode()

    assert "must have a “name” column" in page
    assert not CatalogItem.objects.exists()


def test_import_refuses_more_than_5000_rows(manager, alpha_client):
    rows = "".join(f"Item {n},Facials,10\n" for n in range(5001))

    page = upload(alpha_client, "name,category,price\n" + rows).content.decode()

    assert "more than 5,000 rows" in page
    assert not CatalogItem.objects.exists()


def test_alpha_staff_do_not_see_betas_catalog(manager, alpha_client, beta):
    from django_tenants.utils import tenant_context

    with tenant_context(beta):
        CatalogItemFactory(name="Beta whitening")
    CatalogItemFactory(name="Alpha peel")

    page = alpha_client.get("/staff/catalog/").content.decode()

    assert "Alpha peel" in page
    assert "Beta whitening" not in page
