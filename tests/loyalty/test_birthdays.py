"""The daily job's birthday bonus: on the practice's local date, once a year, caught up after missed days."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from loyalty.errors import ActionLimitReached
from loyalty.jobs import run_daily_jobs
from loyalty.models import ActionAward, EarningAction
from loyalty.services import award_action
from patients.models import Notification, Patient
from tests.conftest import set_time_zone
from tests.factories import EarningActionFactory, PatientFactory


@pytest.fixture
def birthday_action(alpha):
    return EarningActionFactory(
        kind=EarningAction.Kind.BIRTHDAY, name="Birthday", points=250, limit=EarningAction.Limit.YEARLY
    )


@pytest.fixture
def los_angeles(alpha):
    """Practice alpha in Los Angeles, its zone the current one (the Practice row is public: saved in place, then
    put back)."""
    previous = alpha.time_zone
    set_time_zone(alpha, "America/Los_Angeles")
    yield alpha
    set_time_zone(alpha, previous)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def born(birthday: date, **fields) -> Patient:
    """A patient who joined long before the dates these tests travel to."""
    with time_machine.travel(at(2020, 1, 1, 12), tick=False):
        return PatientFactory(birthday=birthday, **fields)


def run_at(moment: datetime) -> dict:
    with time_machine.travel(moment, tick=False):
        return run_daily_jobs()


def awards(patient: Patient) -> list[str]:
    return sorted(ActionAward.objects.filter(patient=patient).values_list("limit_key", flat=True))


def test_a_birthday_is_celebrated_on_the_practices_local_date(birthday_action, los_angeles):
    ninth = born(date(1990, 3, 9))
    tenth = born(date(1990, 3, 10))
    # 06:00 UTC on 10 March is still the evening of 9 March in Los Angeles.
    counts = run_at(at(2026, 3, 10, 6))
    assert counts["birthdays"] == 1
    assert (awards(ninth), awards(tenth)) == (["2026"], [])


def test_a_birthday_gives_the_actions_points_and_a_message_in_the_inbox(birthday_action):
    patient = born(date(1985, 6, 1))
    run_at(at(2026, 6, 1, 15))
    patient.points_account.refresh_from_db()
    assert patient.points_account.balance == 250
    notification = Notification.objects.get(patient=patient)
    assert notification.title == "Happy birthday!"
    assert "250 points" in notification.body


def test_a_29_february_birthday_is_celebrated_on_28_february_in_other_years(birthday_action):
    leapling = born(date(2000, 2, 29))
    run_at(at(2027, 2, 28, 15))
    assert awards(leapling) == ["2027"]


def test_a_29_february_birthday_waits_for_29_february_in_a_leap_year(birthday_action):
    leapling = born(date(2000, 2, 29))
    run_at(at(2028, 2, 28, 15))
    assert awards(leapling) == []
    run_at(at(2028, 2, 29, 15))
    assert awards(leapling) == ["2028"]


def test_a_28_february_birthday_is_not_moved_by_leap_years(birthday_action):
    patient = born(date(1999, 2, 28))
    run_at(at(2028, 2, 28, 15))
    assert awards(patient) == ["2028"]


def test_running_the_job_twice_on_a_birthday_gives_it_once(birthday_action):
    patient = born(date(1990, 7, 4))
    first = run_at(at(2026, 7, 4, 12))
    second = run_at(at(2026, 7, 4, 20))
    assert (first["birthdays"], second["birthdays"]) == (1, 0)
    assert awards(patient) == ["2026"]
    assert Notification.objects.filter(patient=patient).count() == 1


def test_the_birthday_comes_again_next_year(birthday_action):
    patient = born(date(1990, 7, 4))
    run_at(at(2026, 7, 4, 12))
    run_at(at(2027, 7, 4, 12))
    assert awards(patient) == ["2026", "2027"]
    patient.points_account.refresh_from_db()
    # Without a visit, last year's birthday points expired a year after they were given.
    assert patient.points_account.balance == 250
    assert patient.points_account.entries.filter(kind="expiry", delta=-250).count() == 1


def test_a_birthday_missed_by_the_job_is_caught_up_within_a_week(birthday_action):
    patient = born(date(1990, 3, 5))
    run_at(at(2026, 3, 11, 15))  # the job did not run from 5 to 10 March
    assert awards(patient) == ["2026"]


def test_a_birthday_more_than_a_week_ago_is_not_caught_up(birthday_action):
    patient = born(date(1990, 3, 3))
    run_at(at(2026, 3, 11, 15))
    assert awards(patient) == []


def test_a_december_birthday_caught_up_in_january_counts_for_its_own_year(birthday_action):
    patient = born(date(1990, 12, 30))
    run_at(at(2027, 1, 2, 15))
    assert awards(patient) == ["2026"]
    run_at(at(2027, 12, 30, 15))
    assert awards(patient) == ["2026", "2027"]


def test_pending_and_archived_patients_get_no_birthday_bonus(birthday_action):
    pending = born(date(1990, 5, 5), status=Patient.Status.PENDING)
    archived = born(date(1990, 5, 5), status=Patient.Status.ARCHIVED)
    assert run_at(at(2026, 5, 5, 15))["birthdays"] == 0
    assert awards(pending) == awards(archived) == []


def test_a_patient_who_joins_after_their_birthday_waits_for_the_next_one(birthday_action):
    with time_machine.travel(at(2026, 5, 8, 15), tick=False):
        patient = PatientFactory(birthday=date(1990, 5, 5))
    assert run_at(at(2026, 5, 9, 15))["birthdays"] == 0
    assert awards(patient) == []


def test_a_patient_who_joins_on_their_birthday_after_the_job_ran_gets_it_the_next_day(birthday_action):
    run_at(at(2026, 5, 5, 11))
    with time_machine.travel(at(2026, 5, 5, 18), tick=False):
        patient = PatientFactory(birthday=date(1990, 5, 5))
    run_at(at(2026, 5, 6, 11))
    assert awards(patient) == ["2026"]


def test_no_birthday_bonus_without_an_active_birthday_action(birthday_action):
    EarningAction.objects.filter(pk=birthday_action.pk).update(is_active=False)
    born(date(1990, 5, 5))
    assert run_at(at(2026, 5, 5, 15))["birthdays"] == 0


def test_a_once_ever_birthday_action_is_given_only_once(birthday_action):
    EarningAction.objects.filter(pk=birthday_action.pk).update(limit=EarningAction.Limit.ONCE)
    patient = born(date(1990, 5, 5))
    run_at(at(2026, 5, 5, 15))
    assert run_at(at(2027, 5, 5, 15))["birthdays"] == 0
    assert awards(patient) == ["ever"]


def test_an_unlimited_birthday_action_is_still_given_once_per_birthday(birthday_action):
    EarningAction.objects.filter(pk=birthday_action.pk).update(limit=EarningAction.Limit.UNLIMITED)
    patient = born(date(1990, 5, 5))
    run_at(at(2026, 5, 5, 15))
    run_at(at(2026, 5, 6, 15))  # still in the catch-up week
    run_at(at(2027, 5, 5, 15))
    assert ActionAward.objects.filter(patient=patient).count() == 2


def test_an_unlimited_birthday_action_is_still_given_once_a_year_even_when_two_runs_race(birthday_action):
    """The database refuses the second award (the birthday's year is its key), not only the job's own check."""
    birthday_action.limit = EarningAction.Limit.UNLIMITED
    birthday_action.save(update_fields=["limit"])
    patient = born(date(1985, 6, 1))
    with time_machine.travel(at(2026, 6, 1, 15), tick=False):
        award_action(patient=patient, action=birthday_action, note="Birthday 2026", occasion="2026")
        # A second run that read "not celebrated yet" before the first committed.
        with pytest.raises(ActionLimitReached):
            award_action(patient=patient, action=birthday_action, note="Birthday 2026", occasion="2026")
    assert run_at(at(2026, 6, 1, 16))["birthdays"] == 0
    assert awards(patient) == ["2026"]
    assert run_at(at(2027, 6, 1, 16))["birthdays"] == 1
    assert awards(patient) == ["2026", "2027"]
