"""Redeeming rewards for points, and the life of a voucher: used once, cancelled or expired."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from loyalty.errors import InsufficientPoints
from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import ensure_account, lock_accounts, post_points
from patients.models import Activity, Patient
from patients.services import record_activity
from practices.formatting import format_money, format_number
from practices.locking import lock_get

from .errors import (
    IdempotencyConflict,
    OutOfStock,
    RedemptionLimitReached,
    RewardUnavailable,
    TierRequired,
    VoucherNotCancellable,
    VoucherNotFound,
    VoucherNotUsable,
)
from .models import Redemption, Reward, RewardSettings, new_voucher_code

SOURCE_TYPE = "rewards.redemption"


def reward_settings() -> RewardSettings:
    """The practice's voucher settings: the row as saved, or its defaults (not saved: a read writes nothing)."""
    return RewardSettings.objects.filter(pk=1).first() or RewardSettings(pk=1)


def normalize_voucher_code(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").upper()


def year_start(now: datetime) -> datetime:
    """1 January, 00:00 in the practice's time zone, of the year `now` is in there."""
    local = timezone.localtime(now)
    return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


def counts_toward_limit(*, reward: Reward, created_at: datetime, now: datetime) -> bool:
    """Whether a (not cancelled) redemption made at `created_at` counts toward the reward's limit now."""
    return reward.limit_period == Reward.LimitPeriod.EVER or created_at >= year_start(now)


def redemptions_counting_toward_limit(*, reward: Reward, patient: Patient, now: datetime):
    """A patient's redemptions of a reward that count toward its per-patient limit (cancelled ones don't)."""
    counted = Redemption.objects.filter(reward=reward, patient=patient).exclude(status=Redemption.Status.CANCELLED)
    if reward.limit_period == Reward.LimitPeriod.EVER:
        return counted
    return counted.filter(created_at__gte=year_start(now))


def refusal(*, reward: Reward, account: PointsAccount, used: int, now: datetime) -> Exception | None:
    """Why this account can't redeem this reward now, as the error redeeming would raise (None if it can).

    `used` is how many redemptions count toward the reward's limit. The one place these rules live: the
    redemption raises it, the rewards pages show it.
    """
    if (
        not reward.is_active
        or (reward.starts_at and now < reward.starts_at)
        or (reward.ends_at and now >= reward.ends_at)
    ):
        return RewardUnavailable(f"“{reward.name}” is not available right now.")
    if reward.min_tier_id and (
        account.tier is None or account.tier.threshold_points < reward.min_tier.threshold_points
    ):
        return TierRequired(f"“{reward.name}” is for {reward.min_tier.name} members and above.")
    if reward.stock is not None and reward.stock <= 0:
        return OutOfStock(f"“{reward.name}” is out of stock.")
    if reward.per_patient_limit is not None and used >= reward.per_patient_limit:
        period = "this year" if reward.limit_period == Reward.LimitPeriod.YEAR else "already"
        return RedemptionLimitReached(
            f"You have {period} redeemed “{reward.name}” {used} time{'s' if used != 1 else ''}, the most allowed."
        )
    if account.balance < reward.points_cost:
        return InsufficientPoints(needed=reward.points_cost, available=account.balance)
    return None


def check_redeemable(*, reward: Reward, patient: Patient, account: PointsAccount, now: datetime) -> None:
    """Raise the reason this patient can't redeem this reward now (nothing if they can)."""
    used = 0
    if reward.per_patient_limit is not None:
        used = redemptions_counting_toward_limit(reward=reward, patient=patient, now=now).count()
    if error := refusal(reward=reward, account=account, used=used, now=now):
        raise error


def redeem_reward(*, patient: Patient, reward: Reward, actor: User | None = None, form_token: str = "") -> Redemption:
    """Turn points into a voucher, all checks made under the account's and the reward's row locks.

    Locks are taken account first, then reward, everywhere, so two redemptions never deadlock. With a
    `form_token` (a redeem form's one-time token), a second call with the same token returns the voucher the
    first issued: it waits for the account's lock, so it sees the first one once committed.
    """
    return _redeem(patient=patient, reward=reward, actor=actor, form_token=form_token)[0]


def redeem_reward_once(
    *, patient: Patient, reward: Reward, idempotency_key: str, actor: User | None = None
) -> tuple[Redemption, bool]:
    """Redeem for a client's Idempotency-Key; returns (voucher, issued_now). The same key again (by this patient)
    returns the voucher the first call issued, spending nothing; the same key for another reward is refused.

    As with a form's token, a repeat waits for the account's lock and then finds the first voucher; the unique
    key per patient (Redemption.idempotency_key) guarantees it: an insert that loses to another is rolled back
    whole (no points, no stock) and the winner's voucher answered instead.
    """
    try:
        return _redeem(patient=patient, reward=reward, actor=actor, idempotency_key=idempotency_key)
    except IdempotencyKeyTaken:
        done = Redemption.objects.select_related("reward").get(patient=patient, idempotency_key=idempotency_key)
        return _same_reward(done, reward=reward), False


def _same_reward(done: Redemption, *, reward: Reward) -> Redemption:
    if done.reward_id != reward.pk:
        raise IdempotencyConflict(
            f"This Idempotency-Key was used for “{done.reward.name}” (voucher {done.voucher_code}): "
            "send a new key for a new redemption."
        )
    return done


def _redeem(
    *, patient: Patient, reward: Reward, actor: User | None, form_token: str = "", idempotency_key: str | None = None
) -> tuple[Redemption, bool]:
    ensure_account(patient=patient)
    with transaction.atomic():
        account = lock_get(PointsAccount.objects.select_related("tier"), patient=patient)
        if form_token and (done := Redemption.objects.filter(patient=patient, form_token=form_token).first()):
            return done, False
        if idempotency_key and (
            done := Redemption.objects.select_related("reward")
            .filter(patient=patient, idempotency_key=idempotency_key)
            .first()
        ):
            return _same_reward(done, reward=reward), False
        reward = lock_get(Reward.objects.select_related("min_tier"), pk=reward.pk)
        now = timezone.now()
        check_redeemable(reward=reward, patient=patient, account=account, now=now)
        if reward.stock is not None:
            reward.stock -= 1
            reward.save(update_fields=["stock"])
        redemption = _create_redemption(
            reward=reward,
            patient=patient,
            actor=actor,
            now=now,
            form_token=form_token,
            idempotency_key=idempotency_key,
        )
        post_points(
            account_id=account.pk,
            delta=-reward.points_cost,
            kind=LedgerEntry.Kind.REDEMPTION,
            idempotency_key=f"redemption:{redemption.pk}",
            actor=actor,
            note=reward.name,
            source_type=SOURCE_TYPE,
            source_id=redemption.pk,
        )
        record_activity(
            patient=patient,
            kind=Activity.Kind.REWARD_REDEEMED,
            summary=(
                f"Redeemed {reward.name} for {format_number(reward.points_cost)} points "
                f"(voucher {redemption.voucher_code})"
            ),
            actor=actor,
            data={"redemption_id": redemption.pk, "reward_id": reward.pk},
        )
    return redemption, True


class IdempotencyKeyTaken(Exception):
    """Another redemption holds this patient's Idempotency-Key (its insert was refused by the unique key)."""


def _create_redemption(
    *,
    reward: Reward,
    patient: Patient,
    actor: User | None,
    now: datetime,
    points_cost: int | None = None,
    form_token: str = "",
    idempotency_key: str | None = None,
) -> Redemption:
    expires_at = now + timedelta(days=reward_settings().voucher_valid_days)
    for _ in range(5):
        try:
            with transaction.atomic():
                return Redemption.objects.create(
                    reward=reward,
                    patient=patient,
                    points_cost=reward.points_cost if points_cost is None else points_cost,
                    voucher_code=new_voucher_code(),
                    expires_at=expires_at,
                    redeemed_by=actor,
                    form_token=form_token,
                    idempotency_key=idempotency_key,
                )
        except IntegrityError as error:
            # Which unique key refused it is read from the table, not the constraint's name: practices cloned
            # from the template schema name their constraints differently.
            if idempotency_key and Redemption.objects.filter(patient=patient, idempotency_key=idempotency_key).exists():
                raise IdempotencyKeyTaken from error
            continue  # a code already in use (about one chance in 10^11): draw another
    raise RuntimeError("Could not find a free voucher code.")


def _lock_redemption(*, redemption_id: int) -> Redemption:
    return lock_get(Redemption.objects.select_related("reward", "patient__user"), pk=redemption_id)


def _give_points_back(*, redemption: Redemption, actor: User | None, why: str) -> int:
    if redemption.points_cost == 0:
        return 0  # a gift voucher (e.g. a referral credit) cost no points
    entry = post_points(
        account_id=ensure_account(patient=redemption.patient).pk,
        delta=redemption.points_cost,
        kind=LedgerEntry.Kind.REDEMPTION_CANCEL,
        idempotency_key=f"redemption-return:{redemption.pk}",
        actor=actor,
        note=f"{why}: {redemption.reward.name}",
        source_type=SOURCE_TYPE,
        source_id=redemption.pk,
    )
    return entry.delta


def cancel_redemption(*, redemption: Redemption, actor: User | None = None) -> Redemption:
    """Cancel an unused voucher: its points come back (once) and its stock is returned."""
    with transaction.atomic():
        ensure_account(patient=redemption.patient)
        lock_accounts(redemption.patient.points_account.pk)
        redemption = _lock_redemption(redemption_id=redemption.pk)
        if redemption.reward.is_gift:
            raise VoucherNotCancellable(f"Voucher {redemption.voucher_code} is a gift: there are no points to return.")
        if redemption.status != Redemption.Status.ISSUED:
            raise VoucherNotCancellable(
                f"Voucher {redemption.voucher_code} is {redemption.get_status_display().lower()}: "
                "it can't be cancelled."
            )
        reward = lock_get(Reward.objects, pk=redemption.reward_id)
        if reward.stock is not None:
            reward.stock += 1
            reward.save(update_fields=["stock"])
        redemption.status = Redemption.Status.CANCELLED
        redemption.cancelled_at = timezone.now()
        redemption.points_returned = _give_points_back(redemption=redemption, actor=actor, why="Voucher cancelled")
        redemption.save(update_fields=["status", "cancelled_at", "points_returned"])
        record_activity(
            patient=redemption.patient,
            kind=Activity.Kind.VOUCHER_CANCELLED,
            summary=f"Cancelled voucher {redemption.voucher_code} ({redemption.reward.name}): "
            f"{format_number(redemption.points_returned)} points returned",
            actor=actor,
            data={"redemption_id": redemption.pk},
        )
    return redemption


def gift_label(*, kind: str, credit_cents: int = 0, percent_off: int = 0) -> str:
    if kind == Reward.Kind.CREDIT:
        return f"{format_money(credit_cents)} credit"
    return f"{percent_off}% off"


def _gift_reward(*, kind: str, credit_cents: int, percent_off: int, name: str) -> Reward:
    """The (hidden) reward a gift voucher points to: one per kind and value, made on first use."""
    if kind == Reward.Kind.CREDIT and credit_cents > 0:
        values = {"credit_cents": credit_cents, "percent_off": None}
    elif kind == Reward.Kind.PERCENT and 1 <= percent_off <= 100:
        values = {"percent_off": percent_off, "credit_cents": None}
    else:
        raise ValueError(f"A gift voucher needs a credit or a percent off, not {kind} {credit_cents} {percent_off}.")
    reward = Reward.objects.filter(is_gift=True, kind=kind, **values).first()
    if reward is None:
        reward = Reward.objects.create(
            is_gift=True, is_active=False, kind=kind, name=name, points_cost=1, description="Gift voucher", **values
        )
    return reward


def grant_voucher(
    *,
    patient: Patient,
    kind: str,
    credit_cents: int = 0,
    percent_off: int = 0,
    name: str,
    actor: User | None = None,
) -> Redemption:
    """Give a patient a voucher that costs no points (a referral credit or discount). The caller makes it
    happen once (e.g. under a unique row of its own, in the same transaction)."""
    with transaction.atomic():
        reward = _gift_reward(kind=kind, credit_cents=credit_cents, percent_off=percent_off, name=name)
        redemption = _create_redemption(reward=reward, patient=patient, actor=actor, now=timezone.now(), points_cost=0)
        record_activity(
            patient=patient,
            kind=Activity.Kind.REWARD_REDEEMED,
            summary=f"Received voucher {redemption.voucher_code}: {name}",
            actor=actor,
            data={"redemption_id": redemption.pk, "gift": True},
        )
    return redemption


def withdraw_gift_voucher(*, redemption_id: int, why: str) -> bool:
    """Cancel an unused gift voucher (e.g. its referral was refunded); False when it was already used."""
    with transaction.atomic():
        redemption = _lock_redemption(redemption_id=redemption_id)
        if redemption.status != Redemption.Status.ISSUED:
            return False
        redemption.status = Redemption.Status.CANCELLED
        redemption.cancelled_at = timezone.now()
        redemption.save(update_fields=["status", "cancelled_at"])
        record_activity(
            patient=redemption.patient,
            kind=Activity.Kind.VOUCHER_CANCELLED,
            summary=f"Voucher {redemption.voucher_code} ({redemption.reward.name}) withdrawn: {why}",
            data={"redemption_id": redemption.pk},
        )
    return True


def find_voucher(*, code: str) -> Redemption:
    code = normalize_voucher_code(code)
    # Only what could be a code is looked up: letters and digits, at most the column's length. Anything else
    # (a NUL byte, which PostgreSQL refuses in text, or a page of text in the URL) is simply no voucher.
    if not code.isascii() or not code.isalnum() or len(code) > Redemption._meta.get_field("voucher_code").max_length:
        raise VoucherNotFound("No voucher has this code. Check the letters and digits.")
    redemption = (
        Redemption.objects.select_related("reward", "patient__user", "used_by").filter(voucher_code=code).first()
    )
    if redemption is None:
        raise VoucherNotFound("No voucher has this code. Check the letters and digits.")
    return redemption


def use_voucher(*, code: str, actor: User | None = None, via: str = "desk") -> tuple[Redemption, bool]:
    """Mark a voucher used, at most once; returns (voucher, used_now). A second use returns used_now=False,
    with when and by whom it was used. Cancelled or expired vouchers raise VoucherNotUsable."""
    found = find_voucher(code=code)
    with transaction.atomic():
        redemption = _lock_redemption(redemption_id=found.pk)
        if redemption.status == Redemption.Status.USED:
            return redemption, False
        now = timezone.now()
        if redemption.status == Redemption.Status.ISSUED and redemption.expires_at <= now:
            raise VoucherNotUsable(f"Voucher {redemption.voucher_code} expired on {redemption.expires_at:%b %-d, %Y}.")
        if redemption.status != Redemption.Status.ISSUED:
            raise VoucherNotUsable(
                f"Voucher {redemption.voucher_code} is {redemption.get_status_display().lower()}: it can't be used."
            )
        redemption.status = Redemption.Status.USED
        redemption.used_at = now
        redemption.used_by = actor
        redemption.used_via = via
        redemption.save(update_fields=["status", "used_at", "used_by", "used_via"])
        record_activity(
            patient=redemption.patient,
            kind=Activity.Kind.VOUCHER_USED,
            summary=f"Used voucher {redemption.voucher_code}: {redemption.reward.name}"
            + (" (point of sale)" if via == "pos" else ""),
            actor=actor,
            data={"redemption_id": redemption.pk, "via": via},
        )
    return redemption, True


def expire_vouchers(*, now: datetime | None = None) -> int:
    """Expire unused vouchers past their date; their points come back if the practice says so. Safe to rerun."""
    now = now or timezone.now()
    refund = reward_settings().refund_expired_vouchers
    expired = 0
    due = Redemption.objects.filter(status=Redemption.Status.ISSUED, expires_at__lte=now)
    for redemption_id, account_id in due.values_list("pk", "patient__points_account"):
        with transaction.atomic():
            # Account first, then the voucher: the same order as cancelling, so the two never deadlock.
            lock_accounts(account_id)
            redemption = _lock_redemption(redemption_id=redemption_id)
            if redemption.status != Redemption.Status.ISSUED:
                continue  # used or cancelled meanwhile
            redemption.status = Redemption.Status.EXPIRED
            if refund:
                redemption.points_returned = _give_points_back(redemption=redemption, actor=None, why="Voucher expired")
            redemption.save(update_fields=["status", "points_returned"])
            record_activity(
                patient=redemption.patient,
                kind=Activity.Kind.VOUCHER_CANCELLED,
                summary=f"Voucher {redemption.voucher_code} ({redemption.reward.name}) expired"
                + (
                    f": {format_number(redemption.points_returned)} points returned"
                    if redemption.points_returned
                    else ""
                ),
                data={"redemption_id": redemption.pk, "expired": True},
            )
            expired += 1
    return expired
