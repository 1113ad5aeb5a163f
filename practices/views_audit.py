"""The owner's audit trail: every change staff made, who made it and what it was before and after."""

import csv
from collections.abc import Iterable, Iterator

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from . import audit_selectors
from .forms_audit import AuditFilterForm
from .models import StaffMember
from .page_helpers import query_string
from .roles import staff_required
from .selectors import current_practice

PER_PAGE = 50


@staff_required(role=StaffMember.Role.OWNER)
def audit_trail(request):
    """The trail, newest first, filtered and a page at a time; `?format=csv` exports the filtered entries."""
    practice = current_practice()
    filters = AuditFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    events = audit_selectors.trail(
        actor=data.get("actor", ""),
        target_type=data.get("target_type", ""),
        action=data.get("action", ""),
        since=data.get("since"),
        until=data.get("until"),
    )
    if request.GET.get("format") == "csv" and not filters.errors:
        return _csv(events, practice)
    page = Paginator(events, PER_PAGE).get_page(request.GET.get("page"))
    entries = audit_selectors.describe_page(page.object_list)
    return render(
        request,
        "practices/audit_trail.html",
        {
            "filters": filters,
            "page": page,
            "entries": entries,
            "filtered": any(data.values()),
            "page_query": query_string(request, page=None),
            "csv_query": query_string(request, page=None, format="csv"),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    # Text a spreadsheet would run as a formula is kept as text.
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _lines(rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([_cell(cell) for cell in row])


def _csv(events, practice) -> StreamingHttpResponse:
    # The rows are written after the request's middleware is done (the zone it activated is gone by then).
    zone = timezone.get_current_timezone()

    def rows():
        with timezone.override(zone):
            yield from audit_selectors.csv_rows(events)

    response = StreamingHttpResponse(_lines(rows()), content_type="text/csv; charset=utf-8")
    filename = f"audit-trail-{practice.slug}-{timezone.localdate(timezone=zone):%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
