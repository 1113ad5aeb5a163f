"""The practice's logo: uploaded from the platform admin, kept as its centre square in the practice's own media
folder, shown on the practice's pages and in the resolve API; refused from its header when too large in pixels."""

import io
import re

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, RequestFactory
from PIL import Image

from practices.models import Practice
from tests.conftest import host_of
from tests.pictures import huge_png, png


@pytest.fixture(autouse=True)
def production(settings, media_root, private_root):
    settings.DEBUG = False
    return media_root


def upload_from_the_platform_admin(practice: Practice, picture) -> object:
    """The platform admin's change form for the practice, sent with a logo (as on the platform host)."""
    connection.set_schema_to_public()
    model_admin = admin.site._registry[Practice]
    request = RequestFactory().post("/admin/practices/practice/")
    form_class = model_admin.get_form(request, obj=practice, change=True)
    data = {
        name: value
        for name, value in form_class(instance=practice).initial.items()
        if name in form_class.base_fields and name != "logo" and value not in (None, False)
    }
    data["is_active"] = "on"
    logo = SimpleUploadedFile(picture.name, picture.getvalue(), "image/png")
    form = form_class(data, {"logo": logo}, instance=practice)
    if form.is_valid():
        form.save()
    return form


def logo_src(page: str) -> str:
    found = re.search(r'<img src="([^"]+)"[^>]*class="brand-logo"', page)
    assert found, "no logo on the page"
    return found.group(1)


def test_a_logo_uploaded_from_the_platform_admin_shows_on_the_practices_pages(alpha):
    form = upload_from_the_platform_admin(alpha, png(300, 200, name="Our Logo.PNG"))
    assert form.is_valid(), form.errors
    alpha.refresh_from_db()
    assert alpha.logo.name.startswith(f"{alpha.schema_name}/branding/")
    assert alpha.logo.name.endswith(".png") and "Our Logo" not in alpha.logo.name

    client = Client(HTTP_HOST=host_of("alpha"))
    src = logo_src(client.get("/staff/login/").content.decode())
    picture = client.get(src)

    assert picture.status_code == 200
    assert picture["Content-Type"] == "image/png"
    # Kept as the square in its centre, as the owner's branding page keeps it.
    with Image.open(io.BytesIO(b"".join(picture.streaming_content))) as stored:
        assert stored.size == (200, 200)
        assert stored.getpixel((100, 100)) == (200, 30, 30, 128)


def test_the_resolve_api_gives_the_logos_address_on_the_practices_host(alpha):
    upload_from_the_platform_admin(alpha, png(300, 200))
    alpha.refresh_from_db()

    answer = Client(HTTP_HOST=settings.BASE_DOMAIN).get("/api/v1/practices/resolve", {"code": alpha.invite_code})

    logo_url = answer.json()["branding"]["logo_url"]
    assert logo_url == f"http://{host_of('alpha')}:8000/media/{alpha.logo.name}"
    path = logo_url.split(":8000", 1)[1]
    assert Client(HTTP_HOST=host_of("alpha")).get(path).status_code == 200
    assert Client(HTTP_HOST=host_of("beta")).get(path).status_code == 404


def test_a_logo_over_the_pixel_limit_is_refused_with_its_size(alpha):
    form = upload_from_the_platform_admin(alpha, huge_png())

    assert form.errors["logo"] == [
        "This picture is 13,000 × 13,000 pixels; use one under 25 megapixels, e.g. 5,000 × 5,000."
    ]
    alpha.refresh_from_db()
    assert not alpha.logo


def test_a_file_that_is_not_a_picture_is_refused_as_a_logo(alpha):
    text = png(10, 10)
    text.seek(0)
    text.write(b"not a picture at all")

    form = upload_from_the_platform_admin(alpha, text)

    assert form.errors["logo"] == ["This file is not a picture we can read; use a JPG, PNG or WebP."]
