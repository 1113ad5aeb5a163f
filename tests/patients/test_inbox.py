"""The patient's inbox page: who may see it, what it lists, and marking messages read."""

import re
from html import unescape

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from patients.models import Notification
from tests.factories import PatientFactory, StaffMemberFactory
from tests.patients.notify_helpers import signed_up_patient


@pytest.fixture
def patient(alpha, alpha_client):
    """A patient of alpha, signed in on alpha_client."""
    patient = signed_up_patient()
    alpha_client.force_login(patient.user)
    return patient


ITEM_TITLE = re.compile(
    r'<li class="notification[^"]*" id="notification-\d+">\s*<div[^>]*>\s*'
    r"<h2>(?:<span[^>]*>New</span>)?(?:<a [^>]*>)?([^<]+)"
)


def titles(html: str) -> list[str]:
    """The titles of the inbox items on the page, in order."""
    return [unescape(title) for title in ITEM_TITLE.findall(html)]


def test_visitors_are_sent_to_sign_in(alpha_client, alpha):
    response = alpha_client.get("/inbox/")
    assert response.status_code == 302
    assert response["Location"] == "/signin/?next=/inbox/"


def test_staff_accounts_get_a_403(alpha_client, alpha):
    alpha_client.force_login(StaffMemberFactory().user)
    response = alpha_client.get("/inbox/")
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()


def test_the_inbox_lists_the_patients_messages_newest_first(alpha_client, patient):
    Notification.objects.create(patient=patient, title="Welcome to Alpha", read_at=timezone.now())
    Notification.objects.create(patient=patient, title="You earned 120 points", body="Thanks for your visit.")
    Notification.objects.create(patient=PatientFactory(), title="Someone else's reward")

    html = alpha_client.get("/inbox/").content.decode()

    assert titles(html) == ["You earned 120 points", "Welcome to Alpha"]
    assert "Someone else" not in html
    assert "Thanks for your visit." in html
    assert "1 unread" in html


def test_unread_messages_are_highlighted_and_can_be_marked(alpha_client, patient):
    unread = Notification.objects.create(patient=patient, title="New reward")
    read = Notification.objects.create(patient=patient, title="Old news", read_at=timezone.now())

    html = alpha_client.get("/inbox/").content.decode()

    assert f'class="notification is-unread" id="notification-{unread.pk}"' in html
    assert f'class="notification" id="notification-{read.pk}"' in html
    assert f'action="/inbox/{unread.pk}/read/"' in html
    assert f'action="/inbox/{read.pk}/read/"' not in html
    assert "Mark all as read" in html


def test_an_empty_inbox_says_so(alpha_client, patient):
    html = alpha_client.get("/inbox/").content.decode()
    assert "No messages yet" in html
    assert "Mark all as read" not in html


def test_the_inbox_shows_twenty_messages_a_page(alpha_client, patient):
    Notification.objects.bulk_create(Notification(patient=patient, title=f"Message {n}") for n in range(25))

    first = alpha_client.get("/inbox/").content.decode()
    second = alpha_client.get("/inbox/?page=2").content.decode()

    assert len(titles(first)) == 20
    assert len(titles(second)) == 5
    assert "Page 2 of 2" in second
    assert 'href="?page=2"' in first


def test_marking_one_message_read(alpha_client, patient):
    one, other = (Notification.objects.create(patient=patient, title=t) for t in ("One", "Two"))

    response = alpha_client.post(f"/inbox/{one.pk}/read/", {"page": "1"})

    assert response.status_code == 302
    assert response["Location"] == "/inbox/?page=1"
    one.refresh_from_db()
    other.refresh_from_db()
    assert one.read_at is not None
    assert other.read_at is None


def test_marking_read_with_htmx_returns_the_updated_item(alpha_client, patient):
    notification = Notification.objects.create(patient=patient, title="New reward")

    response = alpha_client.post(f"/inbox/{notification.pk}/read/", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'<li class="notification" id="notification-{notification.pk}">' in html
    assert "Mark read" not in html


def test_mark_all_as_read(alpha_client, patient):
    Notification.objects.bulk_create(Notification(patient=patient, title=f"Message {n}") for n in range(3))

    response = alpha_client.post("/inbox/read/")

    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    assert not Notification.objects.filter(patient=patient, read_at__isnull=True).exists()
    assert "No messages yet" not in alpha_client.get("/inbox/").content.decode()


def test_another_patients_message_cannot_be_marked(alpha_client, patient):
    theirs = Notification.objects.create(patient=PatientFactory(), title="Private")

    assert alpha_client.post(f"/inbox/{theirs.pk}/read/").status_code == 404
    alpha_client.post("/inbox/read/")

    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_read_needs_a_post(alpha_client, patient):
    notification = Notification.objects.create(patient=patient, title="New reward")

    assert alpha_client.get(f"/inbox/{notification.pk}/read/").status_code == 405
    notification.refresh_from_db()
    assert notification.read_at is None


def test_the_push_button_is_offered_only_when_push_is_configured(alpha_client, patient, settings):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "", ""
    assert 'id="enable-push"' not in alpha_client.get("/inbox/").content.decode()

    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "BPublicKey", "private"
    html = alpha_client.get("/inbox/").content.decode()
    assert 'id="enable-push"' in html
    assert 'data-public-key="BPublicKey"' in html


def test_a_beta_patient_never_sees_alphas_messages(alpha, beta, beta_client):
    Notification.objects.create(patient=PatientFactory(), title="Alpha's offer")
    with tenant_context(beta):
        patient = signed_up_patient()
        Notification.objects.create(patient=patient, title="Beta's reminder")
        beta_client.force_login(patient.user)

    html = beta_client.get("/inbox/").content.decode()

    assert titles(html) == ["Beta's reminder"]
