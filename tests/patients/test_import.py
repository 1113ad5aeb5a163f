"""CSV import of existing patients: the upload page, the background run and its report."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from patients import imports
from patients.imports import run_import
from patients.models import Activity, Message, Patient, PatientImport
from practices.models import StaffMember
from tests.factories import STAFF_PASSWORD, PatientFactory, StaffMemberFactory

GOOD_BAD_AND_DUPLICATE = (
    "Phone,First Name,last_name,email,birthday,external_id\n"
    "(202) 555-0143,Ada,Lovelace,ada@example.test,1990-12-10,A-1\n"  # row 2: good
    "555-12,Bad,Phone,,,\n"  # row 3: invalid phone
    "617-555-0188,Grace,Hopper,not-an-email,13/45/1990,\n"  # row 4: bad email and birthday
    "\n"  # a blank line is skipped but still counted, as in a spreadsheet
    "+1 617 555 0199,Alan,Turing,,06/23/1912,A-3\n"  # row 6: good (US birthday format)
    "202.555.0143,Ada,Lovelace,,,\n"  # row 7: the same phone as row 2
    ",No,Phone,,,\n"  # row 8: phone missing
)


@pytest.fixture(autouse=True)
def _throwaway_files(media_root, private_root):
    return media_root


@pytest.fixture
def manager(alpha, alpha_client) -> StaffMember:
    member = StaffMemberFactory(role=StaffMember.Role.MANAGER)
    alpha_client.post("/staff/login/", {"login": member.user.email, "password": STAFF_PASSWORD})
    return member


def new_import(content: str | bytes, *, actor=None, filename: str = "patients.csv") -> PatientImport:
    data = content.encode() if isinstance(content, str) else content
    return PatientImport.objects.create(file=ContentFile(data, name=filename), filename=filename, created_by=actor)


def upload(client, content: bytes, filename: str = "patients.csv"):
    return client.post("/staff/patients/import/", {"file": SimpleUploadedFile(filename, content, "text/csv")})


# ---------------------------------------------------------------- the import itself


def test_good_rows_are_imported_and_bad_rows_reported(alpha):
    done = run_import(new_import(GOOD_BAD_AND_DUPLICATE).pk)

    assert done.status == PatientImport.Status.DONE
    assert done.finished_at is not None
    assert (done.total_rows, done.processed_rows) == (6, 6)
    assert (done.created_count, done.updated_count, done.error_count) == (2, 1, 3)
    assert done.errors == [
        {"row": 3, "errors": ["Phone “555-12” is not a valid phone number."]},
        {
            "row": 4,
            "errors": [
                "Email “not-an-email” is not a valid email address.",
                "Birthday “13/45/1990” is not a date (use YYYY-MM-DD or MM/DD/YYYY).",
            ],
        },
        {"row": 8, "errors": ["Phone is missing."]},
    ]
    ada = Patient.objects.get(user__phone="+12025550143")
    assert (ada.full_name, ada.user.email, str(ada.birthday), ada.external_id) == (
        "Ada Lovelace",
        "ada@example.test",
        "1990-12-10",
        "A-1",
    )
    assert (ada.status, ada.source) == (Patient.Status.PENDING, Patient.Source.IMPORT)
    assert str(Patient.objects.get(user__phone="+16175550199").birthday) == "1912-06-23"
    assert Activity.objects.filter(kind=Activity.Kind.IMPORTED).count() == 2
    assert not Patient.objects.filter(user__phone="+16175550188").exists()


def test_imported_patients_are_not_texted(alpha):
    run_import(new_import(GOOD_BAD_AND_DUPLICATE).pk)

    assert Patient.objects.count() == 2
    assert not Message.objects.exists()


def test_importing_the_same_file_again_creates_no_duplicates(alpha):
    run_import(new_import(GOOD_BAD_AND_DUPLICATE).pk)

    again = run_import(new_import(GOOD_BAD_AND_DUPLICATE).pk)

    assert Patient.objects.count() == 2
    assert (again.created_count, again.updated_count, again.error_count) == (0, 3, 3)
    assert Activity.objects.filter(kind=Activity.Kind.IMPORTED).count() == 2


def test_a_known_patient_only_gets_what_they_are_missing(alpha):
    ada = PatientFactory(user__first_name="Ada", user__last_name="", user__phone="+12025550143")

    csv = "phone,first_name,last_name,email,external_id\n2025550143,Adele,King,a@x.test,77\n"

    done = run_import(new_import(csv).pk)

    ada.refresh_from_db()
    ada.user.refresh_from_db()
    assert done.updated_count == 1
    assert (ada.user.first_name, ada.user.last_name, ada.user.email) == ("Ada", "King", "a@x.test")
    assert ada.external_id == "77"
    assert ada.status == Patient.Status.ACTIVE
    filled = ada.activities.get(kind=Activity.Kind.PROFILE_UPDATED)
    assert filled.summary == "Filled in from patients.csv: last name, email, external id"


def test_a_file_that_is_not_utf8_still_imports(alpha):
    content = "phone,first_name,last_name\n2025550143,Zoë,Müller\n".encode("latin-1")

    done = run_import(new_import(content).pk)

    assert done.status == PatientImport.Status.DONE
    assert Patient.objects.get(user__phone="+12025550143").full_name == "Zoë Müller"


def test_an_excel_csv_with_a_byte_order_mark_imports(alpha):
    content = "\ufeffPhone,First_name\n2025550143,Ada\n".encode()
    assert content.startswith(b"\xef\xbb\xbf")

    done = run_import(new_import(content).pk)

    assert done.created_count == 1


def test_a_file_that_cannot_be_read_fails_with_a_reason(alpha):
    done = run_import(new_import(b"PK\x03\x04\x00\x00binary spreadsheet").pk)

    assert done.status == PatientImport.Status.FAILED
    assert done.finished_at is not None
    assert done.errors == [
        {"row": None, "errors": ["This is not a CSV text file. Save the spreadsheet as CSV and upload that."]}
    ]


def test_a_file_without_a_phone_column_fails_with_a_reason(alpha):
    done = run_import(new_import("name,email\nAda,ada@example.test\n").pk)

    assert done.status == PatientImport.Status.FAILED
    assert done.errors[0]["errors"] == ["The first row must have a “phone” column (found: name, email)."]


def test_running_a_finished_import_again_changes_nothing(alpha):
    first = run_import(new_import(GOOD_BAD_AND_DUPLICATE).pk)

    again = run_import(first.pk)

    assert (again.created_count, again.updated_count, again.error_count) == (2, 1, 3)
    assert again.finished_at == first.finished_at
    assert Activity.objects.filter(kind=Activity.Kind.PROFILE_UPDATED).count() == 0


def test_progress_is_saved_every_100_rows(alpha, monkeypatch):
    saved = []
    save_progress = imports._save_progress
    monkeypatch.setattr(imports, "_save_progress", lambda job: (saved.append(job.processed_rows), save_progress(job)))
    rows = "".join(f"+1202555{1000 + n},Pat,Number{n}\n" for n in range(250))

    done = run_import(new_import("phone,first_name,last_name\n" + rows).pk)

    assert saved == [100, 200]
    assert (done.processed_rows, done.created_count) == (250, 250)


def test_a_long_import_carries_on_in_later_turns_without_counting_twice(
    alpha, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "_turn_seconds", lambda: 0)  # every turn stops after one row
    turns = []
    monkeypatch.setattr(imports, "run_import", lambda import_id: turns.append(import_id) or run_import(import_id))
    patient_import = new_import(GOOD_BAD_AND_DUPLICATE)

    with django_capture_on_commit_callbacks(execute=True):
        first_turn = run_import(patient_import.pk)

    assert (first_turn.status, first_turn.processed_rows) == (PatientImport.Status.RUNNING, 1)
    assert turns == [patient_import.pk] * 5  # six rows, one a turn: the first here, five queued one after another
    patient_import.refresh_from_db()
    assert patient_import.status == PatientImport.Status.DONE
    assert (patient_import.created_count, patient_import.updated_count, patient_import.error_count) == (2, 1, 3)
    assert [entry["row"] for entry in patient_import.errors] == [3, 4, 8]
    assert Patient.objects.count() == 2


# ---------------------------------------------------------------- the pages


def test_an_uploaded_file_is_imported_in_the_background_and_reported(
    manager, alpha, alpha_client, private_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(alpha_client, GOOD_BAD_AND_DUPLICATE.encode())

    patient_import = PatientImport.objects.get()
    assert response["Location"] == f"/staff/patients/import/{patient_import.pk}/"
    assert patient_import.status == PatientImport.Status.DONE
    assert patient_import.created_by == manager.user
    assert patient_import.file.name == ""  # the list is deleted once imported (see test_import_files.py)
    assert not list((private_root / alpha.schema_name / "imports" / "patients").iterdir())
    assert Patient.objects.count() == 2
    page = alpha_client.get(response["Location"]).content.decode()
    assert "Row 3" in page and "Phone “555-12” is not a valid phone number." in page
    assert "Row 4" in page and "Birthday “13/45/1990” is not a date" in page
    assert "6 of 6 rows" in page
    assert 'hx-trigger="every 2s"' not in page


def test_the_status_page_polls_while_the_import_runs(manager, alpha_client):
    running = new_import("phone\n2025550143\n")
    PatientImport.objects.filter(pk=running.pk).update(status=PatientImport.Status.RUNNING, total_rows=1)

    page = alpha_client.get(f"/staff/patients/import/{running.pk}/").content.decode()
    partial = alpha_client.get(f"/staff/patients/import/{running.pk}/progress/").content.decode()

    assert f'hx-get="/staff/patients/import/{running.pk}/progress/"' in page
    assert 'hx-trigger="every 2s"' in page
    assert 'hx-trigger="every 2s"' in partial
    assert "<html" not in partial
    assert "0 of 1 row" in partial


def test_the_upload_page_lists_recent_imports(manager, alpha_client):
    run_import(new_import(GOOD_BAD_AND_DUPLICATE, filename="old-system-export.csv").pk)

    page = alpha_client.get("/staff/patients/import/").content.decode()

    assert "old-system-export.csv" in page
    assert "Done" in page


@pytest.mark.parametrize(
    ("filename", "content", "error"),
    [
        ("patients.xlsx", b"PK\x03\x04", "Upload a .csv file"),
        ("patients.csv", b"", "This file is empty."),
        ("patients.csv", b"name,email\nAda,a@x.test\n", "The first row must have a “phone” column"),
        ("patients.csv", b"PK\x03\x04\x00\x00", "This is not a CSV text file."),
    ],
)
def test_a_wrong_file_is_refused_on_upload(manager, alpha_client, filename, content, error):
    response = upload(alpha_client, content, filename)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not PatientImport.objects.exists()


def test_a_file_over_5_mb_is_refused(manager, alpha_client):
    content = b"phone\n" + b"2025550143\n" * (5 * 1024 * 1024 // 11 + 1)

    response = upload(alpha_client, content)

    assert "larger than 5 MB" in response.content.decode()
    assert not PatientImport.objects.exists()


def test_front_desk_cannot_upload(alpha, alpha_client):
    member = StaffMemberFactory(role=StaffMember.Role.FRONT_DESK)
    alpha_client.post("/staff/login/", {"login": member.user.email, "password": STAFF_PASSWORD})

    response = upload(alpha_client, GOOD_BAD_AND_DUPLICATE.encode())

    assert response.status_code == 403
    assert not PatientImport.objects.exists()
