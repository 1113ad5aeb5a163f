"""Under /api/ every 404 and 405 is the JSON error body, on a practice's host and the platform's, with DEBUG on
or off; other paths keep their HTML pages."""

import pytest
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from config.api_errors import JsonApiErrors
from tests.loyalty.pos_helpers import new_key, pos_client

NOT_FOUND = {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}
API_PATHS = ["/api/v1/nothing", "/api/v1/pos/purchases/abc", "/api/v2/", "/api/", "/api/v1/me/vouchers/x/y"]


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize("path", API_PATHS)
def test_an_unmatched_api_path_is_a_json_404_on_a_practice_host(alpha_client, debug, path):
    response = alpha_client.get(path)
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("path", [*API_PATHS, "/api/v1/rewards", "/api/schema/"])
def test_an_unmatched_api_path_is_a_json_404_on_the_platform_host(public_client, debug, path):
    response = public_client.get(path)
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("path", ["/nothing", "/apis/v1/", "/staff/nothing/"])
def test_other_paths_keep_the_html_page(alpha_client, public_client, debug, path):
    for client in (alpha_client, public_client):
        response = client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")


def test_a_missing_slash_is_still_added_by_a_redirect(alpha_client, debug):
    response = alpha_client.get("/api/schema")
    assert (response.status_code, response["Location"]) == (301, "/api/schema/")


@pytest.mark.parametrize(
    ("method", "path"),
    [("delete", "/api/v1/pos/purchases"), ("put", "/api/v1/pos/refunds"), ("post", "/api/v1/pos/vouchers")],
)
def test_a_method_an_api_path_does_not_take_is_a_json_405(alpha, debug, method, path):
    response = getattr(pos_client("alpha", new_key()), method)(path)
    assert (response.status_code, response["Content-Type"]) == (405, "application/json")
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_the_platform_code_lookup_answers_405_in_json(public_client, debug):
    response = public_client.delete("/api/v1/practices/resolve?code=X")
    assert (response.status_code, response.json()["error"]["code"]) == (405, "method_not_allowed")


def test_a_plain_views_405_under_the_api_becomes_the_error_body(rf):
    view = require_GET(lambda request: HttpResponse("ok"))
    middleware = JsonApiErrors(view)

    api = middleware(rf.post("/api/v1/anything"))
    page = middleware(rf.post("/staff/anything"))

    assert (api.status_code, api["Content-Type"], api["Allow"]) == (405, "application/json", "GET")
    assert (
        api.content
        == b'{"error": {"code": "method_not_allowed", "message": "Method \\"POST\\" not allowed.", "fields": {}}}'
    )
    assert (page.status_code, page["Content-Type"]) == (405, "text/html; charset=utf-8")
