"""Periods are whole days of the practice's calendar, compared with as many days just before."""

from datetime import UTC, date, datetime, timedelta

from analytics.forms import PeriodForm
from analytics.periods import custom_period, preset_period
from tests.analytics.history import NY


def form(data, today=date(2026, 3, 15)) -> PeriodForm:
    return PeriodForm(data, today=today, zone=NY)


def test_the_last_7_days_end_today_and_start_at_local_midnight():
    period = preset_period("7d", today=date(2026, 3, 15), zone=NY)

    assert (period.first_day, period.last_day) == (date(2026, 3, 9), date(2026, 3, 15))
    # Midnight in New York: 04:00 UTC once daylight saving started on March 8.
    assert period.start == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 3, 16, 4, 0, tzinfo=UTC)


def test_a_period_across_the_change_to_daylight_saving_is_an_hour_short():
    period = custom_period(date(2026, 3, 8), date(2026, 3, 8), zone=NY)

    assert period.end.astimezone(UTC) - period.start.astimezone(UTC) == timedelta(hours=23)


def test_the_previous_period_has_the_same_number_of_days():
    period = preset_period("30d", today=date(2026, 3, 15), zone=NY)
    previous = period.previous()

    assert (previous.first_day, previous.last_day) == (date(2026, 1, 15), date(2026, 2, 13))
    assert previous.day_count == period.day_count == 30
    assert previous.end == period.start


def test_twelve_months_end_today_and_count_back_from_29_february():
    assert preset_period("12m", today=date(2026, 11, 23), zone=NY).first_day == date(2025, 11, 24)
    assert preset_period("12m", today=date(2028, 2, 29), zone=NY).first_day == date(2027, 3, 1)


def test_charts_use_days_weeks_or_months_by_the_length():
    month = custom_period(date(2026, 3, 1), date(2026, 3, 31), zone=NY)
    quarter = preset_period("90d", today=date(2026, 3, 15), zone=NY)
    year = preset_period("12m", today=date(2026, 3, 15), zone=NY)

    assert (month.bucket_size, len(month.buckets())) == ("day", 31)
    assert quarter.bucket_size == "week"
    # Weeks run Monday to Sunday, clipped to the period: December 16, 2025 is a Tuesday.
    assert [(b.first_day, b.last_day) for b in quarter.buckets()[:2]] == [
        (date(2025, 12, 16), date(2025, 12, 21)),
        (date(2025, 12, 22), date(2025, 12, 28)),
    ]
    assert year.bucket_size == "month"
    assert [b.label for b in year.buckets()][:2] == ["Mar 2025", "Apr 2025"]
    assert (year.buckets()[0].first_day, year.buckets()[-1].last_day) == (date(2025, 3, 16), date(2026, 3, 15))


def test_an_empty_selector_gives_the_last_30_days():
    period = form(None).chosen_period()

    assert (period.key, period.first_day, period.last_day) == ("30d", date(2026, 2, 14), date(2026, 3, 15))


def test_a_custom_period_is_read_from_the_dates():
    chosen = form({"period": "custom", "start": "2026-01-01", "end": "2026-01-31"})

    assert chosen.is_valid()
    period = chosen.chosen_period()
    assert (period.first_day, period.last_day, period.query()) == (
        date(2026, 1, 1),
        date(2026, 1, 31),
        {"period": "custom", "start": "2026-01-01", "end": "2026-01-31"},
    )


def test_a_custom_period_needs_both_dates():
    chosen = form({"period": "custom", "start": "2026-01-01"})

    assert not chosen.is_valid()
    assert chosen.non_field_errors() == ["Enter both dates of the custom period."]
    assert chosen.chosen_period().key == "30d"


def test_custom_dates_in_the_wrong_order_are_refused():
    chosen = form({"period": "custom", "start": "2026-02-01", "end": "2026-01-01"})

    assert chosen.errors == {"end": ["The end date must be on or after the start date."]}


def test_a_custom_period_cannot_end_after_today():
    chosen = form({"period": "custom", "start": "2026-03-01", "end": "2026-03-16"})

    assert chosen.errors == {"end": ["The end date can't be after today (Mar 15, 2026)."]}


def test_a_custom_period_is_at_most_about_three_years():
    chosen = form({"period": "custom", "start": "2020-01-01", "end": "2026-03-01"})

    assert chosen.errors == {"start": ["A custom period can be at most 1,096 days long."]}


def test_a_date_that_is_not_a_date_is_refused():
    chosen = form({"period": "custom", "start": "yesterday", "end": "2026-03-01"})

    assert chosen.errors == {"start": ["Enter a valid date."]}
