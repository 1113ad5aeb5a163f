"""The owner brands the practice: a logo uploaded on the branding page shows, cropped square, in the patient
app's header and on the printable poster."""

import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from practices.models import Practice, StaffMember
from tests.e2e.steps import staff_sign_in
from tests.factories import StaffMemberFactory


def loaded_size(locator) -> tuple[int, int]:
    """The picture's size as the browser decoded it (zero when it failed to load)."""
    return tuple(locator.evaluate("img => [img.complete ? img.naturalWidth : 0, img.complete ? img.naturalHeight : 0]"))


@pytest.mark.django_db(transaction=True)
def test_an_owner_uploads_a_logo_and_patients_and_posters_show_it(person, practice, media_root, tmp_path):
    owner = StaffMemberFactory(role=StaffMember.Role.OWNER, user__first_name="Olive", user__last_name="Owner")
    logo_file = tmp_path / "our-logo.png"
    Image.new("RGB", (600, 300), (200, 30, 30)).save(logo_file)

    owner_page = person("owner")
    staff_sign_in(owner_page, owner, next_page="/staff/settings/branding/")
    owner_page.get_by_label("Logo", exact=True).set_input_files(logo_file)
    owner_page.get_by_role("button", name="Save branding").click()
    expect(owner_page.get_by_text("Your branding was saved.")).to_be_visible()

    stored = Practice.objects.get(pk=practice.pk).logo
    assert stored.name.startswith(f"{practice.schema_name}/branding/")
    header_logo = owner_page.locator(".topbar img.brand-logo")
    expect(header_logo).to_have_attribute("src", stored.url)

    patient_page = person("patient")
    patient_page.goto("/")
    logo = patient_page.locator(".patient-header img.brand-logo")
    expect(logo).to_have_attribute("src", stored.url)
    assert loaded_size(logo) == (300, 300)  # the centre square of the 600 × 300 upload
    # The app's icon is drawn from it too.
    icon = patient_page.locator('link[rel="apple-touch-icon"]').get_attribute("href")
    assert re.fullmatch(r"/icons/apple-touch-icon\.png\?v=[0-9a-f]{12}", icon)

    owner_page.goto("/staff/referrals/qr/practice/poster/")
    poster_logo = owner_page.locator(".poster-brand img")
    expect(poster_logo).to_have_attribute("src", stored.url)
    assert loaded_size(poster_logo) == (300, 300)
