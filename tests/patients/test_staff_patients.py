"""The staff portal's patient pages: finding patients, their profile and timeline, notes, adding at the desk."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from patients.models import Activity, Message, Patient
from patients.services import record_activity
from practices.models import StaffMember
from tests.factories import PatientFactory
from tests.factories import sign_in_staff as sign_in

Role = StaffMember.Role


@pytest.fixture
def desk(alpha, alpha_client) -> StaffMember:
    """A front-desk staff member of alpha, signed in on alpha_client."""
    return sign_in(alpha_client)


def patient(first: str, last: str, phone: str | None = None, **fields) -> Patient:
    user = {"user__first_name": first, "user__last_name": last}
    if phone:
        user["user__phone"] = phone
    return PatientFactory(**user, **fields)


# ---------------------------------------------------------------- the list


def test_the_list_shows_each_patients_details(desk, alpha_client):
    patient("Ada", "Lovelace", "+12025550143", status=Patient.Status.PENDING, source=Patient.Source.DESK)

    page = alpha_client.get("/staff/patients/").content.decode()

    assert "Ada Lovelace" in page
    assert "(202) 555-0143" in page
    assert "Invited (not joined yet)" in page
    assert "Added at the desk" in page


def test_search_by_name_finds_the_patient_and_no_one_else(desk, alpha_client):
    patient("Ada", "Lovelace")
    patient("Grace", "Hopper")

    page = alpha_client.get("/staff/patients/", {"q": "ada love"}).content.decode()

    assert "Ada Lovelace" in page
    assert "Grace Hopper" not in page


@pytest.mark.parametrize("typed", ["(617) 555-0188", "+1 617 555 0188", "617.555.0188", "5550188"])
def test_search_by_phone_digits_in_any_format(desk, alpha_client, typed):
    patient("Ada", "Lovelace", "+16175550188")
    patient("Grace", "Hopper", "+12025550143")

    page = alpha_client.get("/staff/patients/", {"q": typed}).content.decode()

    assert "Ada Lovelace" in page
    assert "Grace Hopper" not in page


def test_search_by_signup_code_and_email(desk, alpha_client):
    patient("Ada", "Lovelace", signup_code="SPRING24")
    patient("Grace", "Hopper", user__email="grace@navy.test")

    by_code = alpha_client.get("/staff/patients/", {"q": "spring24"}).content.decode()
    by_email = alpha_client.get("/staff/patients/", {"q": "grace@navy"}).content.decode()

    assert "Ada Lovelace" in by_code and "Grace Hopper" not in by_code
    assert "Grace Hopper" in by_email and "Ada Lovelace" not in by_email


def test_the_list_is_paginated_by_25_and_page_links_keep_the_search(desk, alpha_client):
    for _ in range(30):
        patient("Pat", "Pagetest")

    first = alpha_client.get("/staff/patients/", {"q": "pagetest"}).content.decode()
    second = alpha_client.get("/staff/patients/", {"q": "pagetest", "page": 2}).content.decode()

    assert first.count("Pat Pagetest") == 25
    assert "Page 1 of 2" in first
    assert 'href="/staff/patients/?q=pagetest&amp;page=2"' in first
    assert second.count("Pat Pagetest") == 5


def test_the_list_makes_the_same_number_of_queries_for_more_patients(desk, alpha_client):
    patient("Few", "Patients")
    with CaptureQueriesContext(connection) as few:
        alpha_client.get("/staff/patients/")
    for _ in range(20):
        patient("Many", "Patients")
    with CaptureQueriesContext(connection) as many:
        alpha_client.get("/staff/patients/")

    assert len(many) == len(few)


def test_an_empty_practice_shows_how_to_add_patients(desk, alpha_client):
    page = alpha_client.get("/staff/patients/").content.decode()

    assert "No patients yet" in page
    assert 'href="/staff/patients/new/"' in page


def test_a_search_without_results_says_so(desk, alpha_client):
    patient("Ada", "Lovelace")

    page = alpha_client.get("/staff/patients/", {"q": "nobody"}).content.decode()

    assert "No match" in page
    assert "No patients yet" not in page


def test_the_import_link_is_shown_to_managers_only(alpha, alpha_client):
    patient("Ada", "Lovelace")
    sign_in(alpha_client, Role.FRONT_DESK)
    assert "/staff/patients/import/" not in alpha_client.get("/staff/patients/").content.decode()

    sign_in(alpha_client, Role.MANAGER)
    assert "/staff/patients/import/" in alpha_client.get("/staff/patients/").content.decode()


# ---------------------------------------------------------------- the detail page


def test_the_profile_shows_contact_details_and_sms_consent(desk, alpha_client):
    ada = patient(
        "Ada",
        "Lovelace",
        "+12025550143",
        user__email="ada@example.test",
        signup_code="SPRING24",
        sms_consent=True,
        sms_consent_text="Yes, text me offers from Alpha Aesthetics.",
    )
    Patient.objects.filter(pk=ada.pk).update(sms_consent_at=ada.created_at)

    page = alpha_client.get(f"/staff/patients/{ada.pk}/").content.decode()

    assert "Ada Lovelace" in page
    assert "(202) 555-0143" in page
    assert "ada@example.test" in page
    assert "SPRING24" in page
    assert "Yes, text me offers from Alpha Aesthetics." in page
    assert "Agreed on" in page


def test_the_timeline_can_be_filtered_by_kind(desk, alpha_client):
    ada = patient("Ada", "Lovelace")
    record_activity(patient=ada, kind=Activity.Kind.INVITED, summary="Invited by SMS")
    record_activity(patient=ada, kind=Activity.Kind.NOTE, summary="Prefers morning visits", actor=desk.user)

    everything = alpha_client.get(f"/staff/patients/{ada.pk}/").content.decode()
    notes = alpha_client.get(f"/staff/patients/{ada.pk}/", {"kind": "note"}).content.decode()

    assert "Invited by SMS" in everything and "Prefers morning visits" in everything
    assert "Prefers morning visits" in notes
    assert "Invited by SMS" not in notes
    assert f"by {desk.user.get_full_name()}" in notes


def test_the_timeline_shows_the_newest_first_50_per_page(desk, alpha_client):
    ada = patient("Ada", "Lovelace")
    for number in range(1, 56):
        record_activity(patient=ada, kind=Activity.Kind.NOTE, summary=f"Note number {number}.")

    first = alpha_client.get(f"/staff/patients/{ada.pk}/").content.decode()
    second = alpha_client.get(f"/staff/patients/{ada.pk}/", {"page": 2}).content.decode()

    assert first.index("Note number 55.") < first.index("Note number 54.")
    assert "Note number 5." not in first
    assert "Page 1 of 2" in first
    assert "Note number 5." in second and "Note number 1." in second


def test_an_unknown_patient_is_not_found(desk, alpha_client):
    assert alpha_client.get("/staff/patients/999999999/").status_code == 404


def test_a_note_is_recorded_on_the_timeline_with_its_author(desk, alpha_client):
    ada = patient("Ada", "Lovelace")

    response = alpha_client.post(f"/staff/patients/{ada.pk}/notes/", {"text": "Asked about the spring offer."})

    note = ada.activities.get(kind=Activity.Kind.NOTE)
    assert note.summary == "Asked about the spring offer."
    assert note.actor == desk.user
    assert response["Location"] == f"/staff/patients/{ada.pk}/"
    page = alpha_client.get(response["Location"]).content.decode()
    assert "Note added." in page
    assert "Asked about the spring offer." in page


def test_a_long_note_is_kept_whole(desk, alpha_client):
    ada = patient("Ada", "Lovelace")
    text = "Likes the loyalty newsletter. " * 60

    alpha_client.post(f"/staff/patients/{ada.pk}/notes/", {"text": text})

    note = ada.activities.get(kind=Activity.Kind.NOTE)
    assert note.data["text"] == text.strip()
    assert text.strip()[-100:] in alpha_client.get(f"/staff/patients/{ada.pk}/").content.decode()


@pytest.mark.parametrize(
    ("text", "error"),
    [("   ", "Write the note before saving it."), ("x" * 2001, "at most 2000 characters")],
)
def test_a_blank_or_too_long_note_shows_an_error(desk, alpha_client, text, error):
    ada = patient("Ada", "Lovelace")

    response = alpha_client.post(f"/staff/patients/{ada.pk}/notes/", {"text": text})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not ada.activities.filter(kind=Activity.Kind.NOTE).exists()


# ---------------------------------------------------------------- adding at the desk


def test_adding_a_patient_at_the_desk_invites_them(desk, alpha_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alpha_client.post(
            "/staff/patients/new/",
            {"phone": "(202) 555-0143", "first_name": "Ada", "last_name": "Lovelace", "birthday": "1990-12-10"},
        )

    ada = Patient.objects.get(user__phone="+12025550143")
    assert response["Location"] == f"/staff/patients/{ada.pk}/"
    assert (ada.status, ada.source) == (Patient.Status.PENDING, Patient.Source.DESK)
    assert ada.full_name == "Ada Lovelace"
    assert str(ada.birthday) == "1990-12-10"
    invited = ada.activities.get(kind=Activity.Kind.INVITED)
    assert invited.actor == desk.user
    invite = Message.objects.get(patient=ada)
    assert invite.purpose == Message.Purpose.INVITE
    assert invite.to == "+12025550143"
    assert invite.body.startswith("Alpha Aesthetics: you're invited to our rewards program. Join here: ")
    assert invite.body.endswith("/join/")
    assert "Ada Lovelace was added and invited by SMS." in alpha_client.get(response["Location"]).content.decode()


def test_a_known_phone_number_is_refused_with_a_link_to_the_patient(desk, alpha_client):
    ada = patient("Ada", "Lovelace", "+12025550143")

    response = alpha_client.post(
        "/staff/patients/new/", {"phone": "202-555-0143", "first_name": "Ada", "last_name": "Again"}
    )

    page = response.content.decode()
    assert "A patient with this phone number already exists." in page
    assert f'href="/staff/patients/{ada.pk}/"' in page
    assert Patient.objects.count() == 1


def test_an_invalid_phone_number_is_refused(desk, alpha_client):
    response = alpha_client.post("/staff/patients/new/", {"phone": "555-12", "first_name": "Ada", "last_name": "L"})

    assert "That phone number isn&#x27;t valid." in response.content.decode()
    assert not Patient.objects.exists()
    assert not Message.objects.exists()


def test_an_email_already_in_use_is_refused(desk, alpha_client):
    response = alpha_client.post(
        "/staff/patients/new/",
        {"phone": "(202) 555-0143", "first_name": "Ada", "last_name": "L", "email": desk.user.email.upper()},
    )

    assert "Another account already uses this email address." in response.content.decode()
    assert not User.objects.filter(phone="+12025550143").exists()


# ---------------------------------------------------------------- access


def test_front_desk_is_refused_the_import_page_and_a_manager_gets_it(alpha, alpha_client):
    sign_in(alpha_client, Role.FRONT_DESK)
    assert alpha_client.get("/staff/patients/import/").status_code == 403

    sign_in(alpha_client, Role.MANAGER)
    response = alpha_client.get("/staff/patients/import/")
    assert response.status_code == 200
    assert "Import patients from a CSV file" in response.content.decode()


@pytest.mark.parametrize("path", ["/staff/patients/", "/staff/patients/new/", "/staff/patients/import/"])
def test_anonymous_visitors_are_sent_to_sign_in(alpha_client, path):
    response = alpha_client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/staff/login/?next={path}"


def test_a_patient_cannot_use_the_staff_pages(alpha, alpha_client):
    ada = patient("Ada", "Lovelace")
    alpha_client.force_login(ada.user)

    assert alpha_client.get("/staff/patients/").status_code == 403


def test_staff_cannot_reach_another_practices_patients(desk, alpha, beta, alpha_client):
    patient("Alice", "Alpha")
    connection.set_tenant(beta)
    betty = patient("Betty", "Beta", "+16175550188")
    connection.set_tenant(alpha)
    assert not Patient.objects.filter(pk=betty.pk).exists()

    listed = alpha_client.get("/staff/patients/").content.decode()
    searched = alpha_client.get("/staff/patients/", {"q": "617 555 0188"}).content.decode()

    assert "Alice Alpha" in listed and "Betty Beta" not in listed
    assert "Betty Beta" not in searched
    assert alpha_client.get(f"/staff/patients/{betty.pk}/").status_code == 404
    assert alpha_client.post(f"/staff/patients/{betty.pk}/notes/", {"text": "x"}).status_code == 404
