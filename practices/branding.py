"""The owner's branding and program texts: the services that change them and the reads the pages use.

The name, short name, logo, colours and SMS sender name are on the Practice row (the public schema): the
platform host shows them too (the mobile app's practice lookup). The terms and privacy notice are the
practice's own texts, kept in its schema (ProgramTexts). Every change records an audit entry, in the same
transaction, naming the owner who made it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User

from . import audit
from .brand_images import square_logo
from .colours import ColourRefused, normalise, text_on
from .errors import PracticeError
from .images import UnusablePicture
from .locking import lock_get
from .media import practice_media_storage
from .models import Practice, ProgramTexts, hex_colour
from .program_texts import MAX_CHARS, default_privacy, default_terms
from .selectors import current_practice

logger = logging.getLogger(__name__)

BRAND_FIELDS = ("name", "short_name", "logo", "primary_color", "accent_color", "sms_sender_name")
TEXT_FIELDS = ("terms", "privacy")
COLOUR_RE = re.compile(r"^#[0-9a-f]{6}$")
# A text's sender name: what phones show at the start of the message. No line breaks or symbols that carriers
# or phones mangle.
SENDER_NAME_RE = re.compile(r"^[\w .,&'’-]+$")


class BrandingRefused(PracticeError):
    code = "branding_refused"


@transaction.atomic
def update_branding(
    *,
    actor: User | audit.System,
    name: str,
    short_name: str = "",
    primary_color: str,
    accent_color: str,
    sms_sender_name: str = "",
    logo=None,
    remove_logo: bool = False,
) -> Practice:
    """Change the current practice's name, short name, colours, SMS sender name and logo, recorded with who did it.

    Colours are refused (BrandingRefused, naming the field) when no button text reaches WCAG AA on them; a new
    logo is kept as its centre square. Nothing changes, and nothing is recorded, when every value is as it was.
    """
    audit.require_actor(actor)
    values = {
        "name": _name(name, field="name", limit=120, required=True),
        "short_name": _name(short_name, field="short_name", limit=30),
        "primary_color": _colour(primary_color, field="primary_color", what="The primary colour"),
        "accent_color": _colour(accent_color, field="accent_color", what="The accent colour"),
        "sms_sender_name": _sender_name(sms_sender_name),
    }
    square = None
    if logo is not None:
        try:
            square = square_logo(logo)
        except UnusablePicture as error:
            raise BrandingRefused(str(error), field="logo") from None

    practice = lock_get(Practice.objects, pk=current_practice().pk)
    was = audit.snapshot(practice, BRAND_FIELDS)
    old_logo = practice.logo.name
    if square is not None:
        practice.logo.save(square.name, square, save=False)  # a new name (practices.models.logo_path)
    elif remove_logo:
        practice.logo = ""
    for field, value in values.items():
        setattr(practice, field, value)
    changed = audit.changes(was, practice, BRAND_FIELDS)
    if changed["after"]:
        Practice.objects.filter(pk=practice.pk).update(**values, logo=practice.logo.name)
        audit.record(actor=actor, action="practice.branding_updated", target=practice, **changed)
        if old_logo and old_logo != practice.logo.name:
            transaction.on_commit(lambda: _delete_file(old_logo))
    _refresh_current(practice)
    return practice


def _refresh_current(practice: Practice) -> None:
    # The practice object this request routes with (and its pages read) shows the change at once.
    current = current_practice()
    if current is not practice:
        for field in BRAND_FIELDS:
            setattr(current, field, getattr(practice, field))


def _delete_file(name: str) -> None:
    # The replaced logo: pages now name the new file. A file left behind is harmless, so a failure is logged only.
    try:
        practice_media_storage().delete(name)
    except OSError:
        logger.warning("The replaced logo %s could not be deleted", name, exc_info=True)


def _name(value: str, *, field: str, limit: int, required: bool = False) -> str:
    value = " ".join((value or "").split())
    if required and not value:
        raise BrandingRefused("Give the practice a name.", field=field)
    if len(value) > limit:
        raise BrandingRefused(f"Use at most {limit} characters (this is {len(value)}).", field=field)
    return value


def _colour(value: str, *, field: str, what: str) -> str:
    value = normalise(value or "")
    if not COLOUR_RE.match(value):
        raise BrandingRefused(hex_colour.message, field=field)
    try:
        text_on(value, what=what)
    except ColourRefused as error:
        raise BrandingRefused(str(error), field=field) from None
    return value


def _sender_name(value: str) -> str:
    value = _name(value, field="sms_sender_name", limit=30)
    if value and not SENDER_NAME_RE.match(value):
        raise BrandingRefused(
            "Use letters, digits, spaces and . , & ' - only: phones may not show other symbols.",
            field="sms_sender_name",
        )
    return value


# ---------------------------------------------------------------- program terms and privacy notice


@dataclass(frozen=True)
class ProgramText:
    text: str
    updated_at: datetime | None
    is_default: bool


def program_texts() -> dict[str, ProgramText]:
    """The current practice's terms and privacy notice as shown: the owner's text, or the default one."""
    practice = current_practice()
    row = ProgramTexts.objects.filter(pk=1).first() or ProgramTexts()
    defaults = {"terms": default_terms(practice), "privacy": default_privacy(practice)}
    return {
        field: ProgramText(
            text=getattr(row, field) or defaults[field],
            updated_at=getattr(row, f"{field}_updated_at"),
            is_default=not getattr(row, field),
        )
        for field in TEXT_FIELDS
    }


@transaction.atomic
def update_program_texts(*, actor: User | audit.System, terms: str, privacy: str) -> ProgramTexts:
    """Change the program terms and privacy notice, recorded with who did it and the texts before and after.

    A text left as the default is stored as the default (empty), so it keeps naming the practice by its current
    name. Each text's "last updated" date moves only when that text changes.
    """
    audit.require_actor(actor)
    practice = current_practice()
    wanted = {
        "terms": _text(terms, default=default_terms(practice), field="terms", label="The terms"),
        "privacy": _text(privacy, default=default_privacy(practice), field="privacy", label="The privacy notice"),
    }
    ProgramTexts.objects.get_or_create(pk=1)
    row = lock_get(ProgramTexts.objects, pk=1)
    was = audit.snapshot(row, TEXT_FIELDS)
    now = timezone.now()
    for field, value in wanted.items():
        if getattr(row, field) != value:
            setattr(row, field, value)
            setattr(row, f"{field}_updated_at", now)
    changed = audit.changes(was, row, TEXT_FIELDS)
    if changed["after"]:
        row.save()
        audit.record(actor=actor, action="practice.program_texts_updated", target=practice, **changed)
    return row


def _text(value: str, *, default: str, field: str, label: str) -> str:
    value = (value or "").replace("\r\n", "\n").strip()
    if not value:
        raise BrandingRefused(f"{label} cannot be empty: write your own or keep the default text.", field=field)
    if len(value) > MAX_CHARS:
        raise BrandingRefused(f"Use at most {MAX_CHARS:,} characters (this is {len(value):,}).", field=field)
    return "" if value == default.strip() else value
