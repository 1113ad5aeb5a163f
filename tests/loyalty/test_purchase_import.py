from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import LedgerEntry, Purchase
from loyalty.purchase_import import import_purchases
from practices.models import StaffMember
from tests.factories import CatalogItemFactory, PatientFactory, StaffMemberFactory
from tests.factories import sign_in_staff as sign_in

HEADER = "transaction_id,phone,purchased_at,item_id,item_name,category,quantity,unit_price,payment_method\n"


def upload(client, text: str, name: str = "purchases.csv"):
    file = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return client.post("/staff/purchases/import/", {"file": file})


def test_good_rows_are_recorded_bad_ones_reported_and_reimport_is_safe(alpha_client, alpha):
    sign_in(alpha_client, StaffMember.Role.MANAGER)
    jane = PatientFactory(user__phone="+14155550111")
    CatalogItemFactory(external_id="BTX", price_cents=30_000, category="Injectables")
    csv = HEADER + (
        "T-1,415-555-0111,2026-03-02,BTX,,,1,,card\n"
        "T-1,415-555-0111,2026-03-02,,Sunscreen,Skincare,2,45.00,card\n"
        "T-2,415-555-0199,2026-03-03,BTX,,,1,,card\n"
        "T-3,415-555-0111,2026-03-04,NOPE,,,1,,card\n"
        "T-4,415-555-0111,not-a-date,BTX,,,1,,card\n"
    )
    page = upload(alpha_client, csv).content.decode()

    assert "<strong>1</strong> purchases recorded" in page
    assert "no patient has the phone number 415-555-0199" in page
    assert "no catalog item has the POS id “NOPE”" in page
    assert "not a date" in page
    purchase = Purchase.objects.get(external_id="T-1")
    assert (purchase.patient, purchase.total_cents, purchase.points, purchase.source) == (jane, 39_000, 300, "import")
    assert purchase.lines.count() == 2

    again = upload(alpha_client, csv).content.decode()
    assert "<strong>0</strong> purchases recorded · 1 already recorded" in again
    assert Purchase.objects.filter(external_id="T-1").count() == 1
    assert LedgerEntry.objects.filter(purchase=purchase).count() == 1


def test_a_file_without_transaction_ids_is_refused_clearly(alpha_client, alpha):
    sign_in(alpha_client, StaffMember.Role.OWNER)
    page = upload(alpha_client, "phone,item_id\n4155550111,BTX\n").content.decode()
    assert "must have a “transaction_id” column" in page
    assert not Purchase.objects.exists()


def test_only_csv_files_are_accepted(alpha_client, alpha):
    sign_in(alpha_client, StaffMember.Role.MANAGER)
    page = upload(alpha_client, HEADER, name="purchases.xlsx").content.decode()
    assert "Upload a .csv file" in page


def test_front_desk_cannot_import_purchases(alpha_client, alpha):
    sign_in(alpha_client, StaffMember.Role.FRONT_DESK)
    assert alpha_client.get("/staff/purchases/import/").status_code == 403


def test_a_larger_file_takes_no_more_queries_and_a_reused_id_is_reported(alpha):
    staff = StaffMemberFactory(role=StaffMember.Role.MANAGER).user
    CatalogItemFactory(external_id="BTX", price_cents=30_000)
    phones = [f"+1415555{n:04d}" for n in range(40)]
    for phone in phones:
        PatientFactory(user__phone=phone)

    def queries(count: int, prefix: str) -> int:
        rows = "".join(f"{prefix}{n},{phones[n]},2026-03-02,BTX,,,1,,card\n" for n in range(count))
        with CaptureQueriesContext(connection) as captured:
            report = import_purchases(data=(HEADER + rows).encode(), actor=staff)
        assert report.created == count
        return len(captured.captured_queries)

    assert queries(40, "B-") <= queries(2, "A-")
    report = import_purchases(data=(HEADER + f"A-0,{phones[1]},2026-03-02,BTX,,,1,,card\n").encode(), actor=staff)
    assert report.created == 0
    assert "already used for a different purchase" in report.errors[0]["errors"][0]
