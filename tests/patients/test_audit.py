"""Patient imports are in the audit trail: who started one, each patient it added or filled in, and its outcome."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEvent
from patients.imports import run_import, start_import
from patients.models import Patient, PatientImport
from practices import audit
from tests.factories import PatientFactory, StaffMemberFactory

CSV = (
    b"phone,first_name,last_name,email,birthday\n(202) 555-0143,Ada,Lovelace,,1990-12-10\n617-555-0188,Grace,Hopper,,\n"
)


@pytest.fixture(autouse=True)
def _throwaway_files(media_root, private_root):
    return media_root


@pytest.fixture
def manager(alpha):
    return StaffMemberFactory(role="manager").user


def test_an_import_records_its_start_each_patient_and_its_outcome_under_who_started_it(manager):
    PatientFactory(user__phone="+16175550188", user__first_name="Grace", user__last_name="")
    started = start_import(upload=SimpleUploadedFile("list.csv", CSV, "text/csv"), actor=manager)

    run_import(started.pk)

    events = {event.action: event for event in AuditEvent.objects.all()}
    assert set(events) == {
        "patient_import.started",
        "patient.imported",
        "patient.filled_in_by_import",
        "patient_import.finished",
    }
    assert {event.actor for event in events.values()} == {manager}
    ada = Patient.objects.get(user__phone="+12025550143")
    imported = events["patient.imported"]
    assert (imported.target_id, imported.after, imported.note) == (
        str(ada.pk),
        {"first_name": "Ada", "last_name": "Lovelace", "birthday": "1990-12-10"},
        "list.csv, row 2",
    )
    filled = events["patient.filled_in_by_import"]
    assert (filled.before, filled.after) == ({"last_name": ""}, {"last_name": "Hopper"})
    assert events["patient_import.finished"].after == {
        "status": PatientImport.Status.DONE,
        "created_count": 1,
        "updated_count": 1,
        "error_count": 0,
    }


def test_an_import_is_not_started_without_an_actor(alpha):
    with pytest.raises(audit.ActorRequired):
        start_import(upload=SimpleUploadedFile("list.csv", CSV, "text/csv"), actor=None)

    assert not PatientImport.objects.exists()


def test_closing_an_account_erases_the_patients_details_from_the_trail(manager):
    from patients.closing import close_account

    started = start_import(upload=SimpleUploadedFile("list.csv", CSV, "text/csv"), actor=manager)
    run_import(started.pk)
    ada = Patient.objects.get(user__phone="+12025550143")

    close_account(patient=ada)

    imported = AuditEvent.objects.get(action="patient.imported", target_id=str(ada.pk))
    assert imported.target_label == f"Patient #{ada.pk} (closed account)"
    assert imported.after == {"first_name": "(erased)", "last_name": "(erased)", "birthday": "(erased)"}
    assert imported.actor == manager and imported.note == "list.csv, row 2"
    assert AuditEvent.objects.filter(action="patient.closed", target_id=str(ada.pk)).exists()
