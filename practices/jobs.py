"""Daily jobs run inside one practice's schema (listed in settings.PRACTICE_DAILY_JOBS)."""

from django.contrib.sessions.models import Session
from django.utils import timezone


def clear_expired_sessions() -> int:
    """Delete the practice's expired sign-in sessions; returns how many were removed."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
