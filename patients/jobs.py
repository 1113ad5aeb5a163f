"""The patients' daily job (listed in settings.PRACTICE_DAILY_JOBS), run inside one practice's schema."""

import logging
from datetime import datetime

from django.db import connection

from . import services

logger = logging.getLogger(__name__)


def remove_stale_signups(now: datetime | None = None) -> int:
    """Remove sign-ups whose SMS code was not entered within a day (and their inactive users); returns how many."""
    removed = services.remove_stale_signups(now=now)
    if removed:
        logger.info("Removed %s unconfirmed sign-ups in %s", removed, connection.schema_name)
    return removed


def remove_expired_phone_changes(now: datetime | None = None) -> int:
    """Remove new numbers whose code was never entered (patients.phone_change); returns how many."""
    from .phone_change import remove_expired_phone_changes as remove

    removed = remove(now=now)
    if removed:
        logger.info("Removed %s unconfirmed number changes in %s", removed, connection.schema_name)
    return removed
