"""The rewards app's part of the daily job (run inside one practice's schema)."""

from .services import expire_vouchers


def run_daily_jobs() -> int:
    """Expire the practice's unused vouchers past their date; returns how many."""
    return expire_vouchers()
