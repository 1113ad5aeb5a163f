"""A new patient's first visit, in two browsers: the patient joins on their phone, the front desk checks
them out, and the patient sees the points."""

import pytest
from playwright.sync_api import expect

from loyalty.models import LedgerEntry, Purchase
from patients.models import Patient
from practices.models import StaffMember
from tests.e2e.steps import check_out, join, staff_sign_in
from tests.factories import CatalogItemFactory, StaffMemberFactory


@pytest.mark.django_db(transaction=True)
def test_patient_joins_and_sees_points_after_checkout(person):
    botox = CatalogItemFactory(name="Botox", category="Injectables", price_cents=12_000)
    desk = StaffMemberFactory(role=StaffMember.Role.FRONT_DESK, user__first_name="Dana", user__last_name="Desk")

    patient_page = person("patient Ada")
    join(patient_page, phone="(628) 555-0142", first_name="Ada", last_name="Lovelace")
    balance = patient_page.locator(".points-card .points-balance strong")
    expect(balance).to_have_text("0")

    desk_page = person("front desk")
    staff_sign_in(desk_page, desk)
    earned = check_out(desk_page, search="lovelace", patient_name="Ada Lovelace", item=botox)

    assert earned == 120  # $120 at 1 point per dollar
    ada = Patient.objects.get(user__phone="+16285550142")
    purchase = Purchase.objects.get(patient=ada)
    assert (purchase.source, purchase.points, purchase.recorded_by) == ("desk", 120, desk.user)
    assert list(LedgerEntry.objects.filter(account__patient=ada).values_list("kind", "delta")) == [("purchase", 120)]

    patient_page.reload()
    expect(balance).to_have_text("120")
    expect(patient_page.locator(".ledger li").first).to_contain_text("+120")
