"""Link previews: a share link (/r/<code>) and the join page carry Open Graph and Twitter card tags, so chat apps
show the practice's picture, who invites and the offer instead of a bare address. Every address is absolute, on
the practice's host."""

import html
import io
import re

import pytest
from django.test import Client
from PIL import Image

from referrals.codes import code_for_patient
from referrals.models import RewardKind
from tests.conftest import host_of

HOST = f"http://{host_of('alpha')}:8000"


def tags(page: str) -> dict[str, str]:
    found = re.findall(r'<meta (?:property|name)="((?:og|twitter):[^"]+|description)" content="([^"]*)">', page)
    return {name: html.unescape(content) for name, content in found}


@pytest.fixture(autouse=True)
def _media(media_root):
    return media_root


def test_a_share_link_previews_who_invites_and_the_welcome_offer(alpha_client, program, jane_code):
    page = alpha_client.get(f"/r/{jane_code.code}").content.decode()

    meta = tags(page)
    assert meta["og:title"] == meta["twitter:title"] == "Jane invited you to join Alpha Aesthetics rewards"
    assert meta["og:description"] == meta["twitter:description"] == meta["description"]
    assert meta["og:description"] == "Your welcome reward: 250 points after your first purchase of $100 or more."
    assert meta["og:url"] == f"{HOST}/r/{jane_code.code}"
    assert meta["og:site_name"] == "Alpha Aesthetics"
    assert meta["twitter:card"] == "summary_large_image"
    assert re.fullmatch(rf"{re.escape(HOST)}/icons/share\.png\?v=[0-9a-f]{{12}}", meta["og:image"])
    assert meta["twitter:image"] == meta["og:image"]
    assert (meta["og:image:width"], meta["og:image:height"], meta["og:image:type"]) == ("1200", "630", "image/png")


def test_the_preview_picture_is_served_at_the_size_the_tags_say(alpha_client, program, jane_code):
    image_url = tags(alpha_client.get(f"/r/{jane_code.code}").content.decode())["og:image"]

    response = Client(HTTP_HOST=host_of("alpha")).get(image_url.removeprefix(HOST))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (1200, 630)


def test_a_share_link_without_a_welcome_reward_previews_the_program(alpha_client, program, jane_code):
    program.referee_reward_kind = RewardKind.NONE
    program.save()

    meta = tags(alpha_client.get(f"/r/{jane_code.code}").content.decode())

    assert meta["og:description"] == "Earn points every time you visit and turn them into treatments and products."


def test_the_join_page_previews_the_program(alpha_client, alpha):
    meta = tags(alpha_client.get("/join/?code=ABC").content.decode())

    assert meta["og:title"] == "Join Alpha Aesthetics rewards"
    assert meta["og:description"].startswith("Earn points every time you visit")
    assert meta["og:url"] == f"{HOST}/join/"
    assert meta["og:image"].startswith(f"{HOST}/icons/share.png?v=")


def test_names_in_the_preview_are_escaped(alpha_client, alpha, jane):
    jane.user.first_name = 'Jane"><script>'
    jane.user.save()

    page = alpha_client.get(f"/r/{code_for_patient(jane).code}").content.decode()

    assert "<script>" not in page
    assert tags(page)["og:title"] == 'Jane"><script> invited you to join Alpha Aesthetics rewards'
