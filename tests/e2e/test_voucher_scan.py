"""The voucher desk reads a voucher's QR code with the camera: Chromium's fake camera films the patient's
QR code (a video file made here), the page decodes it (with the vendored jsQR: this Chromium has no
BarcodeDetector) and looks the voucher up, then the desk marks it used."""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import qrcode
from django.conf import settings
from django.db import connections
from PIL import Image
from playwright.sync_api import Browser, expect, sync_playwright

from loyalty.models import LedgerEntry
from loyalty.services import post_points
from practices.models import StaffMember
from rewards.models import Redemption
from rewards.services import redeem_reward
from tests.e2e.conftest import chromium_path
from tests.e2e.steps import staff_sign_in
from tests.factories import PatientFactory, RewardFactory, StaffMemberFactory

WIDTH, HEIGHT = 640, 480
CODE = "HJKM2345"  # what the voucher's QR code holds (the test gives the voucher this code)


def qr_video(path: Path, text: str) -> Path:
    """A short Y4M video of `text`'s QR code on white, as a phone held up to the camera would show it."""
    code = qrcode.QRCode(border=4, box_size=10)
    code.add_data(text)
    picture = code.make_image().convert("L")
    side = min(WIDTH, HEIGHT) - 40
    frame = Image.new("L", (WIDTH, HEIGHT), 255)
    frame.paste(picture.resize((side, side)), ((WIDTH - side) // 2, (HEIGHT - side) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * (WIDTH * HEIGHT // 4)
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            video.write(b"FRAME\n" + luma + chroma + chroma)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Browser]:
    """This module's Chromium has a fake camera filming the voucher's QR code, and may use it without asking."""
    executable, _ = chromium_path()
    video = qr_video(tmp_path_factory.mktemp("camera") / "voucher.y4m", CODE)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # as in conftest.browser
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable,
                args=[
                    f"--host-resolver-rules=MAP *.{settings.BASE_DOMAIN} 127.0.0.1",
                    "--disable-gpu",
                    "--use-fake-device-for-media-stream",
                    "--use-fake-ui-for-media-stream",
                    f"--use-file-for-fake-video-capture={video}",
                ],
            )
            try:
                yield browser
            finally:
                connections.close_all()
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.mark.django_db(transaction=True)
def test_the_desk_scans_a_voucher_with_the_camera_and_uses_it(person):
    patient = PatientFactory(user__first_name="Vera", user__last_name="Voucher")
    post_points(account_id=patient.points_account.pk, delta=500, kind=LedgerEntry.Kind.BONUS)
    voucher = redeem_reward(patient=patient, reward=RewardFactory(name="Free facial", points_cost=500))
    Redemption.objects.filter(pk=voucher.pk).update(voucher_code=CODE)
    desk = StaffMemberFactory(role=StaffMember.Role.FRONT_DESK, user__first_name="Dana", user__last_name="Desk")

    page = person("front desk")
    staff_sign_in(page, desk, next_page="/staff/vouchers/")
    page.wait_for_load_state()
    page.get_by_role("button", name="Scan with the camera").click()

    expect(page.get_by_role("heading", name=f"Voucher {CODE}")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/staff/vouchers/\?code={CODE}$"))
    expect(page.get_by_text("Vera Voucher")).to_be_visible()
    page.get_by_role("button", name="Mark as used").click()
    page.get_by_role("button", name="Yes, mark as used").click()

    expect(page.get_by_text(f"Voucher {CODE} was used: Free facial for Vera Voucher.")).to_be_visible()
    voucher.refresh_from_db()
    assert voucher.status == Redemption.Status.USED and voucher.used_by == desk.user
