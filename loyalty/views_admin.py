"""Staff pages that set up the points program (managers and owners): the catalog and its CSV import,
program settings, tiers, campaigns, earning actions, manual adjustments and their audit list."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from patients.models import Patient
from practices.csv_files import UnreadableFile
from practices.errors import DomainError
from practices.formatting import format_number
from practices.models import StaffMember
from practices.page_helpers import add_domain_error, query_string
from practices.roles import staff_required
from practices.selectors import current_practice

from . import staff_selectors, staff_services
from .catalog_import import COLUMNS as CATALOG_COLUMNS
from .catalog_import import import_catalog
from .forms import (
    ActionForm,
    AdjustForm,
    AdjustmentFilterForm,
    CampaignForm,
    CatalogItemForm,
    CatalogSearchForm,
    CatalogUploadForm,
    ProgramSettingsForm,
    TierForm,
    money,
    times,
)
from .models import Campaign, CatalogItem, EarningAction, Tier
from .services import adjust_points, program_settings

CATALOG_PER_PAGE = 50
ADJUSTMENTS_PER_PAGE = 50
CAMPAIGNS_PER_PAGE = 50

Role = StaffMember.Role
manager_required = staff_required(role=Role.MANAGER)
owner_required = staff_required(role=Role.OWNER)


def _edit_page(request, form, **context):
    return render(request, "staff/edit_form.html", {"form": form, **context})


# ---------------------------------------------------------------- catalog


@manager_required
def catalog_list(request):
    search = CatalogSearchForm(request.GET)
    search.is_valid()
    query, status = search.cleaned_data.get("q", ""), search.cleaned_data.get("status", "")
    page = Paginator(staff_selectors.catalog_items(query=query, status=status), CATALOG_PER_PAGE).get_page(
        request.GET.get("page")
    )
    has_items = bool(page.object_list) or CatalogItem.objects.exists()
    return render(
        request,
        "loyalty/staff/catalog_list.html",
        {
            "search": search,
            "query": query,
            "status": status,
            "page": page,
            "has_items": has_items,
            "default_rate": program_settings().points_per_dollar,
            "page_query": query_string(request, page=None),
        },
    )


@manager_required
def catalog_edit(request, item_id: int | None = None):
    item = get_object_or_404(CatalogItem, pk=item_id) if item_id else None
    form = CatalogItemForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        try:
            saved = staff_services.save_catalog_item(item=item, actor=request.user, **form.service_values())
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"“{saved.name}” was {'saved' if item else 'added to the catalog'}.")
            return redirect("loyalty:catalog_list")
    form.fields["points_per_dollar"].help_text = (
        f"Only for “Points per dollar”. Leave empty to use the program's default "
        f"({program_settings().points_per_dollar} per dollar)."
    )
    return _edit_page(
        request,
        form,
        title=f"Edit {item.name}" if item else "Add a catalog item",
        back_url=reverse("loyalty:catalog_list"),
        back_label="Catalog",
        submit_label="Save" if item else "Add to the catalog",
        delete_url=reverse("loyalty:catalog_delete", args=[item.pk]) if item else "",
        delete_label="Deactivate or delete",
    )


@manager_required
def catalog_delete(request, item_id: int):
    item = get_object_or_404(CatalogItem, pk=item_id)
    purchased = staff_selectors.was_ever_purchased(item=item)
    if request.method == "POST":
        deleted = staff_services.remove_catalog_item(item=item, actor=request.user)
        if deleted:
            messages.success(request, f"“{item.name}” was deleted.")
        else:
            messages.success(request, f"“{item.name}” was deactivated: it is on past purchases, so it is kept.")
        return redirect("loyalty:catalog_list")
    if purchased:
        title, consequence, button = (
            f"Deactivate {item.name}?",
            "This item is on past purchases, so it can't be deleted: it will be deactivated instead. "
            "It disappears from the checkout and stops earning; receipts and refunds still show it.",
            "Deactivate",
        )
    else:
        title, consequence, button = (
            f"Delete {item.name}?",
            "It has never been purchased, so it will be deleted for good.",
            "Delete",
        )
    return render(
        request,
        "staff/confirm.html",
        {
            "title": title,
            "consequence": consequence,
            "button": button,
            "action_url": reverse("loyalty:catalog_delete", args=[item.pk]),
            "cancel_url": reverse("loyalty:catalog_edit", args=[item.pk]),
        },
    )


@manager_required
def catalog_import_view(request):
    form = CatalogUploadForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = import_catalog(content=form.cleaned_data["file"].read(), actor=request.user)
        except UnreadableFile as error:
            form.add_error("file", error.message)
    return render(
        request, "loyalty/staff/catalog_import.html", {"form": form, "report": report, "columns": CATALOG_COLUMNS}
    )


# ---------------------------------------------------------------- program settings


@owner_required
def program_settings_view(request):
    current = program_settings()
    practice = current_practice()
    initial = {
        "points_per_dollar": current.points_per_dollar,
        "point_value_cents": current.point_value_cents,
        "expiry_days": current.expiry_days,
        "reminder_days": ", ".join(str(day) for day in current.reminder_days),
        "invite_unknown_pos_patients": current.invite_unknown_pos_patients,
        "time_zone": practice.time_zone,
    }
    form = ProgramSettingsForm(request.POST or None, initial=initial)
    liability_points, liability_cents = staff_selectors.points_liability()
    if request.method == "POST" and form.is_valid():
        staff_services.update_program(**form.cleaned_data, actor=request.user)
        messages.success(request, "Program settings saved.")
        return redirect("loyalty:program_settings")
    return render(
        request,
        "loyalty/staff/program_settings.html",
        {
            "form": form,
            "settings": current,
            "liability": money(liability_cents),
            "liability_points": liability_points,
        },
    )


# ---------------------------------------------------------------- tiers


@manager_required
def tier_list(request):
    tiers = list(staff_selectors.tiers_with_counts())
    for tier in tiers:
        tier.multiplier_display = times(tier.multiplier_percent)
    return render(request, "loyalty/staff/tier_list.html", {"tiers": tiers})


@manager_required
def tier_edit(request, tier_id: int | None = None):
    tier = get_object_or_404(Tier, pk=tier_id) if tier_id else None
    form = TierForm(request.POST or None, instance=tier)
    if request.method == "POST" and form.is_valid():
        try:
            saved = staff_services.save_tier(tier=tier, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Tier “{saved.name}” was saved.")
            return redirect("loyalty:tier_list")
    return _edit_page(
        request,
        form,
        title=f"Edit {tier.name}" if tier else "Add a tier",
        back_url=reverse("loyalty:tier_list"),
        back_label="Tiers",
        submit_label="Save" if tier else "Add the tier",
        delete_url=reverse("loyalty:tier_delete", args=[tier.pk]) if tier else "",
        delete_label="Delete this tier",
    )


@manager_required
def tier_delete(request, tier_id: int):
    tier = get_object_or_404(staff_selectors.tiers_with_counts(), pk=tier_id)
    if request.method == "POST":
        moved = staff_services.delete_tier(tier=tier, actor=request.user)
        messages.success(
            request,
            f"Tier “{tier.name}” was deleted; {moved} patient{'s' if moved != 1 else ''} moved to the tier "
            "their points reach.",
        )
        return redirect("loyalty:tier_list")
    count = tier.patient_count
    return render(
        request,
        "staff/confirm.html",
        {
            "title": f"Delete the tier {tier.name}?",
            "consequence": (
                f"{count} patient{'s are' if count != 1 else ' is'} in this tier. "
                "They move to the tier their points reach without it (or to no tier)."
            ),
            "button": "Delete the tier",
            "action_url": reverse("loyalty:tier_delete", args=[tier.pk]),
            "cancel_url": reverse("loyalty:tier_list"),
        },
    )


# ---------------------------------------------------------------- campaigns


@manager_required
def campaign_list(request):
    page = Paginator(Campaign.objects.order_by("-starts_at", "-id"), CAMPAIGNS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    for campaign in page:
        campaign.multiplier_display = times(campaign.multiplier_percent)
    return render(request, "loyalty/staff/campaign_list.html", {"page": page, "now": timezone.now()})


@manager_required
def campaign_edit(request, campaign_id: int | None = None):
    campaign = get_object_or_404(Campaign, pk=campaign_id) if campaign_id else None
    form = CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            saved = staff_services.save_campaign(campaign=campaign, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Campaign “{saved.name}” was saved.")
            return redirect("loyalty:campaign_list")
    return _edit_page(
        request,
        form,
        title=f"Edit {campaign.name}" if campaign else "Add a campaign",
        back_url=reverse("loyalty:campaign_list"),
        back_label="Campaigns",
        submit_label="Save" if campaign else "Add the campaign",
        intro=f"Times are in the practice's time zone ({timezone.get_current_timezone_name()}).",
    )


@manager_required
def campaign_end(request, campaign_id: int):
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if request.method == "POST":
        staff_services.end_campaign(campaign=campaign, actor=request.user)
        messages.success(request, f"Campaign “{campaign.name}” was ended.")
        return redirect("loyalty:campaign_list")
    return render(
        request,
        "staff/confirm.html",
        {
            "title": f"End {campaign.name} now?",
            "consequence": "Purchases from now on no longer get its multiplier. Points already earned are kept.",
            "button": "End the campaign",
            "action_url": reverse("loyalty:campaign_end", args=[campaign.pk]),
            "cancel_url": reverse("loyalty:campaign_list"),
        },
    )


# ---------------------------------------------------------------- earning actions


@manager_required
def action_list(request):
    return render(request, "loyalty/staff/action_list.html", {"actions": staff_selectors.actions_with_counts()})


@manager_required
def action_edit(request, action_id: int | None = None):
    action = get_object_or_404(EarningAction, pk=action_id) if action_id else None
    form = ActionForm(request.POST or None, instance=action)
    if request.method == "POST" and form.is_valid():
        try:
            saved = staff_services.save_action(action=action, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Action “{saved.name}” was saved.")
            return redirect("loyalty:action_list")
    return _edit_page(
        request,
        form,
        title=f"Edit {action.name}" if action else "Add an earning action",
        back_url=reverse("loyalty:action_list"),
        back_label="Actions",
        submit_label="Save" if action else "Add the action",
    )


# ---------------------------------------------------------------- adjustments


@manager_required
@require_POST
def patient_adjust(request, patient_id: int):
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    form = AdjustForm(request.POST)
    if form.is_valid():
        delta = form.cleaned_data["points"]
        try:
            adjust_points(patient=patient, delta=delta, reason=form.cleaned_data["reason"], actor=request.user)
        except DomainError as error:
            form.add_error("points" if error.field in (None, "delta") else error.field, error.message)
        else:
            verb = "added to" if delta > 0 else "removed from"
            messages.success(request, f"{format_number(abs(delta))} points {verb} {patient}'s balance.")
            return redirect("patients:staff_patient_detail", patient_id=patient.pk)
    return render(
        request,
        "loyalty/staff/patient_form.html",
        {
            "patient": patient,
            "form": form,
            "title": f"Adjust {patient}'s points",
            "action_url": reverse("loyalty:patient_adjust", args=[patient.pk]),
            "submit_label": "Adjust points",
        },
    )


@manager_required
def adjustment_list(request):
    filters = AdjustmentFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    entries = staff_selectors.adjustment_entries(
        actor_id=data["actor"].pk if data.get("actor") else None,
        since=data.get("since"),
        until=data.get("until"),
    )
    page = Paginator(entries, ADJUSTMENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "loyalty/staff/adjustment_list.html",
        {
            "filters": filters,
            "page": page,
            "filtered": any(data.values()),
            "page_query": query_string(request, page=None),
        },
    )
