"""Daily jobs run inside one practice's schema (listed in settings.PRACTICE_DAILY_JOBS)."""

from datetime import datetime

from django.contrib.sessions.models import Session
from django.utils import timezone


def clear_expired_sessions(now: datetime | None = None) -> int:
    """Delete the practice's expired sign-in sessions; returns how many were removed."""
    deleted, _ = Session.objects.filter(expire_date__lt=now or timezone.now()).delete()
    return deleted
