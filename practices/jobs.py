"""Daily jobs run inside one practice's schema (listed in settings.PRACTICE_DAILY_JOBS)."""

from datetime import datetime

from django.contrib.sessions.models import Session
from django.utils import timezone

from .private_files import delete_old_files


def clear_expired_sessions(now: datetime | None = None) -> int:
    """Delete the practice's expired sign-in sessions; returns how many were removed."""
    deleted, _ = Session.objects.filter(expire_date__lt=now or timezone.now()).delete()
    return deleted


def delete_old_private_files(now: datetime | None = None) -> int:
    """Delete the practice's private files (patient import lists) older than PRIVATE_FILES_KEEP_DAYS;
    returns how many were removed. A finished import deletes its own file at once: this catches the rest."""
    return delete_old_files(now=now)
