"""The voucher desk's list of vouchers (ready to use by default; filters by status, reward and date of issue,
pages of 50) and its camera scanner."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings

from loyalty.models import LedgerEntry
from loyalty.services import post_points
from rewards.models import Redemption
from rewards.services import cancel_redemption, redeem_reward
from tests.factories import PatientFactory, RewardFactory, sign_in_staff

LIST = "/staff/vouchers/list/"
# Noon in New York (the practice's time zone) on June 2 and June 10, 2025.
JUNE_2 = datetime(2025, 6, 2, 16, 0, tzinfo=UTC)
JUNE_10 = datetime(2025, 6, 10, 16, 0, tzinfo=UTC)


@pytest.fixture
def desk(alpha, alpha_client):
    return sign_in_staff(alpha_client, role="front_desk")


@pytest.fixture
def facial(alpha):
    return RewardFactory(name="Free facial", points_cost=100)


def voucher(reward, *, name: str = "Dana Smith", at: datetime = JUNE_2) -> Redemption:
    first, last = name.split()
    patient = PatientFactory(user__first_name=first, user__last_name=last)
    post_points(account_id=patient.points_account.pk, delta=reward.points_cost, kind=LedgerEntry.Kind.BONUS)
    with time_machine.travel(at, tick=False):
        return redeem_reward(patient=patient, reward=reward)


def codes(page: str) -> list[str]:
    return re.findall(r"<td><code>([A-Z0-9]+)</code></td>", page)


def listed(client, **query) -> str:
    with time_machine.travel(JUNE_10 + timedelta(hours=1), tick=False):
        response = client.get(LIST, query)
    assert response.status_code == 200
    return response.content.decode()


def test_the_list_shows_the_vouchers_ready_to_use_newest_first(desk, alpha_client, facial):
    older = voucher(facial, name="Ann Able")
    newer = voucher(facial, name="Ben Baker", at=JUNE_10)
    used = voucher(facial, name="Cal Cole")
    Redemption.objects.filter(pk=used.pk).update(status=Redemption.Status.USED, used_at=JUNE_10)
    cancelled = voucher(facial, name="Dot Dale")
    cancel_redemption(redemption=cancelled)
    lapsed = voucher(facial, name="Eve Eddy")
    Redemption.objects.filter(pk=lapsed.pk).update(expires_at=JUNE_2 + timedelta(days=1))

    page = listed(alpha_client)

    assert codes(page) == [newer.voucher_code, older.voucher_code]
    assert "Vouchers not used yet" in page and "2 vouchers" in page
    assert f'href="/staff/vouchers/?code={newer.voucher_code}">Use' in page
    assert "Ben Baker" in page and "Free facial" in page


def test_filters_by_status_reward_and_date_of_issue(desk, alpha_client, facial):
    peel = RewardFactory(name="Peel", points_cost=100)
    june_2 = voucher(facial, name="Ann Able")
    june_10 = voucher(facial, name="Ben Baker", at=JUNE_10)
    other = voucher(peel, name="Cal Cole")
    used = voucher(peel, name="Dot Dale")
    Redemption.objects.filter(pk=used.pk).update(status=Redemption.Status.USED, used_at=JUNE_10)
    lapsed = voucher(peel, name="Eve Eddy")
    Redemption.objects.filter(pk=lapsed.pk).update(expires_at=JUNE_2 + timedelta(days=1))

    assert codes(listed(alpha_client, reward=facial.pk)) == [june_10.voucher_code, june_2.voucher_code]
    assert codes(listed(alpha_client, since="2025-06-03")) == [june_10.voucher_code]
    assert codes(listed(alpha_client, until="2025-06-02", reward=peel.pk)) == [other.voucher_code]
    assert codes(listed(alpha_client, status="used")) == [used.voucher_code]
    expired = listed(alpha_client, status="expired")
    assert codes(expired) == [lapsed.voucher_code] and "Expired" in expired
    assert len(codes(listed(alpha_client, status="all"))) == 5


def test_wrong_filters_say_what_to_fix_and_show_the_vouchers_ready_to_use(desk, alpha_client, facial):
    ready = voucher(facial)

    page = listed(alpha_client, since="2025-06-09", until="2025-06-01", status="nonsense", reward="x")

    assert "The end date must be on or after the start date." in page
    assert codes(page) == [ready.voucher_code]


@pytest.mark.parametrize("field", ["since", "until"])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_dates_out_of_any_range_say_what_to_fix(desk, alpha_client, facial, field, day):
    ready = voucher(facial)

    page = listed(alpha_client, **{field: day})

    assert "Enter a date between 2000 and 2100." in page
    assert codes(page) == [ready.voucher_code]


def test_the_list_comes_in_pages_of_fifty(desk, alpha_client, facial):
    for number in range(51):
        voucher(facial, name=f"Pat{number:02d} Smith")

    first = listed(alpha_client)
    second = listed(alpha_client, page=2)

    assert len(codes(first)) == 50 and len(codes(second)) == 1
    assert "51 vouchers" in first and 'href="/staff/vouchers/list/?page=2"' in first


def test_the_voucher_page_offers_the_camera_with_a_vendored_decoder(desk, alpha_client):
    page = alpha_client.get("/staff/vouchers/").content.decode()

    decoder = re.search(r'data-decoder="/static/([^"]+)"', page).group(1)
    assert (Path(settings.BASE_DIR) / "static" / decoder).is_file()
    assert "data-scanner" in page and "Scan with the camera" in page
    assert '<script src="/static/js/voucher-scan.js" defer></script>' in page
    assert 'href="/staff/vouchers/list/"' in page


def test_patients_cannot_see_the_list(alpha, alpha_client):
    patient = PatientFactory()
    alpha_client.force_login(patient.user)

    assert alpha_client.get(LIST).status_code == 403
