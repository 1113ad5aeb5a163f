import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from accounts.models import User

from .errors import InvalidOwner, InvalidSlug, PlatformDomainRefused, SlugTaken
from .models import Domain, Practice, StaffMember, new_invite_code
from .tenancy import practice_context

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
            with practice_context(practice):
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


@dataclass(frozen=True)
class PlatformSetup:
    practice: Practice
    changes: list[str]  # what was created or repaired now; empty when everything was in place


@transaction.atomic
def ensure_platform(*, domain: str | None = None) -> PlatformSetup:
    """The platform's own row (the public schema) and the primary Domain routing BASE_DOMAIN to it.

    Creates or repairs what is missing and changes nothing when all is in place. Routing finds the
    platform by BASE_DOMAIN, so another domain is refused.
    """
    base_domain = settings.BASE_DOMAIN.lower()
    domain = (domain or base_domain).strip().lower()
    if domain != base_domain:
        raise PlatformDomainRefused(
            f"The platform is served at BASE_DOMAIN ({base_domain}), and practices at <slug>.{base_domain}; "
            f"to serve it at {domain}, set BASE_DOMAIN={domain} in the environment of every process.",
            field="domain",
        )
    changes = []
    platform, created = Practice.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME, defaults={"name": "Platform", "slug": "platform"}
    )
    if created:
        changes.append("created the platform's row (public schema)")
    elif not platform.is_active:
        # An inactive row makes routing answer 404 for the platform host.
        platform.is_active = True
        platform.save(update_fields=["is_active"])
        changes.append("reactivated the platform's row")
    routed = Domain.objects.select_related("tenant").filter(domain=domain).first()
    if routed is None:
        Domain.objects.create(domain=domain, tenant=platform, is_primary=True)
        changes.append(f"added the domain {domain}")
    elif routed.tenant_id != platform.pk:
        raise PlatformDomainRefused(
            f"The domain {domain} is routed to the practice “{routed.tenant.name}”; remove it there first.",
            field="domain",
        )
    elif not routed.is_primary:
        routed.is_primary = True
        routed.save()  # the other domains of the platform stop being primary
        changes.append(f"made {domain} the platform's primary domain")
    return PlatformSetup(practice=platform, changes=changes)


def ensure_platform_schedules() -> list[str]:
    """The background schedules the public schema's post_migrate hook creates; returns those created now."""
    from django_q.models import Schedule

    from .signals import ensure_daily_schedule

    with schema_context(get_public_schema_name()):
        before = set(Schedule.objects.values_list("name", flat=True))
        ensure_daily_schedule(sender=None)
        return sorted(set(Schedule.objects.values_list("name", flat=True)) - before)


@dataclass(frozen=True)
class PlatformOperator:
    user: User
    password: str | None  # the one-time password when the account was created now, else None


def ensure_platform_operator(*, email: str) -> PlatformOperator:
    """A platform operator (a superuser in the public schema) with this email.

    Creates one with a generated one-time password when no account uses the email; otherwise changes
    nothing (an existing account keeps its password and permissions). Operators set up two-factor at their
    first sign-in: the platform admin lets none in without it (practices.admin_site).
    """
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidOwner(f"“{email}” is not a valid email address.", field="operator_email") from None
    with schema_context(get_public_schema_name()), transaction.atomic():
        existing = User.objects.filter(email__iexact=email).first()
        if existing is not None:
            return PlatformOperator(user=existing, password=None)
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(email=email, password=password)
    return PlatformOperator(user=user, password=password)
