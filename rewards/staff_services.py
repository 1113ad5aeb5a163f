"""Writes behind the rewards staff pages: saving, ordering, switching on/off and removing rewards, the voucher
settings, and vouchers used or cancelled by staff. Each takes the acting staff member and writes its audit
entry in its transaction. The voucher rules themselves stay in rewards.services."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max

from accounts.models import User
from loyalty.models import CatalogItem, Tier
from practices import audit
from practices.locking import lock, lock_get

from .models import Redemption, Reward, RewardSettings
from .services import cancel_redemption, use_voucher

REWARD_FIELDS = (
    "name",
    "description",
    "kind",
    "credit_cents",
    "percent_off",
    "item",
    "points_cost",
    "min_tier",
    "starts_at",
    "ends_at",
    "stock",
    "per_patient_limit",
    "limit_period",
    "is_active",
    "image",
)


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
    actor: User,
    image: ContentFile | None = None,
) -> Reward:
    """Create or update a reward, recorded in the audit trail. Only the value of its kind is kept; a new one
    goes to the end of the list, and a replaced picture's file is removed once the change is committed."""
    audit.require_actor(actor)
    # The stored row, not the instance: the form bound to it has already changed it.
    was = audit.stored(reward, REWARD_FIELDS) if reward is not None else None
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
    if was is None:
        audit.record(actor=actor, action="reward.created", target=reward, after=audit.snapshot(reward, REWARD_FIELDS))
    elif (diff := audit.changes(was, reward, REWARD_FIELDS))["after"]:
        audit.record(actor=actor, action="reward.updated", target=reward, **diff)
    return reward


@transaction.atomic
def move_reward(*, reward: Reward, direction: Literal["up", "down"], actor: User) -> bool:
    """Swap a reward with its neighbour in the list; False when it is already first (or last). Recorded
    with its position before and after.

    The whole list is renumbered, so rewards that shared a display order get distinct ones.
    """
    audit.require_actor(actor)
    locked = lock(Reward.objects)
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
    audit.record(
        actor=actor,
        action="reward.moved",
        target=ordered[other],
        before={"position": index + 1},
        after={"position": other + 1},
    )
    return True


@transaction.atomic
def set_reward_active(*, reward: Reward, is_active: bool, actor: User) -> Reward:
    """Switch a reward on or off, recorded in the audit trail; vouchers already issued stay usable either way."""
    audit.require_actor(actor)
    reward = lock_get(Reward.objects, pk=reward.pk)
    was = audit.snapshot(reward, ["is_active"])
    reward.is_active = is_active
    reward.save(update_fields=["is_active"])
    if (diff := audit.changes(was, reward, ["is_active"]))["after"]:
        action = "reward.switched_on" if is_active else "reward.switched_off"
        audit.record(actor=actor, action=action, target=reward, **diff)
    return reward


@transaction.atomic
def remove_reward(*, reward: Reward, actor: User) -> bool:
    """Delete a reward never redeemed (True); one with vouchers is only deactivated (False), so they keep it.
    Recorded in the audit trail.

    The row lock is the one redeem_reward takes, so no voucher can be issued between the check and the delete.
    """
    audit.require_actor(actor)
    reward = lock_get(Reward.objects, pk=reward.pk)
    if Redemption.objects.filter(reward=reward).exists():
        was = audit.snapshot(reward, ["is_active"])
        reward.is_active = False
        reward.save(update_fields=["is_active"])
        audit.record(
            actor=actor, action="reward.switched_off", target=reward, **audit.changes(was, reward, ["is_active"])
        )
        return False
    audit.record(actor=actor, action="reward.deleted", target=reward, before=audit.snapshot(reward, REWARD_FIELDS))
    _delete_file_on_commit(reward.image.name)
    reward.delete()
    return True


SETTINGS_FIELDS = ("voucher_valid_days", "refund_expired_vouchers")


@transaction.atomic
def update_reward_settings(*, voucher_valid_days: int, refund_expired_vouchers: bool, actor: User) -> RewardSettings:
    """Save how long new vouchers stay valid and whether an expired voucher's points come back, with what
    changed in the audit trail."""
    audit.require_actor(actor)
    row, _ = RewardSettings.objects.get_or_create(pk=1)
    was = audit.stored(row, SETTINGS_FIELDS)
    row.voucher_valid_days = voucher_valid_days
    row.refund_expired_vouchers = refund_expired_vouchers
    row.save(update_fields=list(SETTINGS_FIELDS))
    if (diff := audit.changes(was, row, SETTINGS_FIELDS))["after"]:
        audit.record(actor=actor, action="reward_settings.updated", target=row, **diff)
    return row


# ---------------------------------------------------------------- vouchers at the desk


@transaction.atomic
def use_voucher_by_staff(*, code: str, actor: User, via: str = "desk") -> tuple[Redemption, bool]:
    """A staff member marks a voucher used (rewards.services.use_voucher: at most once); the use is recorded
    in the audit trail. Returns (voucher, used_now)."""
    audit.require_actor(actor)
    voucher, used_now = use_voucher(code=code, actor=actor, via=via)
    if used_now:
        audit.record(
            actor=actor, action="voucher.used", target=voucher, before={"status": "issued"}, after={"status": "used"}
        )
    return voucher, used_now


@transaction.atomic
def cancel_voucher_by_staff(*, voucher: Redemption, actor: User) -> Redemption:
    """A staff member cancels an unused voucher (rewards.services.cancel_redemption: its points come back),
    recorded in the audit trail."""
    audit.require_actor(actor)
    voucher = cancel_redemption(redemption=voucher, actor=actor)
    audit.record(
        actor=actor,
        action="voucher.cancelled",
        target=voucher,
        before={"status": "issued"},
        after={"status": "cancelled", "points_returned": voucher.points_returned},
    )
    return voucher
