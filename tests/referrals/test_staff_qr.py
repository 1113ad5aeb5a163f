"""QR codes and posters: downloads decode to the right link, with and without the practice logo."""

import io
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from django.core.files.base import ContentFile
from PIL import Image, ImageFile

from practices import audit
from referrals import services
from referrals.codes import code_for_patient, code_for_staff
from referrals.models import Partner
from referrals.qr import qr_svg
from tests.factories import PatientFactory, StaffMemberFactory, sign_in_staff
from tests.pictures import huge_png

SETUP = audit.System("test setup")  # data the test starts from


@pytest.fixture
def manager(alpha, alpha_client):
    return sign_in_staff(alpha_client, role="manager")


def decoded(png: bytes) -> list[str]:
    return [barcode.text for barcode in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def with_logo(practice) -> None:
    logo = io.BytesIO()
    Image.new("RGB", (300, 200), "#c026d3").save(logo, format="PNG")
    practice.logo.save("logo.png", ContentFile(logo.getvalue()))


def test_the_practice_png_decodes_to_its_join_link(manager, alpha, alpha_client):
    response = alpha_client.get("/staff/referrals/qr/practice.png")

    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="alpha-join-qr.png"'
    expected = services.join_url(alpha, source="qr")
    assert expected.endswith(f"/join/?code={alpha.invite_code}&src=qr")
    assert decoded(response.content) == [expected]


def test_a_staff_members_png_decodes_to_their_share_link(manager, alpha, alpha_client):
    code = code_for_staff(StaffMemberFactory(user__first_name="Dana"))

    response = alpha_client.get(f"/staff/referrals/qr/{code.code}.png")

    assert response["Content-Disposition"] == f'attachment; filename="alpha-{code.code}-qr.png"'
    assert decoded(response.content) == [services.share_url(code, source="qr")]
    assert decoded(response.content)[0].endswith(f"/r/{code.code}?src=qr")


def test_the_png_still_decodes_with_the_practice_logo_in_the_middle(manager, alpha, alpha_client, media_root):
    with_logo(alpha)
    partner = services.save_partner(partner=Partner(name="Glow Studio"), actor=SETUP)
    code = partner.referral_code

    plain = alpha_client.get(f"/staff/referrals/qr/{code.code}.png").content
    image = Image.open(io.BytesIO(plain)).convert("RGB")
    centre = image.getpixel((image.width // 2, image.height // 2))

    assert centre == (192, 38, 211)  # the logo's colour: it is there
    assert decoded(plain) == [services.share_url(code, source="qr")]
    assert decoded(alpha_client.get("/staff/referrals/qr/practice.png").content) == [services.join_url(alpha)]


def test_the_svg_is_the_same_drawing_of_the_same_link(manager, alpha, alpha_client):
    code = code_for_staff(StaffMemberFactory())

    response = alpha_client.get(f"/staff/referrals/qr/{code.code}.svg")

    assert response["Content-Type"] == "image/svg+xml"
    assert response["Content-Disposition"] == f'attachment; filename="alpha-{code.code}-qr.svg"'
    body = response.content.decode()
    root = ET.fromstring(body)  # noqa: S314 - our own response
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    paths = root.findall(".//{http://www.w3.org/2000/svg}path")
    assert paths and len(paths[0].get("d")) > 100
    assert body == qr_svg(services.share_url(code, source="qr"))
    practice_svg = alpha_client.get("/staff/referrals/qr/practice.svg").content.decode()
    assert practice_svg == qr_svg(services.join_url(alpha, source="qr"))


def test_codes_in_lower_case_work_and_unknown_ones_are_404(manager, alpha_client):
    code = code_for_staff(StaffMemberFactory())

    assert alpha_client.get(f"/staff/referrals/qr/{code.code.lower()}.png").status_code == 200
    assert alpha_client.get("/staff/referrals/qr/NOSUCH9.png").status_code == 404


def test_the_poster_shows_the_practice_the_offer_the_code_and_the_qr(manager, alpha, alpha_client):
    code = code_for_staff(StaffMemberFactory(user__first_name="Dana"))

    page = alpha_client.get(f"/staff/referrals/qr/{code.code}/poster/").content.decode()

    assert "Scan to join Alpha Aesthetics rewards — new patients get 250 points" in page
    assert "Invited by Dana" in page
    assert f"<strong>{code.code}</strong>" in page
    assert '<svg class="qr" role="img"' in page
    assert "staff-nav" not in page
    assert "@media print" not in page  # the print rules live in the stylesheet
    assert "css/referrals-staff.css" in page


def test_the_poster_follows_the_partners_own_reward_and_warns_when_inactive(manager, alpha_client):
    partner = services.save_partner(
        partner=Partner(name="Glow Studio", referee_reward_kind="percent", referee_percent_off=20, is_active=False),
        actor=SETUP,
    )

    page = alpha_client.get(f"/staff/referrals/qr/{partner.referral_code.code}/poster/").content.decode()

    assert "new patients get 20% off" in page
    assert "With Glow Studio&#x27;s code" in page
    assert "This code is not active" in page


def test_the_practice_poster_shows_the_invite_code(manager, alpha, alpha_client):
    page = alpha_client.get("/staff/referrals/qr/practice/poster/").content.decode()

    assert "Scan to join Alpha Aesthetics rewards" in page
    assert f"<strong>{alpha.invite_code}</strong>" in page
    assert 'href="/staff/referrals/qr/practice.png"' in page


def test_the_qr_page_lists_the_practice_staff_and_partners(manager, alpha, alpha_client):
    dana = StaffMemberFactory(user__first_name="Dana", user__last_name="Desk")
    partner = services.save_partner(partner=Partner(name="Glow Studio"), actor=SETUP)

    page = alpha_client.get("/staff/referrals/qr/").content.decode()

    assert 'href="/staff/referrals/qr/practice/poster/"' in page
    assert dana.referral_code.code in page and "Dana Desk" in page
    assert f'href="/staff/referrals/qr/{partner.referral_code.code}/poster/"' in page
    assert manager.referral_code.code in page


def test_the_front_desk_gets_their_own_code_only(alpha, alpha_client):
    me = sign_in_staff(alpha_client, role="front_desk")
    other = code_for_staff(StaffMemberFactory())
    partner = services.save_partner(partner=Partner(name="Glow Studio"), actor=SETUP)
    mine = code_for_staff(me)

    page = alpha_client.get("/staff/referrals/qr/").content.decode()

    assert mine.code in page and other.code not in page and "Glow Studio" not in page
    assert decoded(alpha_client.get(f"/staff/referrals/qr/{mine.code}.png").content) == [
        services.share_url(mine, source="qr")
    ]
    assert alpha_client.get(f"/staff/referrals/qr/{mine.code}/poster/").status_code == 200
    assert alpha_client.get(f"/staff/referrals/qr/{other.code}.png").status_code == 403
    assert alpha_client.get(f"/staff/referrals/qr/{partner.referral_code.code}.svg").status_code == 403
    assert alpha_client.get("/staff/referrals/qr/practice.png").status_code == 403
    assert alpha_client.get("/staff/referrals/qr/practice/poster/").status_code == 403


def test_any_staff_member_prints_a_patients_code_from_the_patient_page(alpha, alpha_client):
    sign_in_staff(alpha_client, role="front_desk")
    code = code_for_patient(PatientFactory(user__first_name="Jane"))

    response = alpha_client.get(f"/staff/referrals/qr/{code.code}.png")

    assert decoded(response.content) == [services.share_url(code, source="qr")]
    assert "Invited by Jane" in alpha_client.get(f"/staff/referrals/qr/{code.code}/poster/").content.decode()


def test_a_signed_out_visitor_is_sent_to_sign_in(alpha, alpha_client):
    code = code_for_staff(StaffMemberFactory())

    assert alpha_client.get(f"/staff/referrals/qr/{code.code}.png").status_code == 302


def test_a_logo_too_large_to_decode_is_left_out_of_the_png(manager, alpha, alpha_client, media_root, monkeypatch):
    alpha.logo.save("logo.png", ContentFile(huge_png().getvalue()))  # stored before uploads were limited
    decoded_sizes = []
    load = ImageFile.ImageFile.load

    def recording_load(self):
        decoded_sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)

    response = alpha_client.get("/staff/referrals/qr/practice.png")

    assert response.status_code == 200
    assert (13_000, 13_000) not in decoded_sizes
    assert decoded(response.content) == [services.join_url(alpha, source="qr")]
