"""The analytics part of the daily job (settings.PRACTICE_DAILY_JOBS), run inside one practice's schema."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from . import rollups, services
from .models import EarnerRanking
from .periods import PRESETS, preset_period

logger = logging.getLogger(__name__)

# Rankings of custom periods are kept this long after they were computed.
RANKINGS_KEPT = timedelta(days=14)


def run_daily_jobs(now: datetime | None = None) -> dict:
    """Bring the rollups up to date (backfilling every missing day) and rank the top earners of the preset
    periods, so the first dashboard of the day is as fast as the next. Safe to run twice."""
    now = now or timezone.now()
    built = rollups.build(now=now)
    zone = timezone.get_current_timezone()
    cover = rollups.coverage(zone)
    today = now.astimezone(zone).date()
    ranked = 0
    for key in PRESETS:
        period = preset_period(key, today=today, zone=zone)
        if span := cover.rolled_days(period.first_day, period.last_day):
            services.keep_ranking(first_day=span[0], last_day=span[1], zone=zone)
            ranked += 1
    pruned, _ = EarnerRanking.objects.filter(computed_at__lt=now - RANKINGS_KEPT).delete()
    return {
        "rolled_through": built.rolled_through.isoformat(),
        "days_built": built.days_built,
        "days_rebuilt": built.days_rebuilt,
        "rankings": ranked,
        "rankings_pruned": pruned,
    }
