"""Writes behind the rewards staff pages: saving, ordering, switching on/off and removing rewards.
Redeeming, using and cancelling vouchers stay in rewards.services."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max

from loyalty.models import CatalogItem, Tier

from .models import Redemption, Reward, RewardSettings
from .services import reward_settings


def _delete_file_on_commit(name: str) -> None:
    if name:
        storage = Reward._meta.get_field("image").storage
        transaction.on_commit(lambda: storage.delete(name))


@transaction.atomic
def save_reward(
    *,
    reward: Reward | None,
    name: str,
    description: str,
    kind: str,
    credit_cents: int | None,
    percent_off: int | None,
    item: CatalogItem | None,
    points_cost: int,
    min_tier: Tier | None,
    starts_at: datetime | None,
    ends_at: datetime | None,
    stock: int | None,
    per_patient_limit: int | None,
    limit_period: str,
    is_active: bool,
    image: ContentFile | None = None,
) -> Reward:
    """Create or update a reward. Only the value of its kind is kept; a new one goes to the end of the list,
    and a replaced picture's file is removed once the change is committed."""
    if reward is None:
        last = Reward.objects.aggregate(last=Max("display_order"))["last"]
        reward = Reward(display_order=0 if last is None else last + 1)
    reward.name = name.strip()
    reward.description = description.strip()
    reward.kind = kind
    reward.credit_cents = credit_cents if kind == Reward.Kind.CREDIT else None
    reward.percent_off = percent_off if kind == Reward.Kind.PERCENT else None
    reward.item = item if kind == Reward.Kind.FREE_ITEM else None
    reward.points_cost = points_cost
    reward.min_tier = min_tier
    reward.starts_at = starts_at
    reward.ends_at = ends_at
    reward.stock = stock
    reward.per_patient_limit = per_patient_limit
    reward.limit_period = limit_period
    reward.is_active = is_active
    if image is not None:
        old_name = reward.image.name
        reward.image.save(image.name, image, save=False)
        _delete_file_on_commit(old_name)
    reward.save()
    return reward


@transaction.atomic
def move_reward(*, reward: Reward, direction: Literal["up", "down"]) -> bool:
    """Swap a reward with its neighbour in the list; False when it is already first (or last).

    The whole list is renumbered, so rewards that shared a display order get distinct ones.
    """
    locked = list(Reward.objects.select_for_update().order_by("pk"))
    ordered = sorted(locked, key=lambda r: (r.display_order, r.points_cost, r.pk))
    index = next(i for i, r in enumerate(ordered) if r.pk == reward.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return False
    ordered[index], ordered[other] = ordered[other], ordered[index]
    changed = []
    for position, row in enumerate(ordered):
        if row.display_order != position:
            row.display_order = position
            changed.append(row)
    Reward.objects.bulk_update(changed, ["display_order"])
    return True


@transaction.atomic
def set_reward_active(*, reward: Reward, is_active: bool) -> Reward:
    """Switch a reward on or off; vouchers already issued stay usable either way."""
    reward = Reward.objects.select_for_update().get(pk=reward.pk)
    reward.is_active = is_active
    reward.save(update_fields=["is_active"])
    return reward


@transaction.atomic
def remove_reward(*, reward: Reward) -> bool:
    """Delete a reward never redeemed (True); one with vouchers is only deactivated (False), so they keep it.

    The row lock is the one redeem_reward takes, so no voucher can be issued between the check and the delete.
    """
    reward = Reward.objects.select_for_update().get(pk=reward.pk)
    if Redemption.objects.filter(reward=reward).exists():
        reward.is_active = False
        reward.save(update_fields=["is_active"])
        return False
    _delete_file_on_commit(reward.image.name)
    reward.delete()
    return True


def update_reward_settings(*, voucher_valid_days: int, refund_expired_vouchers: bool) -> RewardSettings:
    """Save how long new vouchers stay valid and whether an expired voucher's points come back."""
    row = reward_settings()
    row.voucher_valid_days = voucher_valid_days
    row.refund_expired_vouchers = refund_expired_vouchers
    row.save(update_fields=["voucher_valid_days", "refund_expired_vouchers"])
    return row
