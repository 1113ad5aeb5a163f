import hashlib

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from .colours import best_text_on, text_on_white
from .models import BackgroundTask, CodeDirectory, Practice


def practices_in_service() -> QuerySet[Practice]:
    """Active practices, without the platform's own (public) row."""
    return Practice.objects.filter(is_active=True).exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)


def practice_by_invite_code(code: str) -> Practice | None:
    """The practice behind its invite code or one of its referral codes (see CodeDirectory)."""
    code = "".join((code or "").split()).upper()
    if not code:
        return None
    return practices_in_service().filter(Q(invite_code=code) | Q(pk__in=practice_ids_with_code(code))).first()


def practice_ids_with_code(code: str) -> QuerySet:
    return CodeDirectory.objects.filter(code=code).values("practice_id")


def site_url(host: str, path: str = "/") -> str:
    """An absolute URL on `host`, written with the configured scheme and port."""
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_SCHEME}://{host}{port}{path}"


def practice_host(practice: Practice) -> str:
    domain = practice.domains.filter(is_primary=True).first()
    return domain.domain if domain else f"{practice.slug}.{settings.BASE_DOMAIN}"


def practice_url(practice: Practice, path: str = "/") -> str:
    return site_url(practice_host(practice), path)


def practice_path(name: str, *args) -> str:
    """The path of a named page of a practice's host, wherever it is asked (the platform host has other URLs)."""
    return reverse(name, args=args, urlconf=settings.ROOT_URLCONF)


def branding(practice: Practice, *, absolute: bool = False) -> dict:
    """The practice's name, logo and colours, and the text colours that read on them (practices.colours).
    The logo is served on the practice's own host only, so an answer read elsewhere (the mobile app, the
    platform host) gets its absolute URL there."""
    logo_url = practice.logo.url if practice.logo else None
    if logo_url and absolute:
        logo_url = practice_url(practice, logo_url)
    return {
        "name": practice.name,
        "short_name": short_name(practice),
        "logo_url": logo_url,
        "primary_color": practice.primary_color,
        "accent_color": practice.accent_color,
        "primary_text_color": best_text_on(practice.primary_color).colour,
        "accent_text_color": best_text_on(practice.accent_color).colour,
        "link_color": text_on_white(practice.primary_color),
        # Part of the addresses of the pictures drawn from the brand (practices.brand_images): a change is seen.
        "version": brand_version(practice),
    }


def brand_version(practice: Practice) -> str:
    """Changes whenever the pictures drawn from the brand would: the logo's file, the colours, the name."""
    parts = (practice.logo.name or "", practice.primary_color, practice.name, practice.short_name)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


# Home-screen labels are cut off beyond about a dozen characters.
SHORT_NAME_CHARS = 12


def short_name(practice: Practice) -> str:
    """The owner's short name, else the first words of the name that fit under an app icon."""
    if practice.short_name:
        return practice.short_name
    name = practice.name
    if len(name) <= SHORT_NAME_CHARS:
        return name
    short = ""
    for word in name.split():
        candidate = f"{short} {word}".strip()
        if len(candidate) > SHORT_NAME_CHARS:
            break
        short = candidate
    return short or name[:SHORT_NAME_CHARS]


def current_practice() -> Practice:
    """The practice the connection is in, as a model instance: the one way to know it (practices.tenancy).

    Under django-tenants' `schema_context` the connection holds a stand-in that knows only the schema name:
    the practice's row is read then, once, and kept on the stand-in.
    """
    tenant = connection.tenant
    if isinstance(tenant, Practice):
        return tenant
    practice = getattr(tenant, "practice", None)
    if practice is None or practice.schema_name != connection.schema_name:
        practice = tenant.practice = Practice.objects.get(schema_name=connection.schema_name)
    return practice


def current_practice_or_none() -> Practice | None:
    """The current practice, or None on the platform's own schema (its host, platform commands)."""
    if connection.schema_name == settings.PUBLIC_SCHEMA_NAME:
        return None
    return current_practice()


def task_backlog(*, now=None) -> dict:
    """How the outbox of background tasks stands: what waits, how late the most overdue is, what failed.

    "overdue" tasks are unfinished past the time the sweep should have handed them over again: with a
    worker and the sweep running, they do not stay overdue for long.
    """
    now = now or timezone.now()
    unfinished = BackgroundTask.objects.filter(
        status__in=[BackgroundTask.Status.PENDING, BackgroundTask.Status.RUNNING]
    )
    figures = unfinished.aggregate(
        pending=Count("pk", filter=Q(status=BackgroundTask.Status.PENDING)),
        running=Count("pk", filter=Q(status=BackgroundTask.Status.RUNNING)),
        oldest_due=Min("run_after", filter=Q(run_after__lte=now)),
    )
    oldest_due = figures.pop("oldest_due")
    figures["overdue_seconds"] = round((now - oldest_due).total_seconds()) if oldest_due else 0
    figures["failed"] = BackgroundTask.objects.filter(status=BackgroundTask.Status.FAILED).count()
    return figures
