"""The dashboard's periods: whole days of the practice's calendar, from the start of the first day to the
end of the last, each compared with the same number of days just before it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)

# key: (label, number of days ending today; None = the last 12 months)
PRESETS = {
    "7d": ("Last 7 days", 7),
    "30d": ("Last 30 days", 30),
    "90d": ("Last 90 days", 90),
    "12m": ("Last 12 months", None),
}
DEFAULT_PRESET = "30d"
CUSTOM = "custom"
# A custom period is at most about three years long (and its previous period as long again).
MAX_CUSTOM_DAYS = 1096
# Charts show days up to a month, weeks up to about half a year, months beyond.
DAILY_UP_TO = 31
WEEKLY_UP_TO = 183


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """Midnight at the start of `day` in `zone` (daylight-saving days are 23 or 25 hours long)."""
    return datetime.combine(day, time.min, tzinfo=zone)


def twelve_months_back(today: date) -> date:
    """The first day of the 12 months ending today (29 February counts back to 1 March)."""
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:
        year_ago = date(today.year - 1, 2, 28)
    return year_ago + ONE_DAY


@dataclass(frozen=True)
class Bucket:
    """One point of a chart: a day, a week (Monday to Sunday) or a month, clipped to the period."""

    first_day: date
    last_day: date
    label: str


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    first_day: date
    last_day: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return start_of_day(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        """The end (exclusive): midnight after the last day."""
        return start_of_day(self.last_day + ONE_DAY, self.zone)

    @property
    def day_count(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def is_custom(self) -> bool:
        return self.key == CUSTOM

    def previous(self) -> Period:
        """The same number of days just before this period."""
        last = self.first_day - ONE_DAY
        return Period(
            key=self.key,
            label="Previous period",
            first_day=last - timedelta(days=self.day_count - 1),
            last_day=last,
            zone=self.zone,
        )

    @property
    def bucket_size(self) -> str:
        if self.day_count <= DAILY_UP_TO:
            return "day"
        return "week" if self.day_count <= WEEKLY_UP_TO else "month"

    def buckets(self) -> list[Bucket]:
        size = self.bucket_size
        buckets = []
        day = self.first_day
        while day <= self.last_day:
            if size == "day":
                last = day
                label = f"{day:%b} {day.day}"
            elif size == "week":
                last = min(day + timedelta(days=6 - day.weekday()), self.last_day)
                label = f"{day:%b} {day.day}"
            else:
                next_month = date(day.year + day.month // 12, day.month % 12 + 1, 1)
                last = min(next_month - ONE_DAY, self.last_day)
                label = f"{day:%b %Y}"
            buckets.append(Bucket(first_day=day, last_day=last, label=label))
            day = last + ONE_DAY
        return buckets

    @property
    def range_label(self) -> str:
        return day_range_label(self.first_day, self.last_day)

    def query(self) -> dict[str, str]:
        """The query string that selects this period again."""
        if self.is_custom:
            return {"period": CUSTOM, "start": self.first_day.isoformat(), "end": self.last_day.isoformat()}
        return {"period": self.key}


def day_range_label(first: date, last: date) -> str:
    if first == last:
        return f"{first:%b} {first.day}, {first.year}"
    if first.year == last.year:
        return f"{first:%b} {first.day} – {last:%b} {last.day}, {last.year}"
    return f"{first:%b} {first.day}, {first.year} – {last:%b} {last.day}, {last.year}"


def preset_period(key: str, *, today: date, zone: ZoneInfo) -> Period:
    label, days = PRESETS[key]
    first = twelve_months_back(today) if days is None else today - timedelta(days=days - 1)
    return Period(key=key, label=label, first_day=first, last_day=today, zone=zone)


def custom_period(first_day: date, last_day: date, *, zone: ZoneInfo) -> Period:
    return Period(key=CUSTOM, label="Custom period", first_day=first_day, last_day=last_day, zone=zone)
