"""Reads behind the front desk's home: patients found as their name or number is typed, today's new members and
birthdays, and the vouchers issued and not used yet. Dates are the practice's (the caller passes its zone)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from patients.models import Patient
from patients.views_staff import search_patients
from rewards.models import Redemption

FOUND_AT_MOST = 8
TODAY_AT_MOST = 25
VOUCHERS_SHOWN = 8


def _ready(now: datetime) -> Q:
    return Q(status=Redemption.Status.ISSUED, expires_at__gt=now)


def find_patients(query: str, *, now: datetime | None = None) -> tuple[list[Patient], int]:
    """Up to FOUND_AT_MOST patients matching a name, number, sign-up code or email (the patient list's search),
    each with their balance, tier and vouchers ready to use (`ready_vouchers`); and how many match in all."""
    now = now or timezone.now()
    matches = search_patients(query).exclude(status=Patient.Status.ARCHIVED)
    found = list(
        matches.select_related("points_account__tier").annotate(
            ready_vouchers=Count(
                "redemptions",
                filter=Q(redemptions__status=Redemption.Status.ISSUED, redemptions__expires_at__gt=now),
            )
        )[:FOUND_AT_MOST]
    )
    count = len(found) if len(found) < FOUND_AT_MOST else matches.count()
    return found, count


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def _desk_patients() -> QuerySet[Patient]:
    return Patient.objects.filter(status=Patient.Status.ACTIVE).select_related("user", "points_account")


def new_members(*, day: date, zone: ZoneInfo) -> list[Patient]:
    """The patients who joined on `day`, the latest first."""
    start, end = _day_bounds(day, zone)
    return list(_desk_patients().filter(joined_at__gte=start, joined_at__lt=end).order_by("-joined_at")[:TODAY_AT_MOST])


def birthdays(*, day: date) -> list[Patient]:
    """The patients whose birthday is `day` (29 February falls on 28 February in other years), by name."""
    matches = Q(birthday__month=day.month, birthday__day=day.day)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        matches |= Q(birthday__month=2, birthday__day=29)
    return list(_desk_patients().filter(matches).order_by("user__first_name", "user__last_name")[:TODAY_AT_MOST])


@dataclass(frozen=True)
class ReadyVouchers:
    count: int
    latest: list[Redemption]


def ready_vouchers(*, now: datetime | None = None) -> ReadyVouchers:
    """The vouchers issued and not used yet (nor expired): how many, and the latest few."""
    now = now or timezone.now()
    ready = Redemption.objects.filter(_ready(now))
    latest = list(ready.select_related("reward", "patient__user").order_by("-created_at", "-id")[:VOUCHERS_SHOWN])
    return ReadyVouchers(count=len(latest) if len(latest) < VOUCHERS_SHOWN else ready.count(), latest=latest)
