"""The installable patient app: the per-practice manifest, the service worker and the head include."""

import io

from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.test import RequestFactory
from PIL import Image

from practices.models import Practice


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
    assert [(icon["src"], icon["sizes"]) for icon in manifest["icons"]] == [
        ("/static/img/icon-192.png", "192x192"),
        ("/static/img/icon-512.png", "512x512"),
    ]


def test_each_practice_gets_its_own_manifest(beta_client, beta):
    manifest = beta_client.get("/manifest.webmanifest").json()
    assert manifest["name"] == manifest["short_name"] == "Beta Dental"


def test_a_practice_logo_is_offered_as_an_icon(alpha_client, alpha, media_root):
    png = io.BytesIO()
    Image.new("RGB", (256, 256), "#0f766e").save(png, format="PNG")
    alpha.logo.save("logo.png", ContentFile(png.getvalue()))

    icons = alpha_client.get("/manifest.webmanifest").json()["icons"]

    assert icons[0] == {"src": alpha.logo.url, "sizes": "256x256"}
    assert len(icons) == 3


def test_the_generic_icons_exist_at_their_sizes(alpha_client, alpha):
    for size in (192, 512):
        with Image.open(finders.find(f"img/icon-{size}.png")) as icon:
            assert icon.size == (size, size)


def test_the_service_worker_is_served_from_the_root_as_javascript(alpha_client, alpha):
    response = alpha_client.get("/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    script = response.content.decode()
    assert 'addEventListener("push"' in script
    assert 'addEventListener("notificationclick"' in script


def test_the_head_include_links_the_manifest_and_registers_the_worker(alpha):
    request = RequestFactory().get("/")
    html = render_to_string("patients/_pwa_head.html", {"practice": alpha}, request=request)

    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert f'<meta name="theme-color" content="{alpha.primary_color}">' in html
    assert '<meta name="csrf-token" content="' in html
    assert '<script src="/static/js/pwa.js" defer></script>' in html
