"""The owner's branding page: name, short name, logo (kept as its centre square), colours checked for readable
button text, the name in text messages; every change audited. The program terms and privacy notice: defaults the
owner edits, public pages on the practice's host, linked from joining, every patient page and the API."""

import io
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts.models import AuditEvent
from patients.models import Message
from patients.notifications import notify
from practices import audit
from practices.branding import BrandingRefused, update_branding, update_program_texts
from practices.models import Practice, ProgramTexts, StaffMember
from tests.conftest import host_of
from tests.factories import PatientFactory, StaffMemberFactory
from tests.pictures import huge_png

Role = StaffMember.Role
PAGE = "/staff/settings/branding/"
TEXTS = "/staff/settings/branding/texts/"


@pytest.fixture(autouse=True)
def _media(media_root, private_root):
    return media_root


@pytest.fixture
def owner(alpha) -> StaffMember:
    return StaffMemberFactory(role=Role.OWNER, user__first_name="Olive", user__last_name="Owner")


@pytest.fixture
def owner_client(alpha_client, owner):
    alpha_client.force_login(owner.user)
    return alpha_client


def upload(width: int, height: int, *, name="logo.png", fmt="PNG") -> SimpleUploadedFile:
    data = io.BytesIO()
    image = Image.new("RGB", (width, height), (30, 30, 200))
    # A red band in the middle third: the part a centre crop keeps.
    image.paste((200, 30, 30), (width // 3, 0, 2 * width // 3, height))
    image.save(data, format=fmt)
    return SimpleUploadedFile(name, data.getvalue(), content_type=f"image/{fmt.lower()}")


def form(practice: Practice, **changes) -> dict:
    data = {
        "name": practice.name,
        "short_name": practice.short_name,
        "primary_color": practice.primary_color,
        "accent_color": practice.accent_color,
        "sms_sender_name": practice.sms_sender_name,
    }
    data.update(changes)
    return data


def stored_logo(practice: Practice) -> Image.Image:
    practice.refresh_from_db()
    with practice.logo.open("rb") as handle:
        image = Image.open(handle)
        image.load()
    return image


def header_logo(client) -> str:
    found = re.search(r'<img src="([^"]+)"[^>]*class="brand-logo"', client.get("/").content.decode())
    assert found, "no logo in the header"
    return found.group(1)


# ---------------------------------------------------------------- the logo


def test_an_uploaded_logo_is_kept_as_the_square_in_its_centre(owner_client, alpha):
    response = owner_client.post(PAGE, {**form(alpha), "logo": upload(900, 300)})

    assert response.status_code == 302
    logo = stored_logo(alpha)
    assert logo.format == "PNG"
    assert logo.size == (300, 300)
    assert logo.getpixel((150, 150))[:3] == (200, 30, 30)  # the middle
    assert logo.getpixel((2, 150))[:3] == (200, 30, 30)  # the sides of the wide picture were cut
    assert alpha.logo.name.startswith(f"{alpha.schema_name}/branding/") and alpha.logo.name.endswith(".png")


def test_a_large_logo_is_kept_at_1024_pixels_and_a_tall_one_square_too(alpha, owner):
    update_branding(actor=owner.user, **form(alpha), logo=upload(1500, 3000, name="photo.jpg", fmt="JPEG"))

    assert stored_logo(alpha).size == (1024, 1024)


def test_the_new_logo_shows_in_the_patient_header_and_replaces_the_old_file(
    owner_client, alpha, django_capture_on_commit_callbacks
):
    owner_client.post(PAGE, {**form(alpha), "logo": upload(400, 400)})
    alpha.refresh_from_db()
    first = alpha.logo.name

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(PAGE, {**form(alpha), "logo": upload(500, 500, name="new.webp", fmt="WEBP")})
    alpha.refresh_from_db()

    patient_app = Client(HTTP_HOST=host_of("alpha"))
    src = header_logo(patient_app)
    assert src == alpha.logo.url and alpha.logo.name != first
    served = patient_app.get(src)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert not alpha.logo.storage.exists(first)  # the replaced file is removed once the change is saved


def test_a_logo_over_the_pixel_limit_is_refused_with_its_size(owner_client, alpha):
    picture = huge_png()
    response = owner_client.post(
        PAGE, {**form(alpha), "logo": SimpleUploadedFile("huge.png", picture.getvalue(), "image/png")}
    )

    assert response.status_code == 400
    assert "This picture is 13,000 × 13,000 pixels; use one under 25 megapixels, e.g. 5,000 × 5,000." in (
        response.content.decode()
    )
    alpha.refresh_from_db()
    assert not alpha.logo
    assert not AuditEvent.objects.filter(action="practice.branding_updated").exists()


def test_a_file_that_is_not_a_picture_is_refused(owner_client, alpha):
    response = owner_client.post(
        PAGE, {**form(alpha), "logo": SimpleUploadedFile("logo.png", b"not a picture", "image/png")}
    )

    assert response.status_code == 400
    assert "This file is not a picture we can read; use a JPG, PNG or WebP." in response.content.decode()


def test_the_logo_can_be_removed(owner_client, alpha):
    owner_client.post(PAGE, {**form(alpha), "logo": upload(300, 300)})
    alpha.refresh_from_db()

    owner_client.post(PAGE, {**form(alpha), "remove_logo": "on"})

    alpha.refresh_from_db()
    assert not alpha.logo
    assert 'class="brand-logo"' not in Client(HTTP_HOST=host_of("alpha")).get("/").content.decode()


# ---------------------------------------------------------------- colours


def test_colours_are_saved_with_the_button_text_that_reads_on_them(owner_client, alpha):
    response = owner_client.post(PAGE, form(alpha, primary_color="#FACC15", accent_color="#1E3A8A"))

    assert response.status_code == 302
    alpha.refresh_from_db()
    assert (alpha.primary_color, alpha.accent_color) == ("#facc15", "#1e3a8a")
    page = Client(HTTP_HOST=host_of("alpha")).get("/").content.decode()
    assert "--brand: #facc15;" in page
    assert "--brand-ink: #111111;" in page  # near-black on yellow
    assert "--brand-accent-ink: #ffffff;" in page  # white on dark blue
    assert "--brand-link: #8e740c;" in page  # the yellow darkened for links on white


def test_a_colour_no_button_text_reads_on_is_refused_with_shades_that_would(owner_client, alpha):
    response = owner_client.post(PAGE, form(alpha, primary_color="#777777"))

    assert response.status_code == 400
    page = response.content.decode()
    assert "The primary colour #777777 is too close to the middle for readable button text" in page
    assert "Choose a darker shade such as #767676 (white text) or a lighter one such as #7c7c7c (dark text)." in page
    alpha.refresh_from_db()
    assert alpha.primary_color == "#0f766e"


def test_a_colour_that_is_not_a_colour_is_refused(alpha, owner):
    with pytest.raises(BrandingRefused) as refused:
        update_branding(actor=owner.user, **form(alpha, accent_color="red"))

    assert refused.value.field == "accent_color"
    assert refused.value.message == "Enter a colour as #RRGGBB, for example #0f766e."


# ---------------------------------------------------------------- names and the audit trail


def test_names_are_saved_and_the_change_is_audited_with_before_and_after(owner_client, alpha, owner):
    response = owner_client.post(
        PAGE, form(alpha, name="Alpha Aesthetics Clinic", short_name="Alpha", sms_sender_name="AlphaClinic")
    )

    assert response.status_code == 302
    alpha.refresh_from_db()
    assert (alpha.name, alpha.short_name, alpha.sms_sender_name) == ("Alpha Aesthetics Clinic", "Alpha", "AlphaClinic")
    event = AuditEvent.objects.get(action="practice.branding_updated")
    assert event.actor == owner.user
    assert (event.target_type, event.target_id) == ("practices.practice", str(alpha.pk))
    assert event.before == {"name": "Alpha Aesthetics", "short_name": "", "sms_sender_name": ""}
    assert event.after == {"name": "Alpha Aesthetics Clinic", "short_name": "Alpha", "sms_sender_name": "AlphaClinic"}


def test_a_new_logo_is_audited_by_its_file(alpha, owner):
    update_branding(actor=owner.user, **form(alpha), logo=upload(300, 300))

    event = AuditEvent.objects.get(action="practice.branding_updated")
    assert event.before == {"logo": None}
    assert event.after["logo"].startswith(f"{alpha.schema_name}/branding/")


def test_saving_without_a_change_records_nothing(owner_client, alpha):
    owner_client.post(PAGE, form(alpha))

    assert not AuditEvent.objects.filter(action="practice.branding_updated").exists()


def test_branding_cannot_change_without_the_person_changing_it(alpha):
    with pytest.raises(audit.ActorRequired):
        update_branding(actor=None, **form(alpha, name="Nobody's"))

    alpha.refresh_from_db()
    assert alpha.name == "Alpha Aesthetics"


def test_texts_to_patients_start_with_the_sender_name(alpha, owner):
    update_branding(actor=owner.user, **form(alpha, short_name="Alpha A.", sms_sender_name="Alpha Clinic"))
    patient = PatientFactory()

    notify(patient=patient, title="You earned 50 points", body="")

    texts = Message.objects.filter(patient=patient).values_list("body", flat=True)
    assert [text.splitlines()[0] for text in texts] == ["Alpha Clinic: You earned 50 points"]


def test_without_a_sender_name_texts_start_with_the_short_name(alpha, owner):
    update_branding(actor=owner.user, **form(alpha, short_name="Alpha A."))

    alpha.refresh_from_db()
    assert alpha.sms_name == "Alpha A."


def test_a_sender_name_with_symbols_phones_mangle_is_refused(owner_client, alpha):
    response = owner_client.post(PAGE, form(alpha, sms_sender_name="Alpha ✨"))

    assert response.status_code == 400
    assert "Use letters, digits, spaces and . , &amp; &#x27; - only" in response.content.decode()


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.MANAGER])
def test_only_owners_change_the_branding(alpha_client, alpha, role):
    alpha_client.force_login(StaffMemberFactory(role=role).user)

    assert alpha_client.get(PAGE).status_code == 403
    assert alpha_client.post(PAGE, form(alpha, name="Taken over")).status_code == 403
    assert alpha_client.post(TEXTS, {"terms": "x", "privacy": "y"}).status_code == 403
    alpha.refresh_from_db()
    assert alpha.name == "Alpha Aesthetics"


def test_the_owners_menu_leads_to_the_branding_page(owner_client):
    dashboard = owner_client.get("/staff/").content.decode()
    assert f'href="{PAGE}"' in dashboard

    page = owner_client.get(PAGE).content.decode()
    assert "<h1>Branding</h1>" in page
    assert "Primary #0f766e: white text, contrast 5.5:1" in page


# ---------------------------------------------------------------- terms and privacy notice


def test_the_terms_and_privacy_pages_start_with_defaults_naming_the_practice(alpha_client, alpha):
    terms = alpha_client.get("/terms/")
    privacy = alpha_client.get("/privacy/")

    assert terms.status_code == privacy.status_code == 200
    assert "<h1>Program terms</h1>" in terms.content.decode()
    assert "These terms apply to the Alpha Aesthetics rewards program" in terms.content.decode()
    assert "<h1>Privacy notice</h1>" in privacy.content.decode()
    assert "what the Alpha Aesthetics rewards program keeps about you" in privacy.content.decode()
    assert "Last updated" not in terms.content.decode()


def test_the_owners_texts_are_shown_escaped_with_their_date(owner_client, alpha, owner):
    response = owner_client.post(
        TEXTS, {"terms": "## Our terms\n- Be kind <script>alert(1)</script>", "privacy": "We keep little."}
    )

    assert response.status_code == 302
    page = Client(HTTP_HOST=host_of("alpha")).get("/terms/").content.decode()
    assert "<h2>Our terms</h2>" in page
    assert "<li>Be kind &lt;script&gt;alert(1)&lt;/script&gt;</li>" in page
    assert "Last updated" in page
    assert "We keep little." in Client(HTTP_HOST=host_of("alpha")).get("/privacy/").content.decode()
    event = AuditEvent.objects.get(action="practice.program_texts_updated")
    assert event.actor == owner.user
    assert event.before["terms"] is None or event.before["terms"] == ""
    assert event.after == {"terms": "## Our terms\n- Be kind <script>alert(1)</script>", "privacy": "We keep little."}


def test_a_default_text_saved_unchanged_stays_the_default(alpha, owner):
    page = Client(HTTP_HOST=host_of("alpha"))
    page.force_login(owner.user)
    initial = page.get(PAGE).context["texts_form"].initial

    update_program_texts(actor=owner.user, terms=initial["terms"], privacy="Our own notice.")

    row = ProgramTexts.objects.get()
    assert row.terms == "" and row.terms_updated_at is None
    assert row.privacy == "Our own notice." and row.privacy_updated_at is not None
    # A renamed practice's default terms use the new name.
    update_branding(actor=owner.user, **form(alpha, name="Alpha Clinic"))
    assert "These terms apply to the Alpha Clinic rewards program" in page.get("/terms/").content.decode()


def test_an_empty_text_is_refused(owner_client):
    response = owner_client.post(TEXTS, {"terms": "  ", "privacy": "Ours."})

    assert response.status_code == 400
    assert not ProgramTexts.objects.filter(privacy="Ours.").exists()


def test_each_practice_has_its_own_terms(alpha, owner, beta_client):
    update_program_texts(actor=owner.user, terms="Alpha's own terms.", privacy="Alpha's notice.")

    beta_terms = beta_client.get("/terms/").content.decode()
    assert "Alpha's own terms." not in beta_terms
    assert "These terms apply to the Beta Dental rewards program" in beta_terms


def test_the_join_form_links_the_terms_it_asks_to_accept(alpha_client):
    page = alpha_client.get("/join/").content.decode()

    assert "I accept the practice&#x27;s rewards program terms" in page
    assert (
        'Read the <a href="/terms/" target="_blank" rel="noopener">program terms</a> and the '
        '<a href="/privacy/" target="_blank" rel="noopener">privacy notice</a>.'
    ) in page
    # The checkbox is described by that sentence.
    assert re.search(r'<input type="checkbox" name="accept_terms"[^>]*aria-describedby="id_accept_terms_helptext', page)


def test_every_patient_page_links_the_terms_and_privacy_notice_at_its_foot(alpha_client, alpha):
    for path in ("/", "/join/", "/terms/"):
        footer = alpha_client.get(path).content.decode().split('<footer class="patient-footer">')[1]
        assert '<a href="/terms/">Program terms</a>' in footer, path
        assert '<a href="/privacy/">Privacy notice</a>' in footer, path


def test_the_api_gives_the_terms_and_privacy_addresses_on_the_practices_host(alpha_client, alpha):
    answer = alpha_client.get("/api/v1/practice").json()

    host = f"http://{host_of('alpha')}:8000"
    assert answer["terms_url"] == f"{host}/terms/"
    assert answer["privacy_url"] == f"{host}/privacy/"
    brand = answer["branding"]
    assert (brand["short_name"], brand["primary_text_color"], brand["accent_text_color"]) == (
        "Alpha",
        "#ffffff",
        "#111111",
    )
    assert re.fullmatch(rf"{re.escape(host)}/icons/icon-512\.png\?v=[0-9a-f]{{12}}", brand["icon_url"])


def test_the_platforms_practice_lookup_gives_them_too(alpha):
    answer = Client(HTTP_HOST=settings.BASE_DOMAIN).get("/api/v1/practices/resolve", {"code": alpha.invite_code})

    assert answer.status_code == 200
    assert answer.json()["terms_url"] == f"http://{host_of('alpha')}:8000/terms/"
    assert answer.json()["privacy_url"] == f"http://{host_of('alpha')}:8000/privacy/"
