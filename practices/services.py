import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django_tenants.utils import schema_exists, tenant_context

from accounts.models import User

from .errors import InvalidOwner, InvalidSlug, SlugTaken
from .models import Domain, Practice, StaffMember, new_invite_code

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = {"www", "api", "admin", "app", "static", "media", "public", "mail", "staff", "platform"}


@dataclass(frozen=True)
class NewPractice:
    practice: Practice
    owner: User
    owner_password: str


def schema_name_for(slug: str) -> str:
    return "p_" + slug.replace("-", "_")


def validate_slug(slug: str) -> str:
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise InvalidSlug(
            "A slug is 3 to 40 lowercase letters, digits or hyphens, starting with a letter "
            "and not ending with a hyphen.",
            field="slug",
        )
    if slug in RESERVED_SLUGS or slug == settings.TENANT_BASE_SCHEMA:
        raise InvalidSlug(f"“{slug}” is reserved; choose another slug.", field="slug")
    return slug


def _unique_invite_code() -> str:
    while True:
        code = new_invite_code()
        if not Practice.objects.filter(invite_code=code).exists():
            return code


def create_practice(
    *,
    name: str,
    slug: str,
    owner_email: str,
    owner_first_name: str = "",
    owner_last_name: str = "",
    time_zone: str = "America/New_York",
    owner_password: str | None = None,
) -> NewPractice:
    """Create a practice: its schema (cloned from the template), its domain and its owner.

    All or nothing: on any error no row, schema or user is left behind.
    """
    slug = validate_slug(slug)
    name = (name or "").strip()
    if not name:
        raise InvalidSlug("Give the practice a name.", field="name")
    try:
        validate_email(owner_email)
    except ValidationError:
        raise InvalidOwner(f"“{owner_email}” is not a valid email address.", field="owner_email") from None
    schema_name = schema_name_for(slug)
    if Practice.objects.filter(slug=slug).exists() or schema_exists(schema_name):
        raise SlugTaken(f"A practice with the slug “{slug}” already exists.", field="slug")

    password = owner_password or secrets.token_urlsafe(12)
    try:
        with transaction.atomic():
            practice = Practice(
                name=name, slug=slug, schema_name=schema_name, time_zone=time_zone, invite_code=_unique_invite_code()
            )
            practice.save(verbosity=0)
            Domain.objects.create(domain=f"{slug}.{settings.BASE_DOMAIN}", tenant=practice, is_primary=True)
            with tenant_context(practice):
                owner = User.objects.create_user(
                    email=owner_email,
                    password=password,
                    first_name=owner_first_name,
                    last_name=owner_last_name,
                )
                StaffMember.objects.create(
                    user=owner, role=StaffMember.Role.OWNER, must_change_password=owner_password is None
                )
    except IntegrityError:
        # Another process created the same slug between our check and our insert.
        raise SlugTaken(f"A practice with the slug “{slug}” already exists.", field="slug") from None
    return NewPractice(practice=practice, owner=owner, owner_password=password)


def add_staff_member(
    *, email: str, role: str, password: str | None = None, first_name: str = "", last_name: str = ""
) -> tuple[StaffMember, str]:
    """Add a staff member to the current practice; returns the member and their password.

    A generated password is a one-time password: the member must change it at first sign-in.
    """
    issued = password or secrets.token_urlsafe(12)
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=issued, first_name=first_name, last_name=last_name)
        member = StaffMember.objects.create(user=user, role=role, must_change_password=password is None)
    return member, issued
