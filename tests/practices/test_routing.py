from django.test import Client

from practices.models import Practice


def test_platform_host_serves_the_platform_page(public_client):
    response = public_client.get("/")
    assert response.status_code == 200
    assert "Find your practice" in response.content.decode()


def test_practice_host_serves_that_practice_branded(alpha_client, alpha):
    alpha.primary_color = "#123456"
    alpha.save()
    response = alpha_client.get("/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Alpha Aesthetics" in page
    assert "--brand: #123456" in page
    assert "Beta Dental" not in page


def test_unknown_host_gets_a_plain_404_page(db):
    response = Client(HTTP_HOST="nobody.localhost").get("/")
    assert response.status_code == 404
    assert "No practice is served at this address" in response.content.decode()


def test_inactive_practice_host_is_unknown(beta, beta_client):
    Practice.objects.filter(pk=beta.pk).update(is_active=False)
    response = beta_client.get("/")
    assert response.status_code == 404


def test_platform_page_finds_a_practice_by_invite_code(public_client, alpha):
    response = public_client.get("/", {"code": alpha.invite_code.lower()})
    assert response.status_code == 302
    assert response["Location"] == "http://alpha.localhost:8000/"


def test_platform_page_explains_an_unknown_code(public_client):
    response = public_client.get("/", {"code": "NOPE"})
    assert response.status_code == 200
    assert "No practice uses that code" in response.content.decode()


def test_static_vendor_files_are_served(alpha_client):
    response = alpha_client.get("/static/vendor/htmx-2.0.11/htmx.min.js")
    assert response.status_code == 200
    assert b"htmx" in b"".join(response.streaming_content)


def test_a_nul_byte_in_the_address_is_a_400_not_a_crash(alpha_client):
    from tests.factories import sign_in_staff

    sign_in_staff(alpha_client, role="manager")
    response = alpha_client.get("/staff/patients/", {"q": "a\x00b"})
    assert response.status_code == 400
