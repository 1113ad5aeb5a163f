"""django-q2 entry points; `practices.tasks.enqueue_for_practice` runs them in the practice's schema."""

from . import services


def qualify(purchase_id: int) -> int | None:
    referral = services.qualify(purchase_id=purchase_id)
    return referral.pk if referral else None


def issue_rewards(referral_id: int) -> int:
    return len(services.issue_rewards(referral_id=referral_id))


def claw_back(refund_id: int) -> int | None:
    referral = services.claw_back(refund_id=refund_id)
    return referral.pk if referral else None


def redrive_stuck_referrals() -> int:
    """Listed in settings.PRACTICE_FREQUENT_JOBS: re-drives referrals a lost task left half-way."""
    return services.redrive_stuck_referrals()
