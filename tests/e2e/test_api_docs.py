"""The API reference pages draw in a real browser under the Content-Security-Policy, from the app's own files
(the person fixture fails the test on anything the browser refuses)."""

import pytest
from playwright.sync_api import expect


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_and_redoc_draw_the_practice_api(person):
    integrator = person("integrator")

    integrator.goto("/api/docs/")
    expect(integrator.locator(".swagger-ui .info .title")).to_contain_text("Practice loyalty API")
    expect(integrator.locator(".opblock-summary-path").first).to_be_visible()

    integrator.goto("/api/redoc/")
    expect(integrator.locator("h1").first).to_contain_text("Practice loyalty API")
