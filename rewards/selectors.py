"""Reads of the rewards app: what a patient can redeem (or how close they are), and their vouchers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from loyalty.errors import InsufficientPoints
from loyalty.models import PointsAccount
from patients.models import Patient
from practices.formatting import format_number

from .errors import OutOfStock, RedemptionLimitReached, TierRequired
from .models import Redemption, Reward
from .services import counts_toward_limit, refusal

# Why a reward can't be redeemed, from the closest to the furthest: short of points can be fixed by a visit.
BLOCKED_ORDER = {InsufficientPoints.code: 1, OutOfStock.code: 2, RedemptionLimitReached.code: 3, TierRequired.code: 4}
UNAVAILABLE = (OutOfStock.code, RedemptionLimitReached.code)


@dataclass(frozen=True)
class RewardOption:
    """A reward as one patient sees it now."""

    reward: Reward
    balance: int
    can_redeem: bool
    reason_code: str = ""  # the error code the redemption would be refused with ("" when it can be redeemed)
    reason: str = ""  # "450 more points", "For Gold members", ...
    points_needed: int = 0  # more points needed (0 when the balance covers it)
    tier_needed: str = ""

    @property
    def is_close(self) -> bool:
        """Only points stand in the way."""
        return self.reason_code == InsufficientPoints.code

    @property
    def is_locked(self) -> bool:
        return self.reason_code == TierRequired.code

    @property
    def progress_percent(self) -> int:
        return min(100, self.balance * 100 // self.reward.points_cost)

    @property
    def balance_after(self) -> int:
        return self.balance - self.reward.points_cost

    @property
    def sort_key(self) -> tuple:
        return (BLOCKED_ORDER.get(self.reason_code, 0), self.points_needed, *self.reward_order)

    @property
    def reward_order(self) -> tuple:
        return (self.reward.display_order, self.reward.points_cost, self.reward.pk)


@dataclass(frozen=True)
class RewardsOverview:
    """The patient's rewards page: their balance and the rewards in sections."""

    balance: int
    ready: list[RewardOption]  # redeemable now
    close: list[RewardOption]  # only points short, closest first
    locked: list[RewardOption]  # for a higher tier
    unavailable: list[RewardOption]  # out of stock or limit reached


def rewards_overview(*, patient: Patient, now: datetime | None = None) -> RewardsOverview:
    options = rewards_for(patient=patient, now=now)
    return RewardsOverview(
        balance=options[0].balance if options else points_account(patient=patient).balance,
        ready=[option for option in options if option.can_redeem],
        close=[option for option in options if option.is_close],
        locked=[option for option in options if option.is_locked],
        unavailable=[option for option in options if option.reason_code in UNAVAILABLE],
    )


def points_account(*, patient: Patient) -> PointsAccount:
    """The patient's points account with its tier; an empty one, not saved, when it is missing (every patient
    gets one when created; a read never creates it)."""
    found = PointsAccount.objects.select_related("tier").filter(patient=patient).first()
    return found or PointsAccount(patient=patient)


def available_rewards(*, now: datetime | None = None) -> QuerySet[Reward]:
    """Active rewards inside their dates (staff redeem from these too; tier, stock and limits come later)."""
    now = now or timezone.now()
    return (
        Reward.objects.filter(is_active=True, is_gift=False)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now), Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("min_tier", "item")
    )


def rewards_for(*, patient: Patient, now: datetime | None = None) -> list[RewardOption]:
    """Every reward the patient could see now: redeemable ones first, then the closest."""
    now = now or timezone.now()
    return _options(patient=patient, rewards=list(available_rewards(now=now)), now=now)


def reward_for(*, patient: Patient, reward_id: int, now: datetime | None = None) -> RewardOption | None:
    """One reward as the patient sees it now, or None when it isn't offered (unknown, inactive, out of dates)."""
    now = now or timezone.now()
    rewards = list(available_rewards(now=now).filter(pk=reward_id))
    return _options(patient=patient, rewards=rewards, now=now)[0] if rewards else None


def _options(*, patient: Patient, rewards: list[Reward], now: datetime) -> list[RewardOption]:
    account = points_account(patient=patient)
    counts = _limit_counts(patient=patient, rewards=rewards, now=now)
    options = [_option(reward=reward, account=account, used=counts[reward.pk], now=now) for reward in rewards]
    return sorted(options, key=lambda option: option.sort_key)


def _limit_counts(*, patient: Patient, rewards: list[Reward], now: datetime) -> Counter:
    """How many redemptions count toward each limited reward's limit, for all the rewards in one query."""
    limited = {reward.pk: reward for reward in rewards if reward.per_patient_limit is not None}
    counts: Counter = Counter()
    if not limited:
        return counts
    counted = (
        Redemption.objects.filter(patient=patient, reward_id__in=limited)
        .exclude(status=Redemption.Status.CANCELLED)
        .values_list("reward_id", "created_at")
    )
    for reward_id, created_at in counted:
        if counts_toward_limit(reward=limited[reward_id], created_at=created_at, now=now):
            counts[reward_id] += 1
    return counts


def _option(*, reward: Reward, account: PointsAccount, used: int, now: datetime) -> RewardOption:
    """The reward as the patient sees it: the service's refusal, put in a few words for the page."""
    balance = account.balance
    short = max(0, reward.points_cost - balance)
    error = refusal(reward=reward, account=account, used=used, now=now)
    if error is None:
        return RewardOption(reward, balance, True)
    if isinstance(error, TierRequired):
        tier = reward.min_tier.name
        return RewardOption(
            reward, balance, False, error.code, f"For {tier} members", points_needed=short, tier_needed=tier
        )
    if isinstance(error, RedemptionLimitReached):
        reason = "Limit reached for this year" if reward.limit_period == Reward.LimitPeriod.YEAR else "Limit reached"
        return RewardOption(reward, balance, False, error.code, reason, points_needed=short)
    if isinstance(error, InsufficientPoints):
        return RewardOption(reward, balance, False, error.code, f"{format_number(short)} more points", short)
    if isinstance(error, OutOfStock):
        return RewardOption(reward, balance, False, error.code, "Out of stock", points_needed=short)
    return RewardOption(reward, balance, False, error.code, error.message, points_needed=short)


def patient_vouchers(*, patient: Patient) -> QuerySet[Redemption]:
    """The patient's vouchers: ready-to-use ones first, then newest first."""
    ready_first = Case(
        When(status=Redemption.Status.ISSUED, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        Redemption.objects.filter(patient=patient)
        .select_related("reward__item", "used_by")
        .order_by(ready_first, "-created_at", "-id")
    )


def redeemed_with_form(*, patient: Patient, token: str) -> Redemption | None:
    """The voucher a redeem form with this one-time token issued already, if any (rewards.submit_once)."""
    return Redemption.objects.filter(patient=patient, form_token=token).first() if token else None


def pos_vouchers(
    *, patient_id: int | None = None, status: str | None = None, since: datetime | None = None
) -> QuerySet[Redemption]:
    """Vouchers as the POS lists them (issued to the patient, in this status, issued since...), with their reward."""
    vouchers = Redemption.objects.select_related("reward__item")
    if patient_id is not None:
        vouchers = vouchers.filter(patient_id=patient_id)
    if status is not None:
        vouchers = vouchers.filter(status=status)
    if since is not None:
        vouchers = vouchers.filter(created_at__gte=since)
    return vouchers
