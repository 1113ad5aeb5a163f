"""Reading the audit trail: the owner's page and its CSV export, and each entry in words."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import AuditEvent, User

from .audit import action_label
from .formatting import NOTHING, format_money, format_number, format_phone


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


def _url(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # that page is not part of this deployment (or not yet)
        return ""


# Where the page links an entry's object, by target_type: a function of the object (still there) to its page.
# An app that records a new kind of object adds a line here; objects of other kinds are shown unlinked.
LINKS: dict[str, Callable[[Any], str]] = {
    "patients.patient": lambda patient: _url("patients:staff_patient_detail", patient.pk),
    "patients.patientimport": lambda job: _url("patients:staff_import_status", job.pk),
    "loyalty.programsettings": lambda _: _url("loyalty:program_settings"),
    "loyalty.catalogitem": lambda item: _url("loyalty:catalog_edit", item.pk),
    "loyalty.tier": lambda tier: _url("loyalty:tier_edit", tier.pk),
    "loyalty.campaign": lambda campaign: _url("loyalty:campaign_edit", campaign.pk),
    "loyalty.earningaction": lambda action: _url("loyalty:action_edit", action.pk),
    "rewards.reward": lambda reward: _url("rewards:reward_edit", reward.pk),
    "rewards.rewardsettings": lambda _: _url("rewards:reward_settings"),
    "rewards.redemption": lambda voucher: _url("patients:staff_patient_detail", voucher.patient_id),
    "referrals.referralsettings": lambda _: _url("referrals:settings"),
    "referrals.milestone": lambda milestone: _url("referrals:milestone_edit", milestone.pk),
    "referrals.partner": lambda partner: _url("referrals:partner_edit", partner.pk),
    "practices.supportescalation": lambda escalation: _url("patients:staff_patient_detail", escalation.patient_id),
    "practices.apikey": lambda _: _url("practices:api_keys"),
    "practices.staffmember": lambda member: _url("practices:team_member", member.pk),
    "practices.staffinvite": lambda _: _url("practices:team"),
    "accounts.user": lambda _: _url("practices:security_settings"),  # whose two-factor changed
}


# ---------------------------------------------------------------- the trail


def trail(
    *,
    actor: str = "",
    target_type: str = "",
    action: str = "",
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> QuerySet[AuditEvent]:
    """The audit trail, newest first. `actor` is a user's id, or SYSTEM for commands and jobs; `since` and
    `until` are whole days in the practice's time zone."""
    events = AuditEvent.objects.select_related("actor")
    if actor == SYSTEM:
        events = events.filter(actor__isnull=True)
    elif actor:
        events = events.filter(actor_id=actor)
    if target_type:
        events = events.filter(target_type=target_type)
    if action:
        events = events.filter(action=action)
    zone = timezone.get_current_timezone()
    if since:
        events = events.filter(created_at__gte=datetime.datetime.combine(since, datetime.time.min, tzinfo=zone))
    if until and until < datetime.date.max:  # the calendar's last day bounds nothing (and has no next day)
        next_day = until + datetime.timedelta(days=1)
        events = events.filter(created_at__lt=datetime.datetime.combine(next_day, datetime.time.min, tzinfo=zone))
    return events.order_by("-created_at", "-id")


SYSTEM = "system"


def actor_choices() -> list[tuple[str, str]]:
    """Everyone who appears in the trail (by their name now), then commands and jobs if any did something."""
    users = User.objects.filter(pk__in=AuditEvent.objects.filter(actor__isnull=False).values("actor_id"))
    choices = sorted(
        ((str(user.pk), user.get_full_name() or user.email or f"User {user.pk}") for user in users),
        key=lambda choice: choice[1].lower(),
    )
    if AuditEvent.objects.filter(actor__isnull=True).exists():
        choices.append((SYSTEM, "Commands and automatic jobs"))
    return choices


def kind_choices() -> list[tuple[str, str]]:
    kinds = AuditEvent.objects.exclude(target_type="").values_list("target_type", flat=True).distinct()
    return sorted(((kind, kind_label(kind)) for kind in kinds), key=lambda choice: choice[1])


def action_choices() -> list[tuple[str, str]]:
    actions = AuditEvent.objects.values_list("action", flat=True).distinct()
    return sorted(((action, action_label(action)) for action in actions), key=lambda choice: choice[1])


def describe_page(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """The entries with what the page shows (see `describe`) and `url`, the page of their object when it still
    exists: one query per kind of object on the page."""
    events = [describe(event) for event in events]
    wanted: dict[str, set] = defaultdict(set)
    for event in events:
        if event.target_type in LINKS and event.target_id:
            wanted[event.target_type].add(event.target_id)
    found: dict[str, dict] = {}
    for target_type, ids in wanted.items():
        model = target_model(target_type)
        if model is None:
            continue
        keys = []
        for raw in ids:
            try:
                keys.append(model._meta.pk.to_python(raw))
            except ValidationError:
                continue
        found[target_type] = {str(pk): row for pk, row in model._default_manager.in_bulk(keys).items()}
    for event in events:
        row = found.get(event.target_type, {}).get(event.target_id)
        event.url = LINKS[event.target_type](row) if row is not None else ""
    return events


# ---------------------------------------------------------------- one entry in words


def target_model(target_type: str) -> type[models.Model] | None:
    """The model class named by an entry's target_type ("rewards.reward"), or None if there is none now."""
    if "." not in target_type:
        return None
    try:
        return apps.get_model(target_type)
    except (LookupError, ValueError):
        return None


def kind_label(target_type: str) -> str:
    """ "rewards.reward" → "Reward" (the model's verbose name), for the filter and the page."""
    model = target_model(target_type)
    if model is None:
        return target_type.rsplit(".", 1)[-1].replace("_", " ").capitalize() if target_type else NOTHING
    name = str(model._meta.verbose_name)
    return name[:1].upper() + name[1:]


def _field(model: type[models.Model] | None, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def field_label(model: type[models.Model] | None, name: str) -> str:
    field = _field(model, name)
    label = str(getattr(field, "verbose_name", "") or name.replace("_", " "))
    if label.endswith(" cents"):  # the value is shown as money
        label = label[: -len(" cents")]
    if name.startswith("is_") and label.lower() == name.replace("_", " "):  # "is active" → "Active"
        label = label[3:]
    return label[:1].upper() + label[1:]


def value_text(model: type[models.Model] | None, name: str, value: Any) -> str:
    """A value kept in the trail, as a person reads it: "Yes", "$12.00", "1,250", the choice's label."""
    if value is None or value == "" or value == [] or value == {}:
        return NOTHING
    if isinstance(value, bool):
        return "Yes" if value else "No"
    field = _field(model, name)
    if field is not None and getattr(field, "choices", None):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, int):
        return format_money(value) if name.endswith("_cents") else format_number(value)
    if isinstance(value, list):
        return ", ".join(value_text(None, "", item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {value_text(None, '', item)}" for key, item in value.items())
    if name == "phone" or name.endswith("_phone"):
        return format_phone(value)
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
        if timezone.is_aware(moment):
            return timezone.localtime(moment).strftime("%b %-d, %Y, %-I:%M %p").replace("AM", "am").replace("PM", "pm")
    return str(value)


def changes_of(event: AuditEvent) -> list[Change]:
    """Each field of the entry with its value before and after, in words, in the order they were kept."""
    model = target_model(event.target_type)
    before, after = event.before or {}, event.after or {}
    names = list(before) + [name for name in after if name not in before]
    return [
        Change(
            field=field_label(model, name),
            before=value_text(model, name, before.get(name)),
            after=value_text(model, name, after.get(name)),
        )
        for name in names
    ]


def describe(event: AuditEvent) -> AuditEvent:
    """The entry with what the page shows: `what` (the action in words), `kind` and `changes`."""
    event.what = action_label(event.action)
    event.kind = kind_label(event.target_type) if event.target_type else ""
    event.changes = changes_of(event)
    return event


def who(event: AuditEvent) -> str:
    """The actor as the trail names them: their name now if the account is still there, else as recorded."""
    if event.actor is not None:
        return event.actor.get_full_name() or event.actor.email or event.actor_label
    return event.actor_label or NOTHING


# ---------------------------------------------------------------- CSV

CSV_COLUMNS = ["When", "Who", "What", "Kind of object", "Object", "Object id", "Changes", "Note"]


def csv_rows(events: QuerySet[AuditEvent]) -> Iterable[list[str]]:
    """The export's rows (the header first), each entry in words, its time in the current (practice's) time zone."""
    yield CSV_COLUMNS
    for event in events.iterator(chunk_size=500):
        describe(event)
        yield [
            f"{timezone.localtime(event.created_at):%Y-%m-%d %H:%M:%S}",
            who(event),
            event.what,
            event.kind,
            event.target_label,
            event.target_id,
            "; ".join(f"{change.field}: {change.before} → {change.after}" for change in event.changes),
            event.note,
        ]
