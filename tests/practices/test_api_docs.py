"""The API reference pages come from the app itself: nothing is loaded from another host on the host where staff
are signed in, and the pages run under the site's Content-Security-Policy."""

import re

from tests.practices.test_csp import policy_of, problems_in

SOURCES = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"')


def test_swagger_ui_loads_only_files_of_this_host(alpha_client):
    response = alpha_client.get("/api/docs/")

    page = response.content.decode()
    sources = SOURCES.findall(page)
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in sources
    assert all(source.startswith("/") and not source.startswith("//") for source in sources), sources
    assert "cdn" not in page.lower()
    # Its start-up script is a file too, not inline: the page needs no exception to the policy.
    assert "/api/docs/?script=" in sources
    assert problems_in(response) == []
    assert "'unsafe-inline'" not in policy_of(response)["script-src"]


def test_swagger_ui_start_up_script_is_served_as_javascript(alpha_client):
    response = alpha_client.get("/api/docs/?script=")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in response.content.decode()
    assert '"validatorUrl": null' in response.content.decode()  # no badge fetched from swagger.io


def test_swagger_ui_files_are_served(alpha_client):
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        response = alpha_client.get(f"/static/drf_spectacular_sidecar/swagger-ui-dist/{name}")
        assert response.status_code == 200, name


def test_redoc_loads_only_files_of_this_host_and_runs_no_inline_script(alpha_client):
    response = alpha_client.get("/api/redoc/")

    page = response.content.decode()
    assert response.status_code == 200
    assert SOURCES.findall(page) == ["/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"]
    assert "fonts.googleapis" not in page
    assert '<redoc spec-url="/api/schema/">' in page
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]  # ReDoc writes its styles at run time
    assert policy["worker-src"] == ["'self'", "blob:"]  # and searches in a worker
    assert problems_in(response) == []
