"""A reward picture with too many pixels is refused from its header, before it is decoded (a 13,000 by
13,000 PNG of a few hundred bytes would take half a gigabyte of memory): a form error, never a 5xx."""

import pytest
from PIL import ImageFile

from rewards.models import Reward
from tests.factories import sign_in_staff
from tests.pictures import huge_png, png
from tests.rewards.test_staff_rewards import form_data


@pytest.fixture
def manager(alpha, alpha_client, media_root):
    return sign_in_staff(alpha_client, role="manager")


@pytest.fixture
def nothing_decoded(monkeypatch):
    def refuse(self):
        raise AssertionError("the picture was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_a_picture_over_the_pixel_limit_is_refused_before_decoding(manager, alpha_client, nothing_decoded):
    response = alpha_client.post("/staff/rewards/new/", {**form_data(), "upload": huge_png()})

    assert response.status_code == 200
    assert response.context["form"].errors["upload"] == [
        "This picture is 13,000 × 13,000 pixels; use one under 25 megapixels, e.g. 5,000 × 5,000."
    ]
    assert "13,000 × 13,000 pixels" in response.content.decode()
    assert not Reward.objects.exists()


def test_the_limit_is_a_setting(manager, alpha_client, settings):
    settings.MAX_IMAGE_PIXELS = 1_000_000

    response = alpha_client.post("/staff/rewards/new/", {**form_data(), "upload": png(1001, 1000)})

    assert response.context["form"].errors["upload"] == [
        "This picture is 1,001 × 1,000 pixels; use one under 1 megapixel, e.g. 1,000 × 1,000."
    ]


def test_a_picture_under_the_limit_is_taken(manager, alpha_client, settings):
    settings.MAX_IMAGE_PIXELS = 1_000_000

    response = alpha_client.post("/staff/rewards/new/", {**form_data(), "upload": png(1000, 1000)})

    assert response.status_code == 302
    assert Reward.objects.get().image
