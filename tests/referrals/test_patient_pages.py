"""The patient side of referrals on the web: the share link's landing page, joining through it, the
patient's referrals page (code, QR code, text a friend, friends referred) and the home card."""

import html
import io
import re
from datetime import timedelta

import pytest
import time_machine
import zxingcpp
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from PIL import Image

from patients import sms
from patients.models import Patient
from referrals import services
from referrals.codes import code_for_patient
from referrals.models import Milestone, Referral, ReferralSettings, Visit
from tests.conftest import host_of
from tests.factories import PatientFactory, sign_in_staff

FRIEND_PHONE = "+16505550142"


@pytest.fixture(autouse=True)
def empty_outbox():
    sms.reset_outbox()
    yield
    sms.reset_outbox()


@pytest.fixture(autouse=True)
def commit_each_request(monkeypatch, django_capture_on_commit_callbacks):
    """Run each request's on-commit work (SMS tasks, the patient_joined signal) when it ends, as a commit would."""
    original = Client.post

    def post(self, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return original(self, *args, **kwargs)

    monkeypatch.setattr(Client, "post", post)


@pytest.fixture
def jane(alpha):
    return PatientFactory(user__first_name="Jane", user__last_name="Doe", terms_accepted_at=timezone.now())


@pytest.fixture
def code(jane):
    return code_for_patient(jane)


@pytest.fixture
def signed_in(alpha_client, jane):
    alpha_client.force_login(jane.user)
    return jane


def program(**values) -> ReferralSettings:
    row = services.referral_settings()
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    return row


def visits() -> dict[str, int]:
    return {visit.source: visit.count for visit in Visit.objects.all()}


def new_browser() -> Client:
    return Client(HTTP_HOST=host_of("alpha"))


def button_href(page: str) -> str:
    return html.unescape(re.search(r'<a class="button wide" href="([^"]+)"', page).group(1))


def input_value(page: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
    value = re.search(r'value="([^"]*)"', tag)
    return html.unescape(value.group(1)) if value else ""


def referred_friend(code, *, first_name: str, last_name: str, phone: str) -> Referral:
    friend = PatientFactory(user__first_name=first_name, user__last_name=last_name, user__phone=phone)
    return services.record_signup(patient=friend, code=code.code, source="link")


def reward(referral: Referral) -> None:
    Referral.objects.filter(pk=referral.pk).update(status=Referral.Status.QUALIFIED, qualified_at=timezone.now())
    services.issue_rewards(referral_id=referral.pk)


# ---------------------------------------------------------------- the share link


def test_the_share_page_names_the_referrer_and_what_the_friend_gets(alpha_client, code):
    page = alpha_client.get(f"/r/{code.code}").content.decode()

    assert "Jane invited you to join Alpha Aesthetics rewards" in page
    assert "<strong>250 points</strong>" in page
    assert "after your first purchase of $50 or more" in page
    assert "Join with Jane's code" in page
    assert button_href(page) == f"/join/?code={code.code}&src=link"
    assert "Doe" not in page


def test_visits_are_counted_per_source(alpha, code):
    for query in ("?src=qr", "?src=sms", "", "?src=poster"):
        page = new_browser().get(f"/r/{code.code}{query}").content.decode()
        assert "Jane invited you" in page

    assert visits() == {"qr": 1, "sms": 1, "link": 2}


def test_the_join_button_keeps_the_source(alpha_client, code):
    page = alpha_client.get(f"/r/{code.code}", {"src": "qr"}).content.decode()
    assert button_href(page) == f"/join/?code={code.code}&src=qr"


def test_a_reload_within_minutes_is_not_another_visit(alpha_client, code):
    alpha_client.get(f"/r/{code.code}?src=qr")
    alpha_client.get(f"/r/{code.code}?src=qr")
    assert visits() == {"qr": 1}

    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        alpha_client.get(f"/r/{code.code}?src=qr")
    assert visits() == {"qr": 2}


def test_the_code_in_the_link_is_case_insensitive(alpha_client, code):
    response = alpha_client.get(f"/r/{code.code.lower()}")
    assert response.status_code == 200
    assert button_href(response.content.decode()) == f"/join/?code={code.code}&src=link"
    assert visits() == {"link": 1}


def test_an_unknown_code_gets_a_friendly_404_with_a_plain_join_button(alpha_client, code):
    response = alpha_client.get("/r/NOPE999?src=qr")

    page = response.content.decode()
    assert response.status_code == 404
    assert "This invite link isn't active" in page
    assert "Alpha Aesthetics" in page
    assert button_href(page) == "/join/"
    assert visits() == {}


def test_an_inactive_code_explains_and_counts_nothing(alpha_client, code):
    services.set_code_active(code=code, is_active=False)

    response = alpha_client.get(f"/r/{code.code}")

    page = response.content.decode()
    assert "This invite link isn't active" in page and "no longer in use" in page
    assert button_href(page) == "/join/"
    assert "Jane" not in page
    assert visits() == {}


def test_a_link_while_referrals_are_off_explains_and_counts_nothing(alpha_client, code):
    program(enabled=False)

    page = alpha_client.get(f"/r/{code.code}").content.decode()

    assert "Referrals are paused at Alpha Aesthetics" in page
    assert button_href(page) == "/join/"
    assert visits() == {}


def test_a_signed_in_member_is_sent_home_instead_of_joining(alpha_client, code):
    member = PatientFactory(terms_accepted_at=timezone.now())
    alpha_client.force_login(member.user)

    page = alpha_client.get(f"/r/{code.code}").content.decode()

    assert "Jane invited you" in page
    assert "You're already a member" in page
    assert button_href(page) == "/"
    assert "/join/?code=" not in page


def test_the_owner_opening_their_own_link_is_not_counted(alpha_client, signed_in, code):
    page = alpha_client.get(f"/r/{code.code}").content.decode()
    assert "This is your own invite link" in page
    assert visits() == {}


def test_a_code_of_another_practice_is_unknown_here(beta_client, code):
    response = beta_client.get(f"/r/{code.code}")

    page = response.content.decode()
    assert response.status_code == 404
    assert "This invite link isn't active" in page
    assert "Jane" not in page and "Beta Dental" in page
    with tenant_context(response.wsgi_request.tenant):
        assert not Visit.objects.exists()


@pytest.mark.parametrize("source", ["qr", "sms", "link"])
def test_joining_with_the_link_button_makes_a_pending_referral(alpha_client, code, source):
    landing = alpha_client.get(f"/r/{code.code}", {"src": source}).content.decode()
    join_page = alpha_client.get(button_href(landing)).content.decode()
    assert input_value(join_page, "code") == code.code
    assert input_value(join_page, "source") == source

    response = alpha_client.post(
        "/join/",
        {
            "phone": "(650) 555-0142",
            "first_name": "Sam",
            "last_name": "Lee",
            "birthday": "1991-02-03",
            "code": input_value(join_page, "code"),
            "source": input_value(join_page, "source"),
            "accept_terms": "on",
        },
    )
    assert response["Location"] == "/join/verify/", response.content.decode()[:2000]
    [text] = [m.body for m in sms.outbox if m.to == FRIEND_PHONE]
    alpha_client.post("/join/verify/", {"code": re.search(r"\b(\d{6})\b", text).group(1)})

    friend = Patient.objects.get(user__phone=FRIEND_PHONE)
    referral = Referral.objects.get(referred=friend)
    assert (referral.code, referral.status, referral.source) == (code, Referral.Status.PENDING, source)
    assert friend.source == Patient.Source.REFERRAL


# ---------------------------------------------------------------- the referrals page


def test_the_referrals_page_needs_a_signed_in_patient(alpha_client, alpha):
    assert alpha_client.get("/referrals/")["Location"] == "/signin/?next=/referrals/"
    sign_in_staff(alpha_client)
    assert alpha_client.get("/referrals/").status_code == 403


def test_the_page_shows_the_code_link_qr_and_what_each_side_gets(alpha_client, signed_in, code):
    page = alpha_client.get("/referrals/").content.decode()

    assert f"<strong>{code.code}</strong>" in page
    assert f"/r/{code.code}?src=link" in page
    assert "data-share-url=" in page and "js/referrals.js" in page
    assert '<svg class="qr"' in page
    assert 'href="/referrals/qr.png"' in page
    assert "Your friend gets <strong>250 points</strong> and you get <strong>500 points</strong>" in page
    assert "first purchase of $50 or more" in page
    assert "No friends yet" in page


def test_the_page_lists_friends_by_first_name_and_last_initial_only(alpha_client, signed_in, code):
    waiting = referred_friend(code, first_name="Anna", last_name="Bellweather", phone="+16505550101")
    rewarded = referred_friend(code, first_name="Carl", last_name="Dunmore", phone="+16505550102")
    reward(rewarded)

    page = alpha_client.get("/referrals/").content.decode()

    assert "Anna B." in page and "Carl D." in page
    for secret in ("Bellweather", "Dunmore", "6505550101", "555-0101", "555-0102", "650"):
        assert secret not in page
    anna, carl = page.index("Anna B."), page.index("Carl D.")
    assert carl < anna  # newest first
    assert "Joined · waiting for their first purchase" in page[anna:]
    assert "Rewarded" in page[carl:anna] and "You earned 500 points" in page[carl:anna]
    assert "<strong>2</strong> joined" in page
    assert "<strong>1</strong> rewarded" in page
    assert "<strong>500</strong> points earned from referrals" in page
    assert waiting.status == Referral.Status.PENDING


def test_a_friend_over_the_yearly_limit_is_listed_as_not_counted(alpha_client, signed_in, code):
    program(yearly_limit=1)
    referred_friend(code, first_name="Anna", last_name="Bell", phone="+16505550101")
    referred_friend(code, first_name="Carl", last_name="Dunn", phone="+16505550102")

    page = alpha_client.get("/referrals/").content.decode()

    assert "Not counted (you had reached this year&#x27;s referral limit)" in page
    assert "up to 1 friend a year: 0 left this year" in page
    assert "<strong>1</strong> joined" in page


def test_milestones_and_a_reversed_referral_are_shown(alpha_client, signed_in, code):
    Milestone.objects.create(count=1, points=300)
    referral = referred_friend(code, first_name="Anna", last_name="Bell", phone="+16505550101")
    reward(referral)
    Referral.objects.filter(pk=referral.pk).update(status=Referral.Status.REVERSED)

    page = alpha_client.get("/referrals/").content.decode()

    assert "Bonus: 300 points when you reach 1 qualified friend." in page
    assert "Milestone bonus (1 friends): 300 points" in page
    assert "Reversed · their purchase was refunded" in page


def test_a_patient_who_joined_with_a_rejected_code_sees_why(alpha_client, alpha):
    response = alpha_client.post(
        "/join/",
        {
            "phone": "(650) 555-0142",
            "first_name": "Sam",
            "last_name": "Lee",
            "birthday": "1991-02-03",
            "code": "nope 77",
            "accept_terms": "on",
        },
    )
    assert response["Location"] == "/join/verify/"
    text = next(m.body for m in sms.outbox if m.to == FRIEND_PHONE and "your code is" in m.body)
    alpha_client.post("/join/verify/", {"code": re.search(r"\b(\d{6})\b", text).group(1)})

    page = alpha_client.get("/referrals/").content.decode()

    assert "The code you joined with" in page
    assert "The code NOPE77 could not be used as a referral: the code is unknown." in page


def test_a_patient_who_joined_with_a_friends_code_sees_their_welcome_reward_terms(alpha_client, code):
    friend = PatientFactory(user__first_name="Sam", terms_accepted_at=timezone.now())
    services.record_signup(patient=friend, code=code.code, source="link")
    alpha_client.force_login(friend.user)

    page = alpha_client.get("/referrals/").content.decode()

    assert f"You joined with Jane&#x27;s code {code.code}." in page
    assert "Your welcome reward of 250 points comes after your first purchase of $50 or more." in page


def test_referrals_turned_off_hide_sharing(alpha_client, signed_in, code):
    program(enabled=False)

    page = alpha_client.get("/referrals/").content.decode()

    assert "Referrals are paused at Alpha Aesthetics" in page
    assert f"/r/{code.code}" not in page
    assert '<svg class="qr"' not in page and "Send the invitation" not in page
    assert alpha_client.get("/referrals/qr.png").status_code == 404
    stale_form = alpha_client.post("/referrals/", {"phone": FRIEND_PHONE}, follow=True).content.decode()
    assert "Sharing is paused at the moment, so no invitation was sent." in stale_form
    assert sms.outbox == []


# ---------------------------------------------------------------- text a friend


def test_texting_a_friend_sends_the_share_link(alpha_client, signed_in, code):
    response = alpha_client.post("/referrals/", {"phone": "(650) 555-0142", "name": "Sam"}, follow=True)

    assert "Invitation sent to Sam." in response.content.decode()
    [text] = [m for m in sms.outbox if m.to == FRIEND_PHONE]
    assert text.body.startswith("Hi Sam! Jane invites you to join Alpha Aesthetics rewards")
    assert f"/r/{code.code}?src=sms" in text.body


@pytest.mark.parametrize(
    ("phone", "error"),
    [
        ("12345", "That phone number isn&#x27;t valid"),
        ("own", "That&#x27;s your own number"),
        ("member", "That number already belongs to a member of the practice."),
        ("", "Enter your friend&#x27;s mobile number."),
    ],
)
def test_texting_a_friend_refuses_bad_numbers_with_a_form_error(alpha_client, signed_in, code, phone, error):
    if phone == "own":
        phone = signed_in.phone
    elif phone == "member":
        phone = PatientFactory(user__phone=FRIEND_PHONE).phone

    response = alpha_client.post("/referrals/", {"phone": phone})

    page = response.content.decode()
    assert response.status_code == 200
    assert error in page and 'class="field-error"' in page
    assert sms.outbox == []


def test_the_sixth_text_in_a_day_is_refused(alpha_client, signed_in, code):
    for n in range(5):
        response = alpha_client.post("/referrals/", {"phone": f"+1650555020{n}"})
        assert response.status_code == 302

    page = alpha_client.post("/referrals/", {"phone": "+16505550299"}).content.decode()

    assert "You can text 5 friends a day. Try again tomorrow." in page
    assert [m.to for m in sms.outbox] == [f"+1650555020{n}" for n in range(5)]


def test_a_number_texted_recently_is_not_texted_again(alpha_client, signed_in, code):
    alpha_client.post("/referrals/", {"phone": FRIEND_PHONE})

    page = alpha_client.post("/referrals/", {"phone": "650 555 0142"}).content.decode()

    assert "That number got an invitation recently." in page
    assert len(sms.outbox) == 1


# ---------------------------------------------------------------- QR code


def decode(png: bytes) -> str:
    [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return barcode.text


def test_the_png_qr_code_decodes_to_the_share_link(alpha_client, signed_in, code):
    response = alpha_client.get("/referrals/qr.png")

    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f'attachment; filename="alpha-invite-{code.code}.png"'
    assert decode(response.content).endswith(f"/r/{code.code}?src=qr")


def test_the_png_qr_code_with_the_practice_logo_still_decodes(alpha_client, alpha, signed_in, code, media_root):
    logo = io.BytesIO()
    Image.new("RGB", (300, 300), "#c026d3").save(logo, format="PNG")
    alpha.logo.save("logo.png", ContentFile(logo.getvalue()))
    plain = new_browser()
    plain.force_login(signed_in.user)

    png = plain.get("/referrals/qr.png").content

    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.getpixel((image.width // 2, image.height // 2)) == (192, 38, 211)  # the logo is in the centre
    assert decode(png).endswith(f"/r/{code.code}?src=qr")


# ---------------------------------------------------------------- home card and navigation


def test_the_home_card_shows_the_code_and_counts(alpha_client, signed_in, code):
    reward(referred_friend(code, first_name="Anna", last_name="Bell", phone="+16505550101"))
    referred_friend(code, first_name="Carl", last_name="Dunn", phone="+16505550102")

    page = alpha_client.get("/").content.decode()

    card = page[page.index('id="referrals-heading"') :]
    assert f"<strong>{code.code}</strong>" in card
    assert f"/r/{code.code}?src=link" in card and "data-share-url=" in card
    assert "<strong>2</strong> friends joined · <strong>1</strong> rewarded" in card
    assert 'href="/referrals/"' in card


def test_the_patient_navigation_links_to_referrals(alpha_client, signed_in):
    page = alpha_client.get("/rewards/").content.decode()
    nav = page[page.index('class="patient-nav"') : page.index("</nav>")]
    assert nav.index(">Rewards<") < nav.index('<a href="/referrals/">Refer a friend</a>')
