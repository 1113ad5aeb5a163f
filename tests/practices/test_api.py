import pytest

from practices import audit
from practices.api_keys import create_api_key


def test_resolve_returns_the_practice_for_its_invite_code(public_client, alpha):
    response = public_client.get("/api/v1/practices/resolve", {"code": alpha.invite_code})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Alpha Aesthetics"
    assert body["api_base_url"] == "http://alpha.localhost:8000/api/v1/"
    assert body["terms_url"] == "http://alpha.localhost:8000/terms/"
    assert body["privacy_url"] == "http://alpha.localhost:8000/privacy/"
    icon_url = body["branding"].pop("icon_url")
    assert icon_url.startswith("http://alpha.localhost:8000/icons/icon-512.png?v=")
    assert body["branding"] == {
        "name": "Alpha Aesthetics",
        "short_name": "Alpha",
        "logo_url": None,
        "primary_color": alpha.primary_color,
        "accent_color": alpha.accent_color,
        "primary_text_color": "#ffffff",
        "accent_text_color": "#111111",
    }


def test_resolve_unknown_code_is_a_json_404(public_client):
    response = public_client.get("/api/v1/practices/resolve", {"code": "ZZZZ9999"})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No practice uses that code.", "fields": {}}}


def test_resolve_without_code_is_a_400_naming_the_field(public_client):
    response = public_client.get("/api/v1/practices/resolve")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {"code": ["Enter an invite code."]}


def test_resolve_is_not_served_on_a_practice_host(alpha_client, alpha):
    response = alpha_client.get("/api/v1/practices/resolve", {"code": alpha.invite_code})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_api_root_on_a_practice_host_describes_that_practice(alpha_client, beta_client):
    assert alpha_client.get("/api/v1/").json()["practice"]["slug"] == "alpha"
    assert beta_client.get("/api/v1/").json()["practice"]["slug"] == "beta"


def test_openapi_schema_and_docs_are_served_on_practice_hosts(alpha_client):
    schema = alpha_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/practice" in schema.json()["paths"]
    docs = alpha_client.get("/api/docs/")
    assert docs.status_code == 200
    assert "swagger" in docs.content.decode().lower()


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/api/v1/pos/purchases", "application/json"),  # the POS's own reader
        ("/api/v1/pos/purchases", "application/json, text/plain"),  # left to DRF's parser
        ("/_allauth/app/v1/auth/code/request", "application/json"),  # allauth's app API
    ],
)
@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000])
def test_json_nested_too_deep_is_a_400_everywhere(alpha_client, alpha, path, accept, body):
    # Python's JSON decoder gives up with a RecursionError; the POS reader, DRF and allauth all use it.
    api_key = create_api_key(name="POS", actor=audit.System("test setup"))[1]

    response = alpha_client.generic(
        "POST",
        path,
        body,
        content_type="application/json",
        HTTP_ACCEPT=accept,
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
