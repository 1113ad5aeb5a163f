"""The audit trail: every staff write records who did it, to what, and the values before and after.

How a service uses it (inside its own transaction, after the change, before returning)::

    from practices import audit

    REWARD_FIELDS = ("name", "points_cost", "is_active")

    @transaction.atomic
    def update_reward(*, reward: Reward, actor: User, **values) -> Reward:
        audit.require_actor(actor)                     # refuse at once, before any work
        was = audit.snapshot(reward, REWARD_FIELDS)    # the values before the change
        for name, value in values.items():
            setattr(reward, name, value)
        reward.save()
        audit.record(actor=actor, action="reward.updated", target=reward, **audit.changes(was, reward, REWARD_FIELDS))
        return reward

- `record()` writes one `accounts.AuditEvent`. It raises `ActorRequired` without an actor, so a service
  that forgets one cannot run (its transaction rolls back), and `AuditOutsideTransaction` outside
  `transaction.atomic`, so an entry can never be committed apart from its change. Roll the change back
  and its entry goes with it.
- The actor is the signed-in person (views pass `request.user`). A command or job with no person behind it
  passes `audit.System("manage.py reset_two_factor (Dana Ops)")`; there is no default.
- `action` is "<kind of object>.<what happened>", lower case: "reward.created", "reward.updated",
  "reward.deleted", "api_key.revoked", "staff.invited", "patient.merged". The page shows a readable label
  (LABELS below, or the action itself humanised: "catalog_item.imported" → "Catalog item imported").
- `target` is the model instance changed (its type, primary key and name are kept, so the entry outlives
  it); record a deletion *before* calling `delete()`, while the instance still has its primary key.
- `before` / `after` hold only what changed, as JSON: build them with `changes()` from a `snapshot()`
  taken before the change (or `stored()`, the row as the database holds it, when a ModelForm bound to the
  instance has already changed it). Creation: `after=audit.snapshot(obj, FIELDS)`; deletion:
  `before=audit.snapshot(obj, FIELDS)`. Never put secrets there (passwords, API keys, codes).
- `note` is free text for a reason ("phone lost, identity checked by call"), at most 500 characters.

Entries are never edited, with one exception: closing a patient's account calls `erase_personal_data()`,
which keeps each entry (who did what, when) but not the person's name, contact details or birthday.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.db.models.fields.files import FieldFile
from django.utils.functional import Promise

from accounts.models import AuditEvent, User

from .locking import lock, lock_get

__all__ = [
    "LABELS",
    "ActorRequired",
    "AuditOutsideTransaction",
    "System",
    "action_label",
    "actor_label",
    "changes",
    "erase_personal_data",
    "record",
    "require_actor",
    "snapshot",
    "stored",
]


class ActorRequired(ValueError):
    """A staff write was called without the person (or named command) making it: a programming error."""


class AuditOutsideTransaction(RuntimeError):
    """`record()` was called outside `transaction.atomic`, where its entry could outlive a failed change."""


@dataclass(frozen=True)
class System:
    """The actor of a change no signed-in person made: a management command or a job, named for the record.

    `label` says who or what, e.g. "Dana Ops (manage.py reset_two_factor)"; it cannot be empty.
    """

    label: str


# Readable labels of actions whose humanised name reads badly; any other action is shown humanised.
LABELS: dict[str, str] = {
    "two_factor.turned_on": "Two-factor turned on",
    "two_factor.turned_off": "Two-factor turned off",
    "two_factor.recovery_codes_created": "New two-factor recovery codes",
    "two_factor.reset": "Two-factor reset",
    "practice.two_factor_requirement_changed": "Two-factor requirement for staff changed",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
}


def action_label(action: str) -> str:
    """ "reward.updated" → "Reward updated" (or its entry in LABELS)."""
    if action in LABELS:
        return LABELS[action]
    words = action.replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def actor_label(actor: User | System) -> str:
    """How an actor is named in the trail: "Jane Doe <jane@example.com>", the email alone, or a System's label."""
    if isinstance(actor, System):
        return actor.label
    name = actor.get_full_name()
    return f"{name} <{actor.email}>" if name and actor.email else (name or actor.email or f"User {actor.pk}")


def require_actor(actor: Any) -> User | System:
    """Return the actor if it is a saved, signed-in user or a named System; raise ActorRequired otherwise.

    Services call it first, so a write without its actor refuses before doing any work.
    """
    if isinstance(actor, System):
        if not actor.label.strip():
            raise ActorRequired("A System actor needs a label saying who or what made the change.")
        return actor
    if not isinstance(actor, User) or actor.pk is None or not actor.is_authenticated:
        raise ActorRequired(
            f"This change must name who makes it (actor=request.user, or audit.System(...)); got {actor!r}."
        )
    return actor


def plain(value: Any) -> Any:
    """A field's value as JSON the trail can keep and show: related objects by name, files by path, dates in
    ISO 8601, decimals as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, decimal.Decimal | uuid.UUID | Promise):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, Iterable):
        return [plain(item) for item in value]
    return str(value)


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of a model instance as plain JSON values (a foreign key by the related object's name).

    Take it before changing the instance; pass it to `changes()` after, or as `before`/`after` of a
    deletion/creation.
    """
    return {name: plain(getattr(instance, name)) for name in fields}


def stored(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """Like `snapshot()`, but of the row as the database holds it now, locked until the transaction ends.

    Use it when the instance in hand may already carry the new values (a ModelForm bound to it changes it
    while validating); {} for an instance not saved yet.
    """
    if instance.pk is None:
        return {}
    row = lock_get(type(instance)._default_manager, pk=instance.pk)
    return snapshot(row, fields)


def changes(
    before: models.Model | Mapping[str, Any], after: models.Model | Mapping[str, Any], fields: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """{"before": {...}, "after": {...}} with only the fields whose value differs, ready for `record(**...)`.

    `before` and `after` are each a model instance or a `snapshot()` (a dict of plain values).
    """
    fields = list(fields)
    old = before if isinstance(before, Mapping) else snapshot(before, fields)
    new = after if isinstance(after, Mapping) else snapshot(after, fields)
    changed = [name for name in fields if plain(old.get(name)) != plain(new.get(name))]
    return {
        "before": {name: plain(old.get(name)) for name in changed},
        "after": {name: plain(new.get(name)) for name in changed},
    }


def record(
    *,
    actor: User | System,
    action: str,
    target: models.Model | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    note: str = "",
    target_label: str = "",
) -> AuditEvent:
    """Write one audit entry in the caller's transaction (see the module's docstring for how to call it).

    Raises ActorRequired without a valid actor and AuditOutsideTransaction outside `transaction.atomic`.
    `target_label` overrides the name kept for the target (default: `str(target)`).
    """
    actor = require_actor(actor)
    if not transaction.get_connection().in_atomic_block:
        raise AuditOutsideTransaction(
            "Record the audit entry inside the service's transaction.atomic block, with the change it describes."
        )
    if not action or action != action.strip().lower() or "." not in action:
        raise ValueError(
            f'An action is "<kind of object>.<what happened>" in lower case, e.g. "reward.updated"; got {action!r}.'
        )
    target_type = target_id = ""
    if target is not None:
        if target.pk is None:
            raise ValueError("Record the audit entry while the target has its primary key (before deleting it).")
        target_type, target_id = target._meta.label_lower, str(target.pk)
        target_label = target_label or str(target)
    return AuditEvent.objects.create(
        actor=None if isinstance(actor, System) else actor,
        actor_label=actor_label(actor)[:200],
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label[:200],
        before=plain(dict(before or {})),
        after=plain(dict(after or {})),
        note=(note or "").strip()[:500],
    )


# Values of these fields are a person's details: erased from the trail when their account is closed.
PERSONAL_FIELDS = frozenset(
    {"first_name", "last_name", "full_name", "name", "email", "phone", "new_phone", "birthday", "external_id", "notes"}
)
ERASED = "(erased)"


@transaction.atomic
def erase_personal_data(*, target: models.Model, label: str, user: User | None = None) -> int:
    """Erase a person's details from the trail when their account is closed: entries about `target` (say,
    a Patient) keep `label` as its name and ERASED for the values of PERSONAL_FIELDS; entries `user` (their
    account) made name them `label`. Who did what, and when, stays. Returns how many entries changed."""
    changed = 0
    about = lock(AuditEvent.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk)))
    for event in about:
        event.target_label = label[:200]
        for values in (event.before, event.after):
            for name in values.keys() & PERSONAL_FIELDS:
                if values[name] not in (None, ""):
                    values[name] = ERASED
        event.save(update_fields=["target_label", "before", "after"])
        changed += 1
    if user is not None and user.pk is not None:
        changed += AuditEvent.objects.filter(actor_id=user.pk).update(actor_label=label[:200])
    return changed
