"""Demo referrals for `seed_demo`."""

from practices.models import Practice


def seed_referrals(practice: Practice) -> None:
    return None
