"""A staff member who forgot their password gets a link by email, sets a new one and signs in."""

import re

from django.core import mail
from django.test import Client

from tests.conftest import host_of
from tests.factories import StaffMemberFactory

NEW_PASSWORD = "a-brand-new-pass-77"


def reset_link(message) -> str:
    match = re.search(r"https?://\S+/staff/password/reset/key/\S+", message.body)
    assert match, message.body
    return match.group(0)


def test_the_sign_in_page_links_to_the_reset_form(alpha_client):
    page = alpha_client.get("/staff/login/").content.decode()
    assert 'href="/staff/password/reset/">Forgot your password?' in page


def test_forgotten_password_is_reset_through_the_emailed_link(alpha, alpha_client, settings):
    settings.DEFAULT_FROM_EMAIL = "no-reply@clinic.test"
    member = StaffMemberFactory(user__email="forgetful@alpha.test")

    response = alpha_client.post("/staff/password/reset/", {"email": "forgetful@alpha.test"})
    assert response.status_code == 302

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["forgetful@alpha.test"]
    assert message.from_email == "no-reply@clinic.test"
    link = reset_link(message)
    # The link leads back to this practice's own host, where the account lives.
    assert link.startswith(f"http://{host_of('alpha')}/staff/password/reset/key/")

    # allauth moves the key out of the address (into the session) before showing the form.
    form_page = alpha_client.get(link.split(host_of("alpha"), 1)[1], follow=True)
    assert form_page.status_code == 200
    assert 'name="password1"' in form_page.content.decode()
    form_url = form_page.redirect_chain[-1][0]
    done = alpha_client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302

    fresh = Client(HTTP_HOST=host_of("alpha"))
    signed_in = fresh.post("/staff/login/", {"login": member.user.email, "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/staff/"
    assert fresh.get("/staff/").status_code == 200


def test_the_link_is_https_in_production(alpha, alpha_client, settings):
    settings.ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
    StaffMemberFactory(user__email="secure@alpha.test")

    alpha_client.post("/staff/password/reset/", {"email": "secure@alpha.test"})

    assert reset_link(mail.outbox[0]).startswith(f"https://{host_of('alpha')}/staff/password/reset/key/")


def test_the_link_does_not_work_twice(alpha, alpha_client):
    StaffMemberFactory(user__email="once@alpha.test")
    alpha_client.post("/staff/password/reset/", {"email": "once@alpha.test"})
    path = reset_link(mail.outbox[0]).split(host_of("alpha"), 1)[1]
    form_url = alpha_client.get(path, follow=True).redirect_chain[-1][0]
    alpha_client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    again = Client(HTTP_HOST=host_of("alpha")).get(path, follow=True)
    assert 'name="password1"' not in again.content.decode()


def test_an_unknown_address_gets_no_email(alpha, alpha_client):
    alpha_client.post("/staff/password/reset/", {"email": "nobody@alpha.test"})
    assert all("/staff/password/reset/key/" not in message.body for message in mail.outbox)


def test_staff_of_another_practice_get_no_link_here(beta_client):
    beta_client.post("/staff/password/reset/", {"email": "owner@alpha.test"})
    assert all("/staff/password/reset/key/" not in message.body for message in mail.outbox)


def test_the_reset_email_names_the_practice_in_plain_text_and_html(alpha, alpha_client):
    StaffMemberFactory(user__email="branded@alpha.test", user__first_name="Bea")

    alpha_client.post("/staff/password/reset/", {"email": "branded@alpha.test"})

    message = mail.outbox[0]
    assert message.subject == "Alpha Aesthetics: reset your password"
    assert message.body.startswith("Hello Bea,")
    assert "your Alpha Aesthetics staff account, branded@alpha.test" in message.body
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    assert "Alpha Aesthetics" in html and "Choose a new password" in html and reset_link(message) in html
