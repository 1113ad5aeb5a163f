"""The rewards app's part of the daily job (run inside one practice's schema)."""

from datetime import datetime

from .services import expire_vouchers


def run_daily_jobs(now: datetime | None = None) -> int:
    """Expire the practice's unused vouchers past their date; returns how many."""
    return expire_vouchers(now=now)
