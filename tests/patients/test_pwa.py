"""The installable patient app: the per-practice manifest and icons, the service worker and its offline page."""

import io
import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.test import RequestFactory
from PIL import Image

from practices.models import Practice
from practices.selectors import branding

LOGO_RED = (200, 30, 30)


@pytest.fixture(autouse=True)
def _media(media_root):
    return media_root


def give_logo(practice: Practice, colour=LOGO_RED, size=(256, 256)) -> None:
    png = io.BytesIO()
    Image.new("RGB", size, colour).save(png, format="PNG")
    practice.logo.save("logo.png", ContentFile(png.getvalue()))


def picture(client, url: str) -> Image.Image:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def hex_of(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb[:3])


def test_the_manifest_is_branded_with_the_practice(alpha_client, alpha):
    Practice.objects.filter(pk=alpha.pk).update(primary_color="#123456")

    response = alpha_client.get("/manifest.webmanifest")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["name"] == "Alpha Aesthetics"
    assert manifest["short_name"] == "Alpha"
    assert manifest["theme_color"] == "#123456"
    assert manifest["background_color"] == "#ffffff"
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("/", "/", "standalone")


def test_the_manifest_offers_icons_at_192_and_512_plain_and_maskable(alpha_client, alpha):
    icons = alpha_client.get("/manifest.webmanifest").json()["icons"]

    assert [(icon["sizes"], icon["type"], icon["purpose"]) for icon in icons] == [
        ("192x192", "image/png", "any"),
        ("512x512", "image/png", "any"),
        ("192x192", "image/png", "maskable"),
        ("512x512", "image/png", "maskable"),
    ]
    for icon in icons:
        assert re.fullmatch(r"/icons/(icon|maskable)-(192|512)\.png\?v=[0-9a-f]{12}", icon["src"])
        # What the manifest promises is what is served.
        side = int(icon["sizes"].split("x")[0])
        assert picture(alpha_client, icon["src"]).size == (side, side)


def test_the_owners_short_name_is_the_home_screen_label(alpha_client, alpha):
    Practice.objects.filter(pk=alpha.pk).update(short_name="Alpha Aes.")

    assert alpha_client.get("/manifest.webmanifest").json()["short_name"] == "Alpha Aes."


def test_each_practice_gets_its_own_manifest(beta_client, beta):
    manifest = beta_client.get("/manifest.webmanifest").json()
    assert manifest["name"] == manifest["short_name"] == "Beta Dental"


def test_the_icons_are_drawn_from_the_practices_logo(alpha_client, alpha):
    Practice.objects.filter(pk=alpha.pk).update(primary_color="#123456")
    alpha.refresh_from_db()
    give_logo(alpha)
    icons = {
        icon["src"].split("?")[0]: icon["src"] for icon in alpha_client.get("/manifest.webmanifest").json()["icons"]
    }

    plain = picture(alpha_client, icons["/icons/icon-512.png"])
    assert plain.getpixel((0, 0))[:3] == LOGO_RED  # the logo fills the icon
    maskable = picture(alpha_client, icons["/icons/maskable-512.png"])
    # Maskable: the logo inside the safe zone, on the brand colour to the edges.
    assert hex_of(maskable.getpixel((0, 0))) == "#123456"
    assert maskable.getpixel((256, 256))[:3] == LOGO_RED
    assert maskable.getpixel((256, 256 - 512 * 56 // 200 + 4))[:3] == LOGO_RED  # the logo reaches 56 % of the side
    assert hex_of(maskable.getpixel((256, 40))) == "#123456"  # well outside the safe zone's square


def test_the_apple_touch_icon_is_opaque_at_180_pixels(alpha_client, alpha):
    png = io.BytesIO()
    Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(png, format="PNG")  # a fully transparent logo
    alpha.logo.save("logo.png", ContentFile(png.getvalue()))

    icon = picture(alpha_client, "/icons/apple-touch-icon.png")

    assert icon.size == (180, 180)
    assert icon.mode == "RGB"  # iOS would fill transparency with black
    assert icon.getpixel((90, 90)) == (255, 255, 255)


def test_without_a_logo_the_icons_show_the_initials_on_the_brand_colour(alpha_client, alpha):
    Practice.objects.filter(pk=alpha.pk).update(primary_color="#123456")

    icon = picture(alpha_client, "/icons/icon-192.png")

    assert icon.size == (192, 192)
    assert hex_of(icon.getpixel((2, 2))) == "#123456"
    # White initials (the text colour that reads on #123456) in the middle.
    colours = {colour[:3] for _count, colour in icon.crop((48, 48, 144, 144)).getcolors(maxcolors=192 * 192)}
    assert (255, 255, 255) in colours


def test_a_new_logo_gives_new_icon_addresses_and_new_pictures(alpha_client, alpha):
    give_logo(alpha, colour=(200, 30, 30))
    first = alpha_client.get("/manifest.webmanifest").json()["icons"][0]["src"]
    assert picture(alpha_client, first).getpixel((96, 96))[:3] == (200, 30, 30)

    give_logo(alpha, colour=(30, 30, 200))
    second = alpha_client.get("/manifest.webmanifest").json()["icons"][0]["src"]

    assert second != first
    assert picture(alpha_client, second).getpixel((96, 96))[:3] == (30, 30, 200)


def test_icons_asked_for_with_their_version_are_cached_for_a_year(alpha_client, alpha):
    src = alpha_client.get("/manifest.webmanifest").json()["icons"][0]["src"]

    assert alpha_client.get(src)["Cache-Control"] == "public, max-age=31536000, immutable"
    assert alpha_client.get("/icons/icon-192.png")["Cache-Control"] == "public, max-age=3600"
    assert alpha_client.get("/icons/icon-192.png?v=old")["Cache-Control"] == "public, max-age=3600"


def test_an_unknown_icon_is_not_found(alpha_client, alpha):
    assert alpha_client.get("/icons/icon-1024.png").status_code == 404


def test_an_unreadable_logo_file_falls_back_to_the_initials(alpha_client, alpha):
    alpha.logo.save("logo.png", ContentFile(b"not a picture"))
    Practice.objects.filter(pk=alpha.pk).update(primary_color="#123456")

    icon = picture(alpha_client, "/icons/icon-192.png")

    assert hex_of(icon.getpixel((2, 2))) == "#123456"


def test_the_generic_icons_exist_at_their_sizes(alpha_client, alpha):
    # Still the push notification badge.
    for size in (192, 512):
        with Image.open(finders.find(f"img/icon-{size}.png")) as icon:
            assert icon.size == (size, size)


def service_worker(client) -> str:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    return response.content.decode()


def constant(script: str, name: str):
    found = re.search(rf"^const {name} = (.*);$", script, re.MULTILINE)
    assert found, f"no {name} in the service worker"
    return json.loads(found.group(1))


def test_the_service_worker_is_served_from_the_root_as_javascript(alpha_client, alpha):
    script = service_worker(alpha_client)

    assert 'addEventListener("push"' in script
    assert 'addEventListener("notificationclick"' in script


def test_the_service_worker_caches_the_shell_and_falls_back_to_the_offline_page(alpha_client, alpha):
    script = service_worker(alpha_client)

    assert constant(script, "OFFLINE_URL") == "/offline/"
    shell = constant(script, "SHELL")
    assert shell[0] == "/offline/"
    assert {"/static/css/app.css", "/static/js/pwa.js"} <= set(shell)
    assert any(url.startswith("/icons/icon-192.png?v=") for url in shell)
    # Installing keeps the shell; a page that cannot be fetched gets the offline page from that cache.
    assert "cache.addAll(SHELL" in script
    assert 'request.mode === "navigate"' in script
    assert "cache.match(OFFLINE_URL)" in script
    # Activating a new version deletes the caches of the old ones.
    assert "caches.delete(name)" in script
    # Every address the shell names is served.
    for url in shell:
        assert alpha_client.get(url).status_code == 200, url


def test_the_cache_version_changes_when_the_logo_does(alpha_client, alpha):
    before = constant(service_worker(alpha_client), "CACHE_VERSION")
    assert constant(service_worker(alpha_client), "CACHE_VERSION") == before

    give_logo(alpha)

    assert constant(service_worker(alpha_client), "CACHE_VERSION") != before


def test_the_offline_page_says_the_network_is_down(alpha_client, alpha):
    response = alpha_client.get("/offline/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>You're offline</h1>" in page
    assert "We can't reach Alpha Aesthetics right now." in page


def test_the_head_include_links_the_manifest_icons_and_registers_the_worker(alpha):
    request = RequestFactory().get("/")
    context = {"practice": alpha, "brand": branding(alpha)}
    html = render_to_string("patients/_pwa_head.html", context, request=request)

    version = branding(alpha)["version"]
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert f'<meta name="theme-color" content="{alpha.primary_color}">' in html
    assert f'<link rel="apple-touch-icon" href="/icons/apple-touch-icon.png?v={version}">' in html
    assert '<meta name="csrf-token" content="' in html
    assert '<script src="/static/js/pwa.js" defer></script>' in html
