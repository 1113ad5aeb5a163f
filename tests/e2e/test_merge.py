"""Two records of one person merged at the desk, in the browser: a manager finds the duplicate from the
kept patient's page, compares them side by side, confirms, and the kept patient's balance is the sum."""

import re

import pytest
from playwright.sync_api import expect

from loyalty.ledger_check import check_ledger
from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import post_points
from patients.models import Patient
from practices.models import StaffMember
from tests.e2e.steps import staff_sign_in
from tests.factories import PatientFactory, StaffMemberFactory


def patient_with_points(first: str, last: str, phone: str, points: int) -> Patient:
    patient = PatientFactory(user__first_name=first, user__last_name=last, user__phone=phone)
    post_points(account_id=patient.points_account.pk, delta=points, kind=LedgerEntry.Kind.BONUS)
    return patient


@pytest.mark.django_db(transaction=True)
def test_two_records_merged_at_the_desk_keep_the_sum_of_their_points(person):
    kept = patient_with_points("Ada", "Lovelace", "+16285550171", 1_250)
    duplicate = patient_with_points("Ada", "Byron", "+16285550172", 340)
    manager = StaffMemberFactory(role=StaffMember.Role.MANAGER, user__first_name="Mona", user__last_name="Manager")

    desk = person("manager at the desk")
    staff_sign_in(desk, manager, next_page=f"/staff/patients/{kept.pk}/")
    desk.get_by_role("link", name="Merge with another record").click()
    desk.get_by_label("Find the other record").fill("byron")
    desk.get_by_role("button", name="Search").click()
    desk.get_by_role("link", name="Compare and merge").click()

    expect(desk.get_by_role("heading", name="Merge two records")).to_be_visible()
    table = desk.get_by_role("table")
    expect(table.get_by_role("row", name=re.compile(r"^Points"))).to_contain_text("1,250")
    expect(table.get_by_role("row", name=re.compile(r"^Points"))).to_contain_text("340")
    expect(table.get_by_role("row", name=re.compile(r"^Phone"))).to_contain_text("(628) 555-0172")
    desk.get_by_role("button", name=f"Merge into #{kept.pk}").click()

    expect(desk).to_have_url(re.compile(rf"/staff/patients/{kept.pk}/$"))
    expect(desk.get_by_text(f"Ada Byron (#{duplicate.pk}) was merged into this record.")).to_be_visible()
    expect(desk.locator(".points-panel .facts strong").first).to_have_text("1,590")
    expect(desk.locator(".timeline")).to_contain_text(f"Merged with the record Ada Byron (#{duplicate.pk})")

    assert PointsAccount.objects.get(patient=kept).balance == 1_590 == 1_250 + 340
    assert PointsAccount.objects.get(patient=duplicate).balance == 0
    assert Patient.objects.get(pk=duplicate.pk).status == Patient.Status.ARCHIVED
    assert check_ledger().is_consistent

    desk.goto(f"/staff/patients/{duplicate.pk}/")
    expect(desk.get_by_text("This record was merged into")).to_be_visible()
