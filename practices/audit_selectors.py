"""Reading the audit trail: the owner's page, its CSV export, and each entry in words."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone

from accounts.models import AuditEvent

from .audit import action_label

NOTHING = "—"


def _number(value: int) -> str:
    return f"{value:,}"


def _money(cents: int) -> str:
    sign = "\u2212" if cents < 0 else ""
    return f"{sign}{abs(cents) / 100:,.2f}"


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


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
    if name.endswith("_cents") and label.endswith(" cents"):
        label = label[: -len(" cents")]
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
        return _money(value) if name.endswith("_cents") else _number(value)
    if isinstance(value, list):
        return ", ".join(value_text(None, "", item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {value_text(None, '', item)}" for key, item in value.items())
    if isinstance(field, models.DateTimeField):
        try:
            moment = datetime.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return str(value)
        return timezone.localtime(moment).strftime("%b %-d, %Y %-I:%M %p") if timezone.is_aware(moment) else str(value)
    return str(value)


def changes_of(event: AuditEvent) -> list[Change]:
    """Each field of the entry with its value before and after, in words, in the order they were kept."""
    model = target_model(event.target_type)
    names = list(event.before or {}) + [name for name in event.after or {} if name not in (event.before or {})]
    return [
        Change(
            field=field_label(model, name),
            before=value_text(model, name, (event.before or {}).get(name)),
            after=value_text(model, name, (event.after or {}).get(name)),
        )
        for name in names
    ]


def describe(event: AuditEvent) -> AuditEvent:
    """The entry with what the page shows: `what` (the action in words), `kind` and `changes`."""
    event.what = action_label(event.action)
    event.kind = kind_label(event.target_type) if event.target_type else ""
    event.changes = changes_of(event)
    return event
