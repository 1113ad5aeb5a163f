"""Partners (managers and owners): add, edit, deactivate and reactivate; their codes and counts."""

import pytest

from loyalty.services import LineIn, record_purchase
from practices import audit
from referrals import services
from referrals.models import Partner, Referral, ReferralCode
from tests.factories import PatientFactory, sign_in_staff

SETUP = audit.System("test setup")  # data the test starts from


@pytest.fixture
def manager(alpha, alpha_client):
    return sign_in_staff(alpha_client, role="manager")


def form_data(**changes) -> dict:
    data = {
        "name": "Glow Studio",
        "kind": "business",
        "contact_name": "Gina Glow",
        "email": "gina@glow.test",
        "phone": "(415) 555-0199",
        "notes": "Posters at the front counter.",
        "is_active": "on",
        "referee_reward_kind": "default",
        "referee_points": "",
        "referee_credit": "",
        "referee_percent_off": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def partner(**fields) -> Partner:
    return services.save_partner(partner=Partner(**{"name": "Glow Studio", **fields}), actor=SETUP)


def test_a_manager_adds_a_partner_who_gets_a_code(manager, alpha_client):
    page = alpha_client.post("/staff/referrals/partners/new/", form_data(), follow=True).content.decode()

    added = Partner.objects.get()
    assert (added.name, added.kind, added.contact_name, added.email) == (
        "Glow Studio",
        "business",
        "Gina Glow",
        "gina@glow.test",
    )
    assert added.phone == "+14155550199"
    assert added.is_active
    assert added.referee_reward_kind == "default"
    code = ReferralCode.objects.get(partner=added)
    assert code.owner_kind == "partner"
    assert f"Glow Studio was added with the referral code {code.code}." in page
    assert code.code in page


def test_a_partner_can_have_their_own_new_patient_reward(manager, alpha_client):
    alpha_client.post("/staff/referrals/partners/new/", form_data(referee_reward_kind="credit", referee_credit="40"))

    added = Partner.objects.get()
    assert (added.referee_reward_kind, added.referee_credit_cents) == ("credit", 4000)
    spec = services.referee_spec(added.referral_code, services.referral_settings())
    assert spec.label == "$40.00 credit"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "  "}, "Give the partner a name."),
        ({"phone": "12"}, "That phone number isn&#x27;t valid."),
        ({"phone": "call me"}, "That doesn&#x27;t look like a phone number."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"referee_reward_kind": "percent", "referee_percent_off": "150"}, "Enter a discount from 1 to 100 percent."),
        ({"referee_reward_kind": "credit"}, "A credit reward needs an amount in dollars"),
        ({"referee_reward_kind": "points"}, "Enter the points, e.g. 250."),
    ],
)
def test_invalid_partners_are_explained(manager, alpha_client, changes, message):
    response = alpha_client.post("/staff/referrals/partners/new/", form_data(**changes))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Partner.objects.exists()


def test_an_empty_phone_is_fine(manager, alpha_client):
    alpha_client.post("/staff/referrals/partners/new/", form_data(phone=""))

    assert Partner.objects.get().phone == ""


def test_a_manager_edits_a_partner_and_the_code_stays(manager, alpha_client):
    glow = partner(phone="+14155550199")
    code = glow.referral_code.code

    form = alpha_client.get(f"/staff/referrals/partners/{glow.pk}/").content.decode()
    alpha_client.post(
        f"/staff/referrals/partners/{glow.pk}/",
        form_data(name="Glow Studio Downtown", referee_reward_kind="points", referee_points="300"),
    )

    assert 'value="(415) 555-0199"' in form
    glow.refresh_from_db()
    assert glow.name == "Glow Studio Downtown"
    assert (glow.referee_reward_kind, glow.referee_points) == ("points", 300)
    assert ReferralCode.objects.get(partner=glow).code == code


def test_the_list_shows_codes_and_counts(manager, alpha_client):
    glow = partner()
    code = glow.referral_code.code
    first = services.record_signup(patient=PatientFactory(), code=code, source="link")
    services.record_signup(patient=PatientFactory(), code=code, source="link")
    purchase, _ = record_purchase(
        patient=first.referred, lines=[LineIn(quantity=1, unit_price_cents=9_000, name="Peel")], source="desk"
    )
    services.qualify(purchase_id=purchase.pk)

    page = alpha_client.get("/staff/referrals/partners/").content.decode()

    assert code in page
    assert "Influencer" in page
    assert '<td class="num">2</td>' in page
    assert '<td class="num">1</td>' in page


def test_the_list_filters_active_and_searches(manager, alpha_client):
    partner(name="Glow Studio")
    partner(name="Old Gym", is_active=False)

    active = alpha_client.get("/staff/referrals/partners/", {"status": "active"}).content.decode()
    found = alpha_client.get("/staff/referrals/partners/", {"q": "gym"}).content.decode()

    assert "Glow Studio" in active and "Old Gym" not in active
    assert "Old Gym" in found and "Glow Studio" not in found


def test_no_partners_yet_explains_itself(manager, alpha_client):
    assert "No partners yet" in alpha_client.get("/staff/referrals/partners/").content.decode()


def test_deactivating_asks_first_and_stops_the_code(manager, alpha_client):
    glow = partner()
    code = glow.referral_code.code
    url = f"/staff/referrals/partners/{glow.pk}/active/"

    question = alpha_client.get(url).content.decode()
    assert "Deactivate Glow Studio?" in question and code in question
    glow.refresh_from_db()
    assert glow.is_active

    page = alpha_client.post(url, follow=True).content.decode()
    glow.refresh_from_db()
    assert not glow.is_active
    assert "sign-ups with their code" in page and "are no longer counted" in page

    referral = services.record_signup(patient=PatientFactory(), code=code, source="qr")
    assert (referral.status, referral.reason) == (Referral.Status.REJECTED, Referral.Reason.INACTIVE_CODE)


def test_reactivating_makes_the_code_work_again(manager, alpha_client):
    glow = partner(is_active=False)

    alpha_client.post(f"/staff/referrals/partners/{glow.pk}/active/")

    glow.refresh_from_db()
    assert glow.is_active
    referral = services.record_signup(patient=PatientFactory(), code=glow.referral_code.code, source="qr")
    assert referral.status == Referral.Status.PENDING


def test_the_front_desk_cannot_manage_partners(alpha, alpha_client):
    glow = partner()
    sign_in_staff(alpha_client, role="front_desk")

    assert alpha_client.get("/staff/referrals/partners/").status_code == 403
    assert alpha_client.post("/staff/referrals/partners/new/", form_data(name="Sneaky")).status_code == 403
    assert alpha_client.post(f"/staff/referrals/partners/{glow.pk}/active/").status_code == 403
    glow.refresh_from_db()
    assert glow.is_active
    assert Partner.objects.count() == 1
