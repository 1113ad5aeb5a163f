"""The voucher desk: checking a code, marking it used once, and cancelling it (managers)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_tenants.utils import tenant_context

from loyalty.models import LedgerEntry
from loyalty.services import post_points
from rewards.models import Redemption
from rewards.services import cancel_redemption, redeem_reward
from tests.factories import PatientFactory, RewardFactory, sign_in_staff

# 3:05 pm UTC is 11:05 am in New York, the practice's time zone.
AT_DESK = datetime(2025, 6, 2, 15, 5, tzinfo=UTC)


def issued_voucher(*, name: str = "Dana Smith", reward_name: str = "$50 credit") -> Redemption:
    first, last = name.split()
    patient = PatientFactory(user__first_name=first, user__last_name=last)
    post_points(account_id=patient.points_account.pk, delta=1000, kind=LedgerEntry.Kind.BONUS)
    return redeem_reward(patient=patient, reward=RewardFactory(name=reward_name, points_cost=400))


@pytest.fixture
def desk(alpha, alpha_client):
    return sign_in_staff(alpha_client, role="front_desk", first_name="Fran", last_name="Desk")


@pytest.fixture
def voucher(alpha):
    return issued_voucher()


def test_the_code_field_is_focused_for_typing_or_scanning(desk, alpha_client):
    page = alpha_client.get("/staff/vouchers/").content.decode()

    assert 'name="code"' in page and "autofocus" in page


def test_looking_up_a_code_shows_the_voucher_even_typed_lowercase_with_spaces(desk, alpha, alpha_client, voucher):
    code = voucher.voucher_code
    typed = f"{code[:4].lower()} {code[4:].lower()}"

    page = alpha_client.get("/staff/vouchers/", {"code": typed}).content.decode()

    assert code in page
    assert "$50 credit" in page and "$50.00 credit" in page
    assert "Dana Smith" in page and f'href="/staff/patients/{voucher.patient_id}/"' in page
    assert "Ready to use" in page
    # The date on the practice's calendar (near midnight UTC it is still the day before in New York).
    assert voucher.expires_at.astimezone(ZoneInfo(alpha.time_zone)).strftime("%b %-d, %Y") in page
    assert "Mark as used" in page


def test_an_unknown_code_is_a_form_error(desk, alpha_client):
    response = alpha_client.get("/staff/vouchers/", {"code": "ZZZZZZZZ"})

    assert response.context["form"].errors["code"] == ["No voucher has this code. Check the letters and digits."]
    assert "No voucher has this code." in response.content.decode()


def test_mark_as_used_asks_to_confirm_before_using(desk, alpha_client, voucher):
    page = alpha_client.post("/staff/vouchers/", {"code": voucher.voucher_code}).content.decode()

    assert f"Mark voucher {voucher.voucher_code} as used for Dana Smith?" in page
    assert 'name="step" value="confirm"' in page
    voucher.refresh_from_db()
    assert voucher.status == Redemption.Status.ISSUED


def test_confirming_uses_the_voucher_once(desk, alpha_client, voucher):
    with time_machine.travel(AT_DESK, tick=False):
        response = alpha_client.post(
            "/staff/vouchers/", {"code": voucher.voucher_code.lower(), "step": "confirm"}, follow=True
        )

    voucher.refresh_from_db()
    assert (voucher.status, voucher.used_by, voucher.used_via) == ("used", desk.user, "desk")
    page = response.content.decode()
    assert f"Voucher {voucher.voucher_code} was used: $50 credit for Dana Smith." in page
    assert "Already used on Jun 2, 2025, 11:05 AM by Fran Desk." in page
    assert "Mark as used" not in page


def test_a_second_attempt_says_when_and_by_whom_it_was_used(desk, alpha_client, voucher):
    with time_machine.travel(AT_DESK, tick=False):
        alpha_client.post("/staff/vouchers/", {"code": voucher.voucher_code, "step": "confirm"})
    sign_in_staff(alpha_client, role="front_desk", first_name="Other", last_name="Person")

    with time_machine.travel(AT_DESK + timedelta(hours=2)):
        response = alpha_client.post("/staff/vouchers/", {"code": voucher.voucher_code, "step": "confirm"})

    page = response.content.decode()
    assert response.context["problem"] == "Already used on Jun 2, 2025, 11:05 AM by Fran Desk."
    assert 'role="alert"><p>Already used on Jun 2, 2025, 11:05 AM by Fran Desk.</p>' in page
    voucher.refresh_from_db()
    assert voucher.used_by == desk.user


def test_an_expired_voucher_is_refused_with_the_reason(desk, alpha_client):
    with time_machine.travel(datetime.now(UTC) - timedelta(days=91)):
        voucher = issued_voucher()  # valid 90 days: expired yesterday, not yet swept by the expiry job

    lookup = alpha_client.get("/staff/vouchers/", {"code": voucher.voucher_code}).content.decode()
    response = alpha_client.post("/staff/vouchers/", {"code": voucher.voucher_code, "step": "confirm"})

    assert "This voucher expired on" in lookup and "Mark as used" not in lookup
    assert response.context["problem"].startswith(f"Voucher {voucher.voucher_code} expired on")
    voucher.refresh_from_db()
    assert voucher.status == Redemption.Status.ISSUED and voucher.used_at is None


def test_a_cancelled_voucher_is_refused_with_the_reason(desk, alpha_client, voucher):
    cancel_redemption(redemption=voucher)

    lookup = alpha_client.get("/staff/vouchers/", {"code": voucher.voucher_code}).content.decode()
    response = alpha_client.post("/staff/vouchers/", {"code": voucher.voucher_code, "step": "confirm"})

    assert "This voucher was cancelled on" in lookup
    assert "is cancelled" in response.context["problem"]
    voucher.refresh_from_db()
    assert voucher.status == Redemption.Status.CANCELLED


def test_front_desk_can_use_but_not_cancel(desk, alpha_client, voucher):
    page = alpha_client.get("/staff/vouchers/", {"code": voucher.voucher_code}).content.decode()

    assert "Cancel this voucher" not in page
    assert alpha_client.get(f"/staff/vouchers/{voucher.pk}/cancel/").status_code == 403
    assert alpha_client.post(f"/staff/vouchers/{voucher.pk}/cancel/").status_code == 403
    voucher.refresh_from_db()
    assert voucher.status == Redemption.Status.ISSUED


def test_a_manager_cancels_after_confirming_and_the_points_come_back(alpha, alpha_client, voucher):
    sign_in_staff(alpha_client, role="manager")
    lookup = alpha_client.get("/staff/vouchers/", {"code": voucher.voucher_code}).content.decode()
    assert f'href="/staff/vouchers/{voucher.pk}/cancel/"' in lookup

    confirm = alpha_client.get(f"/staff/vouchers/{voucher.pk}/cancel/").content.decode()
    voucher.refresh_from_db()
    assert f"Cancel voucher {voucher.voucher_code}?" in confirm and voucher.status == Redemption.Status.ISSUED

    response = alpha_client.post(f"/staff/vouchers/{voucher.pk}/cancel/", follow=True)

    voucher.refresh_from_db()
    voucher.patient.points_account.refresh_from_db()
    assert voucher.status == Redemption.Status.CANCELLED
    assert voucher.patient.points_account.balance == 1000
    assert "400 points went back to Dana Smith" in response.content.decode()


def test_cancelling_a_used_voucher_shows_why_it_cannot(alpha, alpha_client, voucher):
    sign_in_staff(alpha_client, role="manager")
    alpha_client.post("/staff/vouchers/", {"code": voucher.voucher_code, "step": "confirm"})

    response = alpha_client.post(f"/staff/vouchers/{voucher.pk}/cancel/", follow=True)

    assert "is used: it can" in response.content.decode()
    voucher.refresh_from_db()
    assert voucher.status == Redemption.Status.USED


def test_signed_out_visitors_are_sent_to_sign_in(alpha, alpha_client):
    response = alpha_client.get("/staff/vouchers/")

    assert response.status_code == 302 and "login" in response["Location"]


def test_another_practices_voucher_cannot_be_seen_or_used(desk, alpha_client, beta):
    with tenant_context(beta):
        theirs = issued_voucher(name="Bea Beta")

    lookup = alpha_client.get("/staff/vouchers/", {"code": theirs.voucher_code})
    use = alpha_client.post("/staff/vouchers/", {"code": theirs.voucher_code, "step": "confirm"})

    assert "No voucher has this code." in lookup.content.decode() and "Bea Beta" not in lookup.content.decode()
    assert "No voucher has this code." in use.content.decode()
    with tenant_context(beta):
        theirs.refresh_from_db()
        assert theirs.status == Redemption.Status.ISSUED


def test_another_practices_voucher_cannot_be_cancelled(alpha, alpha_client, beta):
    sign_in_staff(alpha_client, role="manager")
    with tenant_context(beta):
        theirs = issued_voucher(name="Bea Beta")
    issued_voucher()  # alpha has a voucher too, possibly with the same id

    alpha_client.post(f"/staff/vouchers/{theirs.pk}/cancel/")

    with tenant_context(beta):
        theirs.refresh_from_db()
        assert theirs.status == Redemption.Status.ISSUED
