"""The daily job's expiry and expiry reminders: at the date, once, every reminder once, caught up after gaps."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from loyalty.jobs import run_daily_jobs
from loyalty.models import EarningAction, ExpiryReminder, LedgerEntry, PointsAccount
from loyalty.services import LineIn, award_action, expire_points, post_points, program_settings, record_purchase
from patients.models import Activity, Notification, Patient
from tests.factories import CatalogItemFactory, EarningActionFactory, PatientFactory

# The practice is in New York (the default); 12:00 UTC is 07:00 or 08:00 there, the same date.
BOUGHT_AT = datetime(2026, 1, 15, 17, tzinfo=UTC)
EXPIRES_AT = BOUGHT_AT + timedelta(days=365)
EXPIRES_ON = date(2027, 1, 15)
NEW_YORK = ZoneInfo("America/New_York")


def at_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def buy(patient: Patient, *, price_cents: int = 10_000, when: datetime = BOUGHT_AT) -> None:
    with time_machine.travel(when, tick=False):
        record_purchase(
            patient=patient,
            lines=[LineIn(quantity=1, unit_price_cents=price_cents, item=CatalogItemFactory(price_cents=price_cents))],
            source="desk",
        )


def run_at(moment: datetime) -> dict:
    with time_machine.travel(moment, tick=False):
        return run_daily_jobs()


@pytest.fixture
def patient(alpha) -> Patient:
    with time_machine.travel(BOUGHT_AT - timedelta(days=30), tick=False):
        patient = PatientFactory()
    buy(patient)
    return patient


def account_of(patient: Patient) -> PointsAccount:
    return PointsAccount.objects.get(patient=patient)


def reminders(patient: Patient) -> list[int]:
    return sorted(
        ExpiryReminder.objects.filter(account__patient=patient).values_list("days_before", flat=True), reverse=True
    )


def inbox(patient: Patient) -> list[str]:
    return list(Notification.objects.filter(patient=patient).order_by("id").values_list("title", flat=True))


# ---------------------------------------------------------------- expiry


def test_points_do_not_expire_a_second_before_the_expiry_date(patient):
    assert run_at(EXPIRES_AT - timedelta(seconds=1))["expired"] == 0
    assert account_of(patient).balance == 100


def test_points_expire_at_the_expiry_date(patient):
    assert run_at(EXPIRES_AT)["expired"] == 1
    assert account_of(patient).balance == 0


def test_the_expiry_entry_takes_the_whole_balance(patient):
    buy(patient, price_cents=5_000, when=BOUGHT_AT + timedelta(days=10))
    new_expiry = BOUGHT_AT + timedelta(days=375)
    run_at(new_expiry)
    entry = LedgerEntry.objects.get(account__patient=patient, kind=LedgerEntry.Kind.EXPIRY)
    assert (entry.delta, entry.balance_after) == (-150, 0)


def test_expiry_happens_once_when_the_job_runs_twice(patient):
    first = run_at(EXPIRES_AT + timedelta(hours=1))
    second = run_at(EXPIRES_AT + timedelta(hours=5))
    assert (first["expired"], second["expired"]) == (1, 0)
    assert LedgerEntry.objects.filter(account__patient=patient, kind=LedgerEntry.Kind.EXPIRY).count() == 1
    assert inbox(patient).count("100 points expired") == 1


def test_a_missed_expiry_is_caught_up(patient):
    assert run_at(EXPIRES_AT + timedelta(days=12))["expired"] == 1
    assert account_of(patient).balance == 0


def test_the_patient_is_told_their_points_expired(patient):
    run_at(EXPIRES_AT + timedelta(hours=1))
    notification = Notification.objects.filter(patient=patient).latest("id")
    assert notification.title == "100 points expired"
    assert "expired on January 15" in notification.body


def test_points_given_after_an_expiry_are_left_for_the_next_purchase_to_date(patient):
    run_at(EXPIRES_AT + timedelta(hours=1))
    bonus = EarningActionFactory(kind=EarningAction.Kind.GOOGLE_REVIEW, points=40)
    with time_machine.travel(EXPIRES_AT + timedelta(days=2), tick=False):
        award_action(patient=patient, action=bonus)
    assert run_at(EXPIRES_AT + timedelta(days=3))["expired"] == 0
    assert account_of(patient).balance == 40
    assert patient.activities.filter(kind=Activity.Kind.POINTS_EXPIRED).count() == 1


def test_expire_points_does_not_claim_an_expiry_that_already_happened(patient):
    with time_machine.travel(EXPIRES_AT + timedelta(hours=1), tick=False):
        expire_points(account_id=account_of(patient).pk)
    bonus = EarningActionFactory(kind=EarningAction.Kind.GOOGLE_REVIEW, points=40)
    with time_machine.travel(EXPIRES_AT + timedelta(days=2), tick=False):
        award_action(patient=patient, action=bonus)
        again = expire_points(account_id=account_of(patient).pk)
    assert again is None
    assert patient.activities.filter(kind=Activity.Kind.POINTS_EXPIRED).count() == 1


def test_an_empty_account_past_its_date_writes_nothing(alpha):
    patient = PatientFactory()
    PointsAccount.objects.filter(patient=patient).update(expires_at=timezone.now() - timedelta(days=1))
    assert run_daily_jobs()["expired"] == 0
    assert not LedgerEntry.objects.filter(account__patient=patient).exists()


# ---------------------------------------------------------------- reminders


def test_every_reminder_is_sent_once_on_its_day(patient):
    sent_on: dict[int, date] = {}
    day = EXPIRES_ON - timedelta(days=200)
    while day <= EXPIRES_ON + timedelta(days=2):
        before = set(reminders(patient))
        run_at(at_noon(day))
        for days_before in set(reminders(patient)) - before:
            sent_on[days_before] = day
        day += timedelta(days=1)
    assert sent_on == {n: EXPIRES_ON - timedelta(days=n) for n in (180, 30, 7, 1)}
    assert inbox(patient) == [
        "Your 100 points expire on January 15",
        "Your 100 points expire on January 15",
        "Your 100 points expire on January 15",
        "Your 100 points expire on January 15",
        "100 points expired",
    ]


def test_a_reminder_is_counted_on_the_practices_calendar(patient):
    # 03:00 UTC on 9 January is still 8 January in New York: 7 days before the 15th is not yet here.
    assert run_at(datetime(2027, 1, 8, 3, tzinfo=UTC))["reminders"] == 1
    assert reminders(patient) == [180, 30]
    assert run_at(datetime(2027, 1, 8, 12, tzinfo=UTC))["reminders"] == 1
    assert reminders(patient) == [180, 30, 7]


def test_the_reminder_says_how_many_points_expire_and_when(patient):
    run_at(at_noon(EXPIRES_ON - timedelta(days=7)))
    notification = Notification.objects.get(patient=patient)
    assert notification.title == "Your 100 points expire on January 15"
    assert "January 15, 2027" in notification.body
    assert notification.url == "/points/"


def test_running_the_job_twice_sends_a_reminder_once(patient):
    run_at(at_noon(EXPIRES_ON - timedelta(days=30)))
    assert run_at(at_noon(EXPIRES_ON - timedelta(days=30)) + timedelta(hours=3))["reminders"] == 0
    assert len(inbox(patient)) == 1


def test_after_missed_days_only_the_most_urgent_reminder_is_sent(patient):
    # The job did not run for months: on its first day back, 180 and 30 days are both overdue.
    assert run_at(at_noon(EXPIRES_ON - timedelta(days=25)))["reminders"] == 1
    assert inbox(patient) == ["Your 100 points expire on January 15"]
    assert reminders(patient) == [180, 30]
    run_at(at_noon(EXPIRES_ON - timedelta(days=24)))
    assert len(inbox(patient)) == 1


def test_the_skipped_reminders_never_arrive_late(patient):
    run_at(at_noon(EXPIRES_ON - timedelta(days=3)))  # 180, 30 and 7 all overdue: only "7" goes out
    for back in (2, 1, 0):
        run_at(at_noon(EXPIRES_ON - timedelta(days=back)))
    assert reminders(patient) == [180, 30, 7, 1]
    assert len(inbox(patient)) == 2


def test_a_purchase_that_moves_the_expiry_date_starts_a_fresh_series(patient):
    run_at(at_noon(EXPIRES_ON - timedelta(days=30)))
    assert reminders(patient) == [180, 30]
    new_purchase = at_noon(EXPIRES_ON - timedelta(days=20))
    buy(patient, when=new_purchase)
    new_expiry = timezone.localtime(new_purchase + timedelta(days=365), NEW_YORK).date()
    # No reminder for the old date any more...
    assert run_at(at_noon(EXPIRES_ON - timedelta(days=7)))["reminders"] == 0
    assert run_at(at_noon(EXPIRES_ON))["expired"] == 0
    # ...and the new date gets its own 180-day reminder.
    assert run_at(at_noon(new_expiry - timedelta(days=180)))["reminders"] == 1
    account = account_of(patient)
    assert list(
        ExpiryReminder.objects.filter(account=account, expires_at=account.expires_at).values_list(
            "days_before", flat=True
        )
    ) == [180]
    assert inbox(patient)[-1] == f"Your 200 points expire on {new_expiry:%B} {new_expiry.day}"


def test_reminders_follow_the_programs_reminder_days(patient):
    settings_row = program_settings()
    settings_row.reminder_days = [14]
    settings_row.save()
    assert run_at(at_noon(EXPIRES_ON - timedelta(days=30)))["reminders"] == 0
    assert run_at(at_noon(EXPIRES_ON - timedelta(days=14)))["reminders"] == 1
    assert reminders(patient) == [14]


def test_inactive_patients_get_no_reminder(patient):
    Patient.objects.filter(pk=patient.pk).update(status=Patient.Status.ARCHIVED)
    assert run_at(at_noon(EXPIRES_ON - timedelta(days=7)))["reminders"] == 0
    assert inbox(patient) == []


def test_an_account_whose_points_were_spent_gets_no_reminder(patient):
    post_points(account_id=account_of(patient).pk, delta=-100, kind=LedgerEntry.Kind.REDEMPTION)
    assert run_at(at_noon(EXPIRES_ON - timedelta(days=7)))["reminders"] == 0
