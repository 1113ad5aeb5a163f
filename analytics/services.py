"""Writes of the analytics app: the stored top-earner rankings (the rollups themselves: analytics.rollups)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import rollups, selectors
from .models import EarnerRanking
from .periods import Period


def keep_ranking(*, first_day: date, last_day: date, zone: ZoneInfo) -> list[list[int]]:
    """The top earners of whole past days, computed and stored the first time (a past day never changes)."""
    found = selectors.stored_ranking(first_day, last_day)
    if found is not None:
        return found
    rows = selectors.compute_ranking(first_day, last_day, zone)
    try:
        with transaction.atomic():
            EarnerRanking.objects.create(first_day=first_day, last_day=last_day, rows=rows, computed_at=timezone.now())
    except IntegrityError:
        pass  # stored meanwhile by another request: the same rows
    return rows


def keep_period_ranking(period: Period) -> None:
    """Store the ranking the top earners of `period` read (its days the rollups hold), if not kept yet: the
    dashboard calls this before reading its figures, so the next look at the same period adds only new days."""
    cover = rollups.coverage(period.zone)
    if span := cover.rolled_days(period.first_day, period.last_day):
        keep_ranking(first_day=span[0], last_day=span[1], zone=period.zone)
