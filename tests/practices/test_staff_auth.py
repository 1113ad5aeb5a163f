import pytest

from accounts.models import User
from practices.models import StaffMember
from tests.conftest import OWNER_PASSWORD
from tests.factories import STAFF_PASSWORD, PatientFactory, StaffMemberFactory


def sign_in(client, email, password):
    return client.post("/staff/login/", {"login": email, "password": password})


def test_staff_sign_in_page_is_branded(alpha_client):
    response = alpha_client.get("/staff/login/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Staff sign-in" in page
    assert "Alpha Aesthetics" in page


def test_owner_signs_in_on_their_practice_host(alpha_client):
    response = sign_in(alpha_client, "owner@alpha.test", OWNER_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/staff/"
    dashboard = alpha_client.get("/staff/").content.decode()
    assert "Welcome, Owner" in dashboard
    assert "Owner" in dashboard and "Sign out" in dashboard


def test_staff_of_one_practice_cannot_sign_in_on_another(beta_client):
    response = sign_in(beta_client, "owner@alpha.test", OWNER_PASSWORD)
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert beta_client.get("/staff/").status_code == 302


def test_staff_portal_needs_sign_in(alpha_client):
    response = alpha_client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/?next=/staff/")


def test_staff_sign_up_is_closed(alpha_client):
    response = alpha_client.post("/staff/signup/", {"email": "new@alpha.test", "password1": "x" * 12})
    assert response.status_code == 404
    assert not User.objects.filter(email="new@alpha.test").exists()


@pytest.mark.parametrize("page", ["/staff/email/", "/staff/phone/change/", "/staff/password/set/"])
def test_account_pages_the_product_does_not_use_are_not_there(alpha, alpha_client, page):
    """allauth's own pages would let a patient add an unconfirmed email or a password, bypassing their profile."""
    alpha_client.force_login(PatientFactory().user)
    assert alpha_client.get(page).status_code == 404
    assert alpha_client.post(page, {"email": "x@example.test", "password1": "x" * 12}).status_code == 404


def test_a_one_time_password_must_be_changed_first(alpha, alpha_client):
    member = StaffMemberFactory(must_change_password=True)
    sign_in(alpha_client, member.user.email, STAFF_PASSWORD)

    response = alpha_client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/password/change/"

    alpha_client.post(
        "/staff/password/change/",
        {"oldpassword": STAFF_PASSWORD, "password1": "a-new-long-pass-99", "password2": "a-new-long-pass-99"},
    )
    member.refresh_from_db()
    assert not member.must_change_password
    assert alpha_client.get("/staff/").status_code == 200


def test_a_deactivated_staff_member_is_refused(alpha, alpha_client):
    member = StaffMemberFactory(is_active=False)
    sign_in(alpha_client, member.user.email, STAFF_PASSWORD)
    assert alpha_client.get("/staff/").status_code == 403


def test_navigation_shows_sections_the_role_allows(alpha, alpha_client):
    member = StaffMemberFactory(role=StaffMember.Role.FRONT_DESK)
    sign_in(alpha_client, member.user.email, STAFF_PASSWORD)
    page = alpha_client.get("/staff/").content.decode()
    assert 'href="/staff/" aria-current="page">Desk' in page  # the front desk's home is the desk, not analytics
    assert ">Dashboard<" not in page and ">Program<" not in page and ">Settings<" not in page
