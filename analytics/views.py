"""The staff dashboard (also the staff home), its live figures, CSV exports and the patients-at-risk list.

Every staff member sees it; money (liability, revenue, spend) only managers and owners: the selectors are
asked for it only then, and money exports answer 403 to the front desk.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone

from practices.models import StaffMember
from practices.roles import staff_required

from . import desk as desk_reads
from . import exports, rollups, selectors, services
from .forms import PeriodForm
from .periods import PRESETS

# How often an open dashboard asks for fresh figures.
LIVE_SECONDS = 5
AT_RISK_PER_PAGE = 50


def _with_money(request) -> bool:
    return request.staff_member.has_role(StaffMember.Role.MANAGER)


def _period_form(request) -> PeriodForm:
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    data = request.GET if any(key in request.GET for key in ("period", "start", "end")) else None
    return PeriodForm(data, today=today, zone=zone)


def _chart_data(figures: dict) -> str:
    """The charts' data for static/js/analytics.js: JSON for a data attribute (the template escapes it)."""
    members, points_data, funnel = figures["members"], figures["points"], figures["referrals"]
    data = {
        "members": {
            "labels": [point["label"] for point in members["series"]],
            "new": [point["new"] for point in members["series"]],
            "active": [point["active"] for point in members["series"]],
            "members": [point["members"] for point in members["series"]],
        },
        "points": {
            "labels": [point["label"] for point in points_data["series"]],
            "issued": [point["issued"] for point in points_data["series"]],
            "redeemed": [point["redeemed"] for point in points_data["series"]],
        },
        "funnel": {
            "labels": ["Visits", "Sign-ups", "Qualified", "Rewarded"],
            "groups": [
                {"label": row["label"], "values": [row["visits"], row["signups"], row["qualified"], row["rewarded"]]}
                for row in funnel["by_owner"]
            ],
        },
    }
    return json.dumps(data, separators=(",", ":"))


def _figures_context(request, form: PeriodForm) -> dict:
    period = form.chosen_period()
    services.keep_period_ranking(period)  # stored once, so that the selectors below only read
    with rollups.custom_plans():
        figures = selectors.dashboard(period, with_money=_with_money(request))
    period_query = urlencode(period.query())
    return {
        **figures,
        "form": form,
        "period_query": period_query,
        "chart_data": _chart_data(figures),
        "retention_rows": [
            ("Before joining", figures["retention"]["before"]),
            ("As members", figures["retention"]["member"]),
        ],
        "presets": [
            {"key": key, "label": label, "query": urlencode({"period": key})} for key, (label, _) in PRESETS.items()
        ],
        "live_seconds": LIVE_SECONDS,
    }


@staff_required
def dashboard(request):
    """The dashboard page: the period selector, then the figures (refreshed in place while it is open)."""
    form = _period_form(request)
    context = _figures_context(request, form)
    return render(request, "analytics/dashboard.html", context)


@staff_required
def staff_home(request):
    """`/staff/`: the front desk's page for the front desk, the dashboard for managers and owners."""
    if request.staff_member.has_role(StaffMember.Role.MANAGER):
        return dashboard(request)
    return desk(request)


@staff_required
def desk(request):
    """The front desk's page: find a patient as the name or number is typed (htmx asks for the results alone,
    a plain form without JavaScript), check out or use a voucher, today's new members and birthdays, and the
    vouchers not used yet."""
    query = request.GET.get("q", "").strip()[:100]
    now = timezone.now()
    found, found_count = desk_reads.find_patients(query, now=now) if query else ([], 0)
    context = {"query": query, "found": found, "found_count": found_count}
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "desk-results":
        return render(request, "analytics/_desk_results.html", context)
    zone = timezone.get_current_timezone()
    today = timezone.localdate(now)
    context.update(
        today=today,
        new_members=desk_reads.new_members(day=today, zone=zone),
        birthdays=desk_reads.birthdays(day=today),
        vouchers=desk_reads.ready_vouchers(now=now),
    )
    return render(request, "analytics/desk.html", context)


@staff_required
def live(request):
    """The dashboard's figures alone, each part swapped into the open page by id (htmx out-of-band)."""
    form = _period_form(request)
    if form.is_bound and not form.is_valid():
        return HttpResponseBadRequest("Choose a valid period.")
    context = {**_figures_context(request, form), "oob": True}
    return render(request, "analytics/_live.html", context)


@staff_required
def export(request, table: str):
    """One dashboard table as CSV, for the period of the page it was downloaded from."""
    spec = exports.TABLES.get(table)
    if spec is None:
        raise Http404("No such table.")
    with_money = _with_money(request)
    if spec.is_money and not with_money:
        raise PermissionDenied("Money figures are for managers and owners.")
    form = _period_form(request)
    if form.is_bound and not form.is_valid():
        return HttpResponseBadRequest("Choose a valid period.")
    period = form.chosen_period()
    with rollups.custom_plans():
        header, rows = spec.build(selectors.scope(period), with_money)
    response = HttpResponse(exports.to_csv(header, rows), content_type="text/csv; charset=utf-8")
    filename = f"{table}-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@staff_required
def at_risk(request):
    """Every patient at risk of losing their points, soonest expiry first, a page at a time."""
    now = timezone.now()
    accounts = selectors.at_risk_accounts(now=now)
    page = Paginator(accounts, AT_RISK_PER_PAGE).get_page(request.GET.get("page"))
    rows = [selectors.at_risk_row(account, now=now) for account in page.object_list]
    return render(request, "analytics/at_risk.html", {"page": page, "rows": rows})
