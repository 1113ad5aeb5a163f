"""Tenancy: which practice the code is running for, and in which time zone.

One way, everywhere:

- **The current practice** is `practices.selectors.current_practice()` (or `current_practice_or_none()` where
  the platform's own host or commands may call). Domain code never reads `connection.tenant` or
  `request.tenant`; where only the schema name is needed, `connection.schema_name` is django-tenants'
  public API.
- **Entering a practice** is done by django-tenants' own machinery: `PracticeMiddleware` (a
  `TenantMainMiddleware` finding the practice by host) for a request, `practice_context(practice)` below
  for background tasks, daily jobs and management commands.
- **The practice's time zone is active** wherever the code runs in a practice: the middleware activates it
  for the request, and `practice_context` for the work it wraps. Code asks Django for it
  (`timezone.localdate()`, `timezone.localtime(x)`, `timezone.get_current_timezone()`) and never builds
  `ZoneInfo(practice.time_zone)` itself. Only code that speaks for another practice than the current one
  (the platform host listing practices, creating a practice) names a zone explicitly, with `zone_of`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from django.utils import timezone
from django_tenants.utils import tenant_context

from .models import Practice


def zone_of(practice: Practice) -> ZoneInfo:
    """The practice's time zone, for code that must name it explicitly (it is not the current practice)."""
    return ZoneInfo(practice.time_zone)


@contextmanager
def practice_context(practice: Practice) -> Iterator[Practice]:
    """Run the block in the practice: its schema (django-tenants' `tenant_context`) and its time zone active.

    Both are put back as they were when the block ends, whether or not it raised.
    """
    with tenant_context(practice), timezone.override(zone_of(practice)):
        yield practice
