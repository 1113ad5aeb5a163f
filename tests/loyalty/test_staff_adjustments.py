"""Manual adjustments from the patient page (managers and owners) and their audit list."""

from datetime import UTC, datetime

import pytest
import time_machine

from loyalty.models import LedgerEntry
from loyalty.services import adjust_points
from practices.models import StaffMember
from tests.factories import PatientFactory, StaffMemberFactory
from tests.factories import sign_in_staff as sign_in

Role = StaffMember.Role


@pytest.fixture
def manager(alpha, alpha_client) -> StaffMember:
    return sign_in(alpha_client, Role.MANAGER, first_name="Mia", last_name="Manager")


@pytest.fixture
def patient(alpha):
    return PatientFactory(user__first_name="Ada", user__last_name="Lovelace")


def adjust(client, patient, points, reason="Goodwill after a late appointment", **kwargs):
    return client.post(f"/staff/patients/{patient.pk}/points/adjust/", {"points": points, "reason": reason}, **kwargs)


def test_a_manager_adds_and_removes_points_with_a_reason(manager, alpha_client, patient):
    added = adjust(alpha_client, patient, "300", follow=True)
    adjust(alpha_client, patient, "-120", reason="Entered twice")

    patient.points_account.refresh_from_db()
    assert patient.points_account.balance == 180
    entries = LedgerEntry.objects.filter(kind="adjustment").order_by("id")
    assert [(e.delta, e.note, e.actor) for e in entries] == [
        (300, "Goodwill after a late appointment", manager.user),
        (-120, "Entered twice", manager.user),
    ]
    assert "300 points added to Ada Lovelace&#x27;s balance." in added.content.decode()


def test_the_managers_patient_page_shows_the_adjust_form(manager, alpha_client, patient):
    page = alpha_client.get(f"/staff/patients/{patient.pk}/").content.decode()

    assert "Adjust points" in page
    assert f'action="/staff/patients/{patient.pk}/points/adjust/"' in page


def test_a_reason_is_required(manager, alpha_client, patient):
    page = adjust(alpha_client, patient, "50", reason="").content.decode()

    assert "Give a reason for the adjustment." in page
    assert not LedgerEntry.objects.exists()


def test_removing_more_than_the_balance_shows_the_error(manager, alpha_client, patient):
    adjust(alpha_client, patient, "100")

    page = adjust(alpha_client, patient, "-250").content.decode()

    assert "Not enough points: 250 needed, 100 available (150 more needed)." in page
    patient.points_account.refresh_from_db()
    assert patient.points_account.balance == 100


def test_the_front_desk_gets_403_on_adjust_and_on_the_audit_list(alpha, alpha_client, patient):
    sign_in(alpha_client, Role.FRONT_DESK)

    assert adjust(alpha_client, patient, "100").status_code == 403
    assert alpha_client.get("/staff/adjustments/").status_code == 403
    assert "Adjust points" not in alpha_client.get(f"/staff/patients/{patient.pk}/").content.decode()
    assert not LedgerEntry.objects.exists()


def test_the_audit_list_shows_patient_points_reason_and_staff_member(manager, alpha_client, patient):
    adjust(alpha_client, patient, "75", reason="Birthday gesture")

    page = alpha_client.get("/staff/adjustments/").content.decode()

    assert "Ada Lovelace" in page
    assert "+75" in page
    assert "Birthday gesture" in page
    assert "Mia Manager" in page


def test_the_audit_list_filters_by_staff_member_and_dates(manager, alpha_client, patient):
    other = StaffMemberFactory(role=Role.OWNER, user__first_name="Olga", user__last_name="Owner")
    with time_machine.travel(datetime(2026, 3, 10, 15, 0, tzinfo=UTC)):
        adjust_points(patient=patient, delta=10, reason="March by Olga", actor=other.user)
    with time_machine.travel(datetime(2026, 4, 10, 15, 0, tzinfo=UTC)):
        adjust_points(patient=patient, delta=20, reason="April by Mia", actor=manager.user)
        adjust_points(patient=patient, delta=30, reason="April by Olga", actor=other.user)

    by_olga = alpha_client.get("/staff/adjustments/", {"actor": other.user.pk}).content.decode()
    in_april = alpha_client.get("/staff/adjustments/", {"since": "2026-04-01", "until": "2026-04-30"}).content.decode()

    assert "March by Olga" in by_olga and "April by Olga" in by_olga and "April by Mia" not in by_olga
    assert "April by Mia" in in_april and "April by Olga" in in_april and "March by Olga" not in in_april


def test_the_audit_list_is_empty_at_first(manager, alpha_client):
    assert "No adjustments yet" in alpha_client.get("/staff/adjustments/").content.decode()
