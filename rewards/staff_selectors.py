"""Reads behind the rewards staff pages: the reward list with its counts, the vouchers on a patient's page,
and what a redemption would leave the patient with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from patients.models import Patient

from .models import Redemption, Reward
from .selectors import points_account
from .services import check_redeemable


def rewards_with_counts() -> QuerySet[Reward]:
    """Every reward in display order, with how many times it was redeemed (cancelled vouchers don't count)."""
    return (
        Reward.objects.filter(is_gift=False)
        .select_related("min_tier", "item")
        .annotate(redeemed_count=Count("redemptions", filter=~Q(redemptions__status=Redemption.Status.CANCELLED)))
    )


def has_redemptions(*, reward: Reward) -> bool:
    return Redemption.objects.filter(reward=reward).exists()


@dataclass(frozen=True)
class RedeemPreview:
    balance: int
    cost: int

    @property
    def balance_after(self) -> int:
        return self.balance - self.cost


def redeem_preview(*, patient: Patient, reward: Reward) -> RedeemPreview:
    """What redeeming would cost and leave; raises the DomainError redeem_reward would raise right now."""
    account = points_account(patient=patient)
    check_redeemable(reward=reward, patient=patient, account=account, now=timezone.now())
    return RedeemPreview(balance=account.balance, cost=reward.points_cost)


def desk_vouchers(
    *,
    status: str = "outstanding",
    reward: Reward | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> QuerySet[Redemption]:
    """Vouchers for the desk's list, newest first. "outstanding": ready to use (issued, not expired yet);
    "expired" includes issued ones past their date that the daily job has not marked yet. `since` and `until`
    bound the time of issue (until excluded)."""
    now = now or timezone.now()
    vouchers = Redemption.objects.select_related("reward", "patient__user", "used_by").order_by("-created_at", "-id")
    if status == "outstanding":
        vouchers = vouchers.filter(status=Redemption.Status.ISSUED, expires_at__gt=now)
    elif status == "expired":
        vouchers = vouchers.filter(
            Q(status=Redemption.Status.EXPIRED) | Q(status=Redemption.Status.ISSUED, expires_at__lte=now)
        )
    elif status in (Redemption.Status.USED, Redemption.Status.CANCELLED):
        vouchers = vouchers.filter(status=status)
    if reward is not None:
        vouchers = vouchers.filter(reward=reward)
    if since is not None:
        vouchers = vouchers.filter(created_at__gte=since)
    if until is not None:
        vouchers = vouchers.filter(created_at__lt=until)
    return vouchers
