"""Public uploads served by the app with DEBUG off: a practice's pictures on its own host only, with safe
headers; nothing else (another practice's folder, the platform's, private files, other types, traversal)."""

import io
import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.http import http_date
from django_tenants.utils import schema_context
from PIL import Image


@pytest.fixture(autouse=True)
def production(settings, media_root, private_root):
    settings.DEBUG = False
    return media_root


def jpeg() -> bytes:
    data = io.BytesIO()
    Image.new("RGB", (40, 30), "#0f766e").save(data, format="JPEG")
    return data.getvalue()


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_reward_picture_is_served_on_its_practices_host_with_safe_headers(alpha, alpha_client):
    picture = jpeg()
    name = default_storage.save("rewards/picture.jpg", ContentFile(picture))
    url = default_storage.url(name)
    assert url.startswith(f"/media/{alpha.schema_name}/rewards/")

    response = alpha_client.get(url)

    assert response.status_code == 200
    assert body(response) == picture
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "inline"
    assert response["Cache-Control"] == "public, max-age=86400"
    assert response["Last-Modified"] == http_date(os.stat(default_storage.path(name)).st_mtime)


def test_an_unchanged_picture_answers_304(alpha, alpha_client):
    name = default_storage.save("rewards/picture.jpg", ContentFile(jpeg()))
    modified = http_date(os.stat(default_storage.path(name)).st_mtime)

    response = alpha_client.get(default_storage.url(name), HTTP_IF_MODIFIED_SINCE=modified)

    assert response.status_code == 304
    assert response["Cache-Control"] == "public, max-age=86400"


def test_a_practices_picture_is_not_served_on_another_practices_host_nor_the_platforms(
    alpha, beta_client, public_client, urls_built_with_debug
):
    url = default_storage.url(default_storage.save("rewards/picture.jpg", ContentFile(jpeg())))

    assert beta_client.get(url).status_code == 404
    assert public_client.get(url).status_code == 404


def test_the_platform_host_serves_the_platforms_own_uploads_only(db, public_client, alpha_client):
    picture = jpeg()
    with schema_context("public"):
        url = default_storage.url(default_storage.save("branding/platform.jpg", ContentFile(picture)))
    assert url.startswith("/media/public/branding/")

    response = public_client.get(url)

    assert response.status_code == 200
    assert body(response) == picture
    assert alpha_client.get(url).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "rewards/missing.jpg",
        "rewards/page.html",
        "rewards/drawing.svg",
        "rewards/list.csv",
        "imports/patients/list.png",  # not a folder of public uploads, whatever the name says
        "rewards/../imports/patients/list.png",
        "rewards/%2e%2e/imports/patients/list.png",
        "rewards//picture.jpg",
        "rewards/..%5c..%5cbeta.jpg",
    ],
)
def test_anything_but_a_public_picture_of_the_practice_is_404(alpha, alpha_client, media_root, path):
    folder = media_root / alpha.schema_name
    for name in ("rewards/page.html", "rewards/drawing.svg", "rewards/list.csv", "imports/patients/list.png"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"<script>alert(1)</script>")

    response = alpha_client.get(f"/media/{alpha.schema_name}/{path}")

    assert response.status_code == 404
    assert b"alert" not in response.content


def test_traversal_into_another_practices_folder_is_404(alpha, beta, alpha_client):
    with schema_context(beta.schema_name):
        name = default_storage.save("rewards/beta.jpg", ContentFile(jpeg()))

    for path in (
        f"/media/{alpha.schema_name}/rewards/../../{beta.schema_name}/{name}",
        f"/media/{alpha.schema_name}/rewards/%2e%2e/%2e%2e/{beta.schema_name}/{name}",
        f"/media/{beta.schema_name}/{name}",
    ):
        assert alpha_client.get(path).status_code == 404, path


def test_a_link_out_of_the_practice_folder_is_not_followed(alpha, alpha_client, media_root, private_root):
    secret = Path(private_root) / alpha.schema_name / "imports" / "patients" / "list.png"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(jpeg())
    link = media_root / alpha.schema_name / "rewards" / "link.png"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)

    assert alpha_client.get(f"/media/{alpha.schema_name}/rewards/link.png").status_code == 404


def test_pictures_are_only_read(alpha, alpha_client):
    url = default_storage.url(default_storage.save("rewards/picture.jpg", ContentFile(jpeg())))

    assert alpha_client.head(url).status_code == 200
    assert alpha_client.post(url).status_code == 405
