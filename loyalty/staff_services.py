"""Writes behind the staff portal's points pages: the catalog, program settings, tiers, campaigns, actions
and awarding an action to many patients. Ledger changes still go through loyalty.services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts.models import User
from patients.models import Patient
from practices import audit
from practices.selectors import current_practice

from .errors import ActionLimitReached, ActionNotAvailable, LoyaltyError
from .models import Campaign, CatalogItem, EarningAction, ProgramSettings, Purchase, PurchaseLine, Refund, Tier
from .services import award_action, evaluate_tier, program_settings, refund_purchase


class DuplicateValue(LoyaltyError):
    """A value that must be unique is already used (the form checks first; the database has the last word)."""

    code = "duplicate_value"
    status = 409


# Constraint names (or the column a unique=True key is named after) → the field and the message to show.
UNIQUE_MESSAGES = {
    "external_id": ("external_id", "Another catalog item already has this POS id."),
    "loyalty_tier_threshold_unique": ("threshold_points", "Another tier already starts at this number of points."),
    "loyalty_action_auto_unique": ("kind", "There is already an action of this kind; edit that one instead."),
}


@transaction.atomic
def _save(instance: models.Model, values: dict, *, actor: User, kind: str, note: str = "") -> models.Model:
    """Create or update the instance with `values`, recorded in the audit trail as "<kind>.created" or
    "<kind>.updated" with the values before and after (an update that changes nothing records nothing)."""
    audit.require_actor(actor)
    creating = instance.pk is None
    # The stored row, not the instance: a form bound to the instance has already changed it.
    was = audit.stored(instance, values)
    for name, value in values.items():
        setattr(instance, name, value)
    try:
        # A savepoint, so a lost race on a unique value leaves the caller's transaction usable.
        with transaction.atomic():
            instance.save()
    except IntegrityError as error:
        for key, (field_name, message) in UNIQUE_MESSAGES.items():
            if key in str(error):
                raise DuplicateValue(message, field=field_name) from None
        raise
    if creating:
        audit.record(
            actor=actor, action=f"{kind}.created", target=instance, after=audit.snapshot(instance, values), note=note
        )
    elif (diff := audit.changes(was, instance, values))["after"]:
        audit.record(actor=actor, action=f"{kind}.updated", target=instance, note=note, **diff)
    return instance


# ---------------------------------------------------------------- catalog


def save_catalog_item(
    *,
    item: CatalogItem | None,
    name: str,
    category: str,
    kind: str,
    price_cents: int,
    earning: str,
    points_per_dollar: int | None,
    fixed_points: int,
    external_id: str | None,
    is_active: bool,
    actor: User,
    note: str = "",
) -> CatalogItem:
    """Create or update a catalog item, recorded in the audit trail; a POS id already in use raises
    DuplicateValue."""
    if earning != CatalogItem.Earning.FIXED:
        fixed_points = 0
    if earning != CatalogItem.Earning.PER_DOLLAR:
        points_per_dollar = None
    values = {
        "name": name.strip(),
        "category": category.strip(),
        "kind": kind,
        "price_cents": price_cents,
        "earning": earning,
        "points_per_dollar": points_per_dollar,
        "fixed_points": fixed_points,
        # NULL, not "", when there is none: many items have no POS id and the column is unique.
        "external_id": (external_id or "").strip() or None,
        "is_active": is_active,
    }
    return _save(item or CatalogItem(), values, actor=actor, kind="catalog_item", note=note)


CATALOG_FIELDS = ("name", "category", "kind", "price_cents", "earning", "points_per_dollar", "fixed_points")


def remove_catalog_item(*, item: CatalogItem, actor: User) -> bool:
    """Delete an item never purchased (True); an item on past purchases is only deactivated (False),
    so receipts and refunds keep pointing at it. Recorded in the audit trail."""
    audit.require_actor(actor)
    with transaction.atomic():
        if PurchaseLine.objects.filter(item=item).exists():
            was = audit.stored(item, ["is_active"])
            item.is_active = False
            item.save(update_fields=["is_active"])
            audit.record(
                actor=actor, action="catalog_item.deactivated", target=item, **audit.changes(was, item, ["is_active"])
            )
            return False
        audit.record(actor=actor, action="catalog_item.deleted", target=item, before=audit.stored(item, CATALOG_FIELDS))
        item.delete()
        return True


# ---------------------------------------------------------------- program settings

PROGRAM_FIELDS = (
    "points_per_dollar",
    "point_value_cents",
    "expiry_days",
    "reminder_days",
    "invite_unknown_pos_patients",
)


def update_program(
    *,
    points_per_dollar: int,
    point_value_cents: int,
    expiry_days: int,
    reminder_days: list[int],
    invite_unknown_pos_patients: bool,
    time_zone: str,
    actor: User,
) -> ProgramSettings:
    """Save the program's settings and the practice's time zone (kept on the public Practice row), with what
    changed in the audit trail."""
    audit.require_actor(actor)
    with transaction.atomic():
        ProgramSettings.objects.get_or_create(pk=1)  # saved with the defaults first, so the audit shows the change
        settings_row = program_settings()
        was = audit.stored(settings_row, PROGRAM_FIELDS)
        settings_row.points_per_dollar = points_per_dollar
        settings_row.point_value_cents = point_value_cents
        settings_row.expiry_days = expiry_days
        settings_row.reminder_days = sorted(set(reminder_days), reverse=True)
        settings_row.invite_unknown_pos_patients = invite_unknown_pos_patients
        settings_row.save()
        diff = audit.changes(was, settings_row, PROGRAM_FIELDS)
        practice = current_practice()
        if practice.time_zone != time_zone:
            diff["before"]["time_zone"], diff["after"]["time_zone"] = practice.time_zone, time_zone
            practice.time_zone = time_zone
            practice.save(update_fields=["time_zone"])
        if diff["after"]:
            audit.record(actor=actor, action="program_settings.updated", target=settings_row, **diff)
    return settings_row


# ---------------------------------------------------------------- tiers


def save_tier(
    *,
    tier: Tier | None,
    name: str,
    threshold_points: int,
    multiplier_percent: int,
    perks: str,
    sort_order: int,
    actor: User,
) -> Tier:
    """Create or update a tier; a threshold already used by another tier raises DuplicateValue.

    Accounts move to a changed tier's new threshold on their next earning or the daily evaluation.
    """
    values = {
        "name": name.strip(),
        "threshold_points": threshold_points,
        "multiplier_percent": multiplier_percent,
        "perks": perks.strip(),
        "sort_order": sort_order,
    }
    return _save(tier or Tier(), values, actor=actor, kind="tier")


def delete_tier(*, tier: Tier, actor: User) -> int:
    """Delete a tier and move each of its accounts to the tier their points reach now; returns how many moved.
    Recorded in the audit trail."""
    audit.require_actor(actor)
    with transaction.atomic():
        account_ids = list(tier.accounts.order_by("pk").values_list("pk", flat=True))
        fields = ("name", "threshold_points", "multiplier_percent", "perks")
        audit.record(
            actor=actor,
            action="tier.deleted",
            target=tier,
            before=audit.stored(tier, fields),
            note=f"{len(account_ids):,} accounts moved to the tier their points reach" if account_ids else "",
        )
        tier.delete()  # the accounts' tier becomes NULL (SET_NULL) until re-evaluated just below
        for account_id in account_ids:
            evaluate_tier(account_id=account_id)
    return len(account_ids)


# ---------------------------------------------------------------- campaigns


def save_campaign(
    *,
    campaign: Campaign | None,
    name: str,
    multiplier_percent: int,
    starts_at: datetime,
    ends_at: datetime,
    category: str,
    is_active: bool,
    actor: User,
) -> Campaign:
    """Create or update a campaign (the form has checked that it ends after it starts)."""
    values = {
        "name": name.strip(),
        "multiplier_percent": multiplier_percent,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "category": category,
        "is_active": is_active,
    }
    return _save(campaign or Campaign(), values, actor=actor, kind="campaign")


@transaction.atomic
def end_campaign(*, campaign: Campaign, actor: User, now: datetime | None = None) -> Campaign:
    """Stop a campaign now: a running one ends now, one not started yet is switched off. Recorded in the
    audit trail."""
    audit.require_actor(actor)
    fields = ["ends_at", "is_active"]
    was = audit.stored(campaign, fields)
    now = now or timezone.now()
    if campaign.starts_at < now < campaign.ends_at:
        campaign.ends_at = now
    else:
        # It has not started (an end before its start breaks the window constraint) or is already over.
        campaign.is_active = False
    campaign.save(update_fields=fields)
    audit.record(actor=actor, action="campaign.ended", target=campaign, **audit.changes(was, campaign, fields))
    return campaign


# ---------------------------------------------------------------- actions


def save_action(
    *, action: EarningAction | None, kind: str, name: str, points: int, limit: str, is_active: bool, actor: User
) -> EarningAction:
    """Create or update an earning action, recorded in the audit trail; a second birthday or cross-booking
    action raises DuplicateValue."""
    values = {"kind": kind, "name": name.strip(), "points": points, "limit": limit, "is_active": is_active}
    return _save(action or EarningAction(), values, actor=actor, kind="earning_action")


@transaction.atomic
def award_action_by_staff(*, patient: Patient, action: EarningAction, actor: User, note: str = "") -> None:
    """A staff member awards an action to one patient: the points (loyalty.services.award_action, which
    raises ActionLimitReached or ActionNotAvailable) and the audit entry, together."""
    audit.require_actor(actor)
    award_action(patient=patient, action=action, actor=actor, note=note)
    audit.record(
        actor=actor,
        action="earning_action.awarded",
        target=patient,
        after={"action": action.name, "points": action.points},
        note=note,
    )


@transaction.atomic
def refund_by_staff(
    *, purchase: Purchase, lines: list[tuple[int, int]] | None, token: str, actor: User, reason: str = ""
) -> tuple[Refund, bool]:
    """A manager refunds a purchase from its receipt (loyalty.services.refund_purchase, once per refund form:
    `token` is its external id), with the refund in the audit trail once. Returns (refund, created)."""
    audit.require_actor(actor)
    refund, created = refund_purchase(purchase=purchase, lines=lines, external_id=token, actor=actor, reason=reason)
    if created:
        audit.record(
            actor=actor,
            action="purchase.refunded",
            target=purchase,
            after={"refund": refund.pk, "amount_cents": refund.amount_cents, "points_taken": refund.points_taken},
            note=reason,
        )
    return refund, created


@dataclass
class BulkAwardResult:
    awarded: list[Patient] = field(default_factory=list)
    skipped: list[tuple[Patient, str]] = field(default_factory=list)


def award_action_to_many(
    *, action: EarningAction, patients: list[Patient], actor: User, note: str = ""
) -> BulkAwardResult:
    """Award an action to each patient in its own transaction (each with its audit entry): one patient over the
    limit skips only them."""
    audit.require_actor(actor)
    result = BulkAwardResult()
    for patient in sorted(patients, key=lambda p: p.pk):
        try:
            award_action_by_staff(patient=patient, action=action, actor=actor, note=note)
        except ActionLimitReached:
            result.skipped.append((patient, "limit reached"))
        except ActionNotAvailable as error:
            result.skipped.append((patient, error.message))
        else:
            result.awarded.append(patient)
    return result
