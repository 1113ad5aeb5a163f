"""Demo steps for `seed_demo`, run after every other app's: the demo patients use their rewards over the year
(so the dashboard has redemptions to show), then the rollups are built for the whole history."""

import random
from datetime import timedelta

import time_machine
from django.utils import timezone

from loyalty.models import PointsAccount
from practices.errors import DomainError
from practices.models import Practice
from rewards.models import Redemption, Reward
from rewards.services import cancel_redemption, redeem_reward, use_voucher

from .jobs import run_daily_jobs
from .models import RollupState


def seed_voucher_use(practice: Practice) -> None:
    """About two in five patients with enough points redeem a reward once they can afford it, and most
    use the voucher a few weeks later; a few cancel. Skipped once any reward was redeemed."""
    rewards = list(Reward.objects.filter(is_active=True, is_gift=False).order_by("points_cost"))
    if not rewards or Redemption.objects.filter(reward__is_gift=False).exists():
        return
    rng = random.Random(5150)
    now = timezone.now()
    seeded = 0
    accounts = PointsAccount.objects.filter(balance__gte=rewards[0].points_cost).select_related("patient__user")
    for account in accounts.order_by("pk"):
        affordable = [reward for reward in rewards if reward.points_cost <= account.balance]
        if rng.random() > 0.4 or not affordable:
            continue
        reward = rng.choice(affordable)
        # The first day the patient had the points, plus a few days to come back for it.
        running, redeemed_at = 0, None
        for created_at, delta in account.entries.order_by("created_at", "pk").values_list("created_at", "delta"):
            running += delta
            if running >= reward.points_cost:
                redeemed_at = created_at + timedelta(days=rng.uniform(1, 20))
                break
        if redeemed_at is None or redeemed_at > now - timedelta(days=1):
            continue
        try:
            with time_machine.travel(redeemed_at, tick=False):
                redemption = redeem_reward(patient=account.patient, reward=reward)
        except DomainError:
            continue  # a tier the patient does not have, or a limit: they pick nothing this time
        seeded += 1
        chance = rng.random()
        if chance < 0.75:
            used_at = redeemed_at + timedelta(days=rng.uniform(2, 45))
            if used_at < now:
                with time_machine.travel(used_at, tick=False):
                    use_voucher(code=redemption.voucher_code, via=rng.choice(["desk", "pos"]))
        elif chance < 0.85:
            with time_machine.travel(redeemed_at + timedelta(days=rng.uniform(0.1, 3)), tick=False):
                cancel_redemption(redemption=redemption)
    if seeded:
        # Past days changed: the next step rolls everything up again.
        RollupState.objects.all().delete()


def build_rollups(practice: Practice) -> None:
    """Backfill every day of the demo history (and catch up the days since the last `make run`)."""
    run_daily_jobs()
