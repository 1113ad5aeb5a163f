"""Staff action pages: managing earning actions, awarding from the patient page and to many patients."""

import pytest

from loyalty.models import ActionAward, EarningAction, LedgerEntry
from practices.models import StaffMember
from tests.factories import EarningActionFactory, PatientFactory
from tests.factories import sign_in_staff as sign_in

Role = StaffMember.Role


@pytest.fixture
def manager(alpha, alpha_client) -> StaffMember:
    return sign_in(alpha_client, Role.MANAGER)


@pytest.fixture
def desk(alpha, alpha_client) -> StaffMember:
    return sign_in(alpha_client, Role.FRONT_DESK)


def action_data(**changes) -> dict:
    return {
        "kind": "google_review",
        "name": "Google review",
        "points": "100",
        "limit": "once",
        "is_active": "on",
        **changes,
    }


# ---------------------------------------------------------------- managing actions


def test_a_manager_adds_and_edits_an_action(manager, alpha_client):
    alpha_client.post("/staff/actions/new/", action_data())
    action = EarningAction.objects.get()
    alpha_client.post(f"/staff/actions/{action.pk}/", action_data(points="150", limit="yearly"))

    action.refresh_from_db()
    assert (action.kind, action.points, action.limit) == ("google_review", 150, "yearly")


def test_points_must_be_above_zero(manager, alpha_client):
    page = alpha_client.post("/staff/actions/new/", action_data(points="0")).content.decode()

    assert "Give at least 1 point." in page
    assert not EarningAction.objects.exists()


def test_there_is_only_one_birthday_action(manager, alpha_client):
    EarningActionFactory(kind="birthday", name="Happy birthday")

    page = alpha_client.post("/staff/actions/new/", action_data(kind="birthday", name="Birthday 2")).content.decode()

    assert "There can be only one birthday action and “Happy birthday” is it" in page
    assert EarningAction.objects.count() == 1


def test_the_list_shows_how_many_times_each_action_was_awarded(manager, alpha_client):
    action = EarningActionFactory(name="Open house", kind="open_house", limit="unlimited")
    patient = PatientFactory()
    for _ in range(3):
        alpha_client.post(f"/staff/patients/{patient.pk}/points/award/", {"action": action.pk})

    page = alpha_client.get("/staff/actions/").content.decode()

    assert "3 times" in page


def test_the_front_desk_cannot_manage_actions(desk, alpha_client):
    assert alpha_client.get("/staff/actions/").status_code == 403
    assert alpha_client.post("/staff/actions/new/", action_data()).status_code == 403


# ---------------------------------------------------------------- awarding from the patient page


def test_the_front_desk_awards_an_action_from_the_patient_page(desk, alpha_client):
    action = EarningActionFactory(name="Google review", kind="google_review", points=100)
    patient = PatientFactory()

    panel = alpha_client.get(f"/staff/patients/{patient.pk}/").content.decode()
    response = alpha_client.post(
        f"/staff/patients/{patient.pk}/points/award/", {"action": action.pk, "note": "5 stars"}, follow=True
    )

    assert "Award an action" in panel and "Google review" in panel
    assert "Adjust points" not in panel
    patient.points_account.refresh_from_db()
    assert patient.points_account.balance == 100
    assert "got 100 points for “Google review”" in response.content.decode()
    assert ActionAward.objects.get().actor == desk.user


def test_an_action_over_its_limit_shows_a_clear_error(desk, alpha_client):
    action = EarningActionFactory(name="Google review", kind="google_review", limit="once")
    patient = PatientFactory(user__first_name="Ada", user__last_name="Lovelace")
    alpha_client.post(f"/staff/patients/{patient.pk}/points/award/", {"action": action.pk})

    response = alpha_client.post(f"/staff/patients/{patient.pk}/points/award/", {"action": action.pk})

    assert response.status_code == 200
    assert "Ada Lovelace has already received “Google review”" in response.content.decode()
    assert ActionAward.objects.count() == 1


def test_automatic_actions_cannot_be_awarded_by_staff(desk, alpha_client):
    birthday = EarningActionFactory(kind="birthday", name="Birthday")
    patient = PatientFactory()

    page = alpha_client.post(f"/staff/patients/{patient.pk}/points/award/", {"action": birthday.pk}).content.decode()

    assert "can&#x27;t be awarded by staff" in page
    assert not ActionAward.objects.exists()
    assert alpha_client.get(f"/staff/actions/{birthday.pk}/award/").status_code == 404


# ---------------------------------------------------------------- awarding to many


def test_bulk_award_reports_who_got_it_and_who_was_skipped(desk, alpha_client):
    action = EarningActionFactory(name="Open house", kind="open_house", points=50, limit="once")
    ada = PatientFactory(user__first_name="Ada", user__last_name="Lovelace")
    grace = PatientFactory(user__first_name="Grace", user__last_name="Hopper")
    alan = PatientFactory(user__first_name="Alan", user__last_name="Turing")
    alpha_client.post(f"/staff/patients/{ada.pk}/points/award/", {"action": action.pk})

    response = alpha_client.post(
        f"/staff/actions/{action.pk}/award/",
        {"patients": [ada.pk, grace.pk, alan.pk], "note": "Spring open house"},
        follow=True,
    )

    assert "Awarded to 2, skipped 1 (limit reached): Ada Lovelace." in response.content.decode()
    assert set(ActionAward.objects.values_list("patient_id", flat=True)) == {ada.pk, grace.pk, alan.pk}
    grace.points_account.refresh_from_db()
    assert grace.points_account.balance == 50
    assert LedgerEntry.objects.filter(account__patient=grace, note="Spring open house").exists()


def test_bulk_award_searches_patients_by_name(desk, alpha_client):
    action = EarningActionFactory(name="Charity gala", kind="charity")
    PatientFactory(user__first_name="Ada", user__last_name="Lovelace")
    PatientFactory(user__first_name="Grace", user__last_name="Hopper")

    page = alpha_client.get(f"/staff/actions/{action.pk}/award/", {"q": "ada"}).content.decode()

    assert "Ada Lovelace" in page and "Grace Hopper" not in page


def test_bulk_award_needs_at_least_one_patient(desk, alpha_client):
    action = EarningActionFactory(name="Charity gala", kind="charity")
    PatientFactory()

    page = alpha_client.post(f"/staff/actions/{action.pk}/award/", {"note": ""}).content.decode()

    assert "Tick at least one patient." in page
