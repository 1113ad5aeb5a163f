"""Staff pages of the referral program: the activity log and its CSV export, program settings and
milestones (owner), partners, the leaderboard (with a TV mode), QR codes and posters, and the referral
panel of the patient page with its escalation to platform support."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from loyalty.forms import money
from patients.models import Patient
from practices.errors import DomainError
from practices.formatting import format_number
from practices.models import Practice, StaffMember
from practices.page_helpers import add_domain_error, query_string
from practices.roles import staff_member_of, staff_required
from practices.selectors import current_practice

from . import services, staff_selectors
from .codes import code_for_staff
from .forms_staff import EscalationForm, MilestoneForm, PartnerForm, ReferralFilterForm, ReferralSettingsForm
from .models import Milestone, Partner, Referral, ReferralCode, ReferralSettings
from .qr import qr_png, qr_svg, qr_svg_inline

Role = StaffMember.Role
manager_required = staff_required(role=Role.MANAGER)
owner_required = staff_required(role=Role.OWNER)

LOG_PER_PAGE = 50
PARTNERS_PER_PAGE = 50
# The TV leaderboard fetches its tables again this often (seconds).
TV_REFRESH_SECONDS = 60


def _tabs(member: StaffMember, current: str) -> list[dict]:
    """The referral pages' own tabs, as far as the member's role reaches."""
    tabs = [
        ("activity", "Activity", "referrals:staff_overview", Role.MANAGER),
        ("leaderboard", "Leaderboard", "referrals:leaderboard", Role.FRONT_DESK),
        ("partners", "Partners", "referrals:partner_list", Role.MANAGER),
        ("qr", "QR codes and posters", "referrals:qr_index", Role.FRONT_DESK),
        ("settings", "Settings", "referrals:settings", Role.OWNER),
    ]
    return [
        {"label": label, "url": reverse(name), "current": key == current}
        for key, label, name, role in tabs
        if member.has_role(role)
    ]


def _page(request: HttpRequest, template: str, context: dict, *, tab: str) -> HttpResponse:
    return render(request, template, {"tabs": _tabs(request.staff_member, tab), **context})


def _confirm(request, *, title: str, consequence: str, button: str, action_url: str, cancel_url: str, tab: str):
    context = {"title": title, "consequence": consequence, "button": button, "action_url": action_url}
    return _page(request, "referrals/staff/confirm.html", {**context, "cancel_url": cancel_url}, tab=tab)


# ---------------------------------------------------------------- the activity log (managers and owners)


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as typed: text starting like a formula is quoted so it is not run."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_rows(rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([csv_cell(cell) for cell in row])


def rewards_text(referral: Referral) -> str:
    parts = []
    for reward in referral.rewards.all():
        text = f"{reward.get_role_display()}: {reward.label}"
        parts.append(f"{text} (taken back)" if reward.reversed_at else text)
    return "; ".join(parts)


LOG_COLUMNS = [
    "Referral",
    "Joined",
    "Code",
    "Owner kind",
    "Owner",
    "Referred patient",
    "Referred patient id",
    "Status",
    "Reason",
    "Source",
    "Qualified",
    "Rewarded",
    "Reversed",
    "Rewards",
]


def _log_csv(referrals, practice: Practice) -> StreamingHttpResponse:
    # Kept for the rows, which are written after the request's middleware is done (and its zone gone).
    zone = timezone.get_current_timezone()

    def when(moment) -> str:
        return f"{timezone.localtime(moment, zone):%Y-%m-%d %H:%M}" if moment else ""

    def rows() -> Iterator[list]:
        yield LOG_COLUMNS
        for referral in referrals.iterator(chunk_size=500):
            code = referral.code
            yield [
                referral.pk,
                when(referral.created_at),
                referral.code_used,
                code.get_owner_kind_display() if code else "Unknown code",
                code.owner_name if code else "",
                str(referral.referred),
                referral.referred_id,
                referral.get_status_display(),
                referral.get_reason_display() if referral.reason else "",
                referral.get_source_display(),
                when(referral.qualified_at),
                when(referral.rewarded_at),
                when(referral.reversed_at),
                rewards_text(referral),
            ]

    filename = f"referrals-{practice.slug}-{timezone.localdate(timezone=zone):%Y-%m-%d}.csv"
    response = StreamingHttpResponse(_csv_rows(rows()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@manager_required
def overview(request):
    """The referral activity log: every code used at sign-up, filtered, with counts; `?format=csv` exports it."""
    practice = current_practice()
    filters = ReferralFilterForm(request.GET)
    filters.is_valid()
    data = filters.cleaned_data
    referrals = staff_selectors.referral_log(
        status=data.get("status", ""),
        owner_kind=data.get("owner_kind", ""),
        source=data.get("source", ""),
        since=data.get("since"),
        until=data.get("until"),
        query=data.get("q", ""),
    )
    if request.GET.get("format") == "csv":
        return _log_csv(referrals, practice)
    page = Paginator(referrals, LOG_PER_PAGE).get_page(request.GET.get("page"))
    filtered = any(data.values())
    return _page(
        request,
        "referrals/staff/activity.html",
        {
            "filters": filters,
            "page": page,
            "summary": staff_selectors.log_summary(referrals),
            "filtered": filtered,
            "page_query": query_string(request, page=None, format=None),
            "csv_query": query_string(request, page=None, format="csv"),
            "program": services.referral_settings(),
        },
        tab="activity",
    )


# ---------------------------------------------------------------- program settings and milestones (owner)


def _reward_text(values: dict, prefix: str) -> str:
    spec = services.RewardSpec(
        kind=values[f"{prefix}_reward_kind"],
        points=values[f"{prefix}_points"],
        credit_cents=values[f"{prefix}_credit_cents"],
        percent_off=values[f"{prefix}_percent_off"],
    )
    return spec.label if spec.gives_something else "nothing"


SETTINGS_DESCRIPTIONS = [
    ("referrals", lambda v: "on" if v["enabled"] else "off"),
    ("referrer reward", lambda v: _reward_text(v, "referrer")),
    ("new-patient reward", lambda v: _reward_text(v, "referee")),
    ("minimum qualifying purchase", lambda v: money(v["min_purchase_cents"])),
    ("yearly limit", lambda v: f"{format_number(v['yearly_limit'])} per referrer" if v["yearly_limit"] else "no limit"),
    ("staff referrals", lambda v: "rewarded" if v["reward_staff_referrals"] else "counted only"),
    ("clawback", lambda v: f"{v['clawback_days']} days" if v["clawback_days"] else "never"),
]


def settings_changes(before: dict, after: dict) -> list[str]:
    """ "new-patient reward: 250 points → $25.00 credit", for each setting that changed."""
    changes = []
    for label, describe in SETTINGS_DESCRIPTIONS:
        old, new = describe(before), describe(after)
        if old != new:
            changes.append(f"{label}: {old} → {new}")
    return changes


def _settings_values(row: ReferralSettings) -> dict:
    return {name: getattr(row, name) for name in services.SETTINGS_FIELDS}


def _settings_page(request, form, milestone_form, status: int = 200):
    current = services.referral_settings()
    response = _page(
        request,
        "referrals/staff/settings.html",
        {
            "form": form,
            "milestone_form": milestone_form,
            "milestones": list(Milestone.objects.order_by("count")),
            "settings": current,
        },
        tab="settings",
    )
    response.status_code = status
    return response


@owner_required
def program_settings(request):
    current = services.referral_settings()
    form = ReferralSettingsForm(request.POST or None, initial=ReferralSettingsForm.initial_from(current))
    if request.method == "POST" and form.is_valid():
        before = _settings_values(current)
        values = form.service_values()
        services.update_referral_settings(actor=request.user, **values)
        changes = settings_changes(before, {**before, **values})
        if changes:
            messages.success(request, "Referral settings saved. Changed: " + "; ".join(changes) + ".")
        else:
            messages.info(request, "Referral settings saved: nothing changed.")
        return redirect("referrals:settings")
    return _settings_page(request, form, MilestoneForm(auto_id="id_milestone_%s"))


@owner_required
@require_POST
def milestone_add(request):
    form = MilestoneForm(request.POST, auto_id="id_milestone_%s")
    if form.is_valid():
        try:
            milestone = services.save_milestone(milestone=None, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request,
                f"Milestone added: {format_number(milestone.points)} bonus points at {milestone.count} referrals.",
            )
            return redirect(f"{reverse('referrals:settings')}#milestones-heading")
    current = services.referral_settings()
    settings_form = ReferralSettingsForm(initial=ReferralSettingsForm.initial_from(current))
    return _settings_page(request, settings_form, form)


@owner_required
def milestone_edit(request, milestone_id: int):
    milestone = get_object_or_404(Milestone, pk=milestone_id)
    form = MilestoneForm(request.POST or None, milestone=milestone)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_milestone(milestone=milestone, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request, f"Milestone saved: {format_number(saved.points)} bonus points at {saved.count} referrals."
            )
            return redirect(f"{reverse('referrals:settings')}#milestones-heading")
    return _page(
        request,
        "referrals/staff/edit_form.html",
        {
            "form": form,
            "title": f"Edit the milestone at {milestone.count} referrals",
            "back_url": f"{reverse('referrals:settings')}#milestones-heading",
            "back_label": "Referral settings",
            "submit_label": "Save",
            "delete_url": reverse("referrals:milestone_delete", args=[milestone.pk]),
            "delete_label": "Delete this milestone",
        },
        tab="settings",
    )


@owner_required
def milestone_delete(request, milestone_id: int):
    milestone = get_object_or_404(Milestone, pk=milestone_id)
    if request.method == "POST":
        services.delete_milestone(milestone=milestone, actor=request.user)
        messages.success(request, f"The milestone at {milestone.count} referrals was deleted.")
        return redirect(f"{reverse('referrals:settings')}#milestones-heading")
    return _confirm(
        request,
        title=f"Delete the milestone at {milestone.count} referrals?",
        consequence=(
            f"Referrers will no longer get {format_number(milestone.points)} bonus points "
            f"for their {milestone.count}th "
            "qualified referral. Bonuses already given are kept."
        ),
        button="Delete the milestone",
        action_url=reverse("referrals:milestone_delete", args=[milestone.pk]),
        cancel_url=reverse("referrals:milestone_edit", args=[milestone.pk]),
        tab="settings",
    )


# ---------------------------------------------------------------- partners (managers and owners)


@manager_required
def partner_list(request):
    status = request.GET.get("status", "")
    status = status if status in ("active", "inactive") else ""
    query = request.GET.get("q", "").strip()[:100]
    partners = staff_selectors.partners_with_counts(status=status, query=query)
    page = Paginator(partners, PARTNERS_PER_PAGE).get_page(request.GET.get("page"))
    return _page(
        request,
        "referrals/staff/partner_list.html",
        {
            "page": page,
            "status": status,
            "query": query,
            "filtered": bool(status or query),
            "has_partners": bool(page.object_list) or Partner.objects.exists(),
            "page_query": query_string(request, page=None),
        },
        tab="partners",
    )


@manager_required
def partner_edit(request, partner_id: int | None = None):
    partner = get_object_or_404(Partner.objects.select_related("referral_code"), pk=partner_id) if partner_id else None
    program = services.referral_settings()
    form = PartnerForm(request.POST or None, instance=partner, program=program)
    if request.method == "POST" and form.is_valid():
        saved = services.save_partner(partner=form.partner(), actor=request.user)
        code = saved.referral_code
        if partner:
            messages.success(request, f"{saved.name} was saved.")
        else:
            messages.success(request, f"{saved.name} was added with the referral code {code.code}.")
        return redirect("referrals:partner_list")
    context = {
        "form": form,
        "partner": partner,
        "title": f"Edit {partner.name}" if partner else "Add a partner",
        "submit_label": "Save" if partner else "Add the partner",
    }
    if partner is not None:
        code = getattr(partner, "referral_code", None)
        context.update(
            {
                "code": code,
                "share_url": services.share_url(code, source="link") if code else "",
                "counts": staff_selectors.partners_with_counts().get(pk=partner.pk),
            }
        )
    return _page(request, "referrals/staff/partner_form.html", context, tab="partners")


@manager_required
def partner_toggle(request, partner_id: int):
    partner = get_object_or_404(Partner.objects.select_related("referral_code"), pk=partner_id)
    code = getattr(partner, "referral_code", None)
    code_text = f" {code.code}" if code else ""
    if request.method == "POST":
        partner.is_active = not partner.is_active
        services.save_partner(partner=partner, actor=request.user)
        if partner.is_active:
            messages.success(
                request, f"{partner.name} was reactivated: sign-ups with their code{code_text} count again."
            )
        else:
            messages.success(
                request, f"{partner.name} was deactivated: sign-ups with their code{code_text} are no longer counted."
            )
        return redirect("referrals:partner_list")
    if partner.is_active:
        title, button = f"Deactivate {partner.name}?", "Deactivate"
        consequence = (
            f"Their code{code_text} stops working: new patients who join with it are not counted as referrals "
            "(they still join). Referrals made so far, and their rewards, are kept."
        )
    else:
        title, button = f"Reactivate {partner.name}?", "Reactivate"
        consequence = f"Their code{code_text} works again for new sign-ups. Earlier sign-ups are not changed."
    return _confirm(
        request,
        title=title,
        consequence=consequence,
        button=button,
        action_url=reverse("referrals:partner_toggle", args=[partner.pk]),
        cancel_url=reverse("referrals:partner_list"),
        tab="partners",
    )


# ---------------------------------------------------------------- the leaderboard (everyone)


def _board_context(request) -> dict:
    board = staff_selectors.leaderboard(
        period=request.GET.get("period", "month"),
        ranking=request.GET.get("rank", "qualified"),
        me=request.staff_member,
    )
    params = {"period": board.period, "rank": board.ranking}
    return {
        "board": board,
        "periods": staff_selectors.PERIODS,
        "rankings": staff_selectors.RANKINGS,
        "board_query": "&".join(f"{key}={value}" for key, value in params.items()),
        "tv": request.GET.get("tv") == "1",
        "refresh_seconds": TV_REFRESH_SECONDS,
        "updated_at": timezone.now(),
    }


@staff_required
def leaderboard(request):
    """Staff, partners and top patient referrers for this month, quarter, year or all time; `?tv=1` is the
    full-screen version for a screen in the break room, which fetches its tables again every minute."""
    context = _board_context(request)
    if context["tv"]:
        return render(request, "referrals/staff/leaderboard_tv.html", context)
    own = getattr(request.staff_member, "referral_code", None)
    return _page(request, "referrals/staff/leaderboard.html", {**context, "own_code": own}, tab="leaderboard")


@staff_required
def _board_fragment(request):
    return render(request, "referrals/staff/_leaderboard_board.html", _board_context(request))


def leaderboard_board(request):
    """The leaderboard's tables alone, for the TV page to fetch. When the sign-in has lapsed, the TV page is
    told to reload itself (and so shows the sign-in page) instead of showing it inside the board."""
    member = staff_member_of(request.user)
    if request.headers.get("HX-Request") and (member is None or member.must_change_password):
        return HttpResponse(status=204, headers={"HX-Refresh": "true"})
    return _board_fragment(request)


# ---------------------------------------------------------------- QR codes and posters


def _practice_file(practice: Practice, name: str) -> str:
    return f"{practice.slug}-{name}"


def _download(content: bytes | str, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=300"
    return response


def _reachable_code(request, code_text: str) -> ReferralCode:
    """The code, if this staff member may print it: their own, any patient's (from the patient page), and
    every code for managers and owners."""
    code = staff_selectors.code_by_text(code_text)
    if code is None:
        raise Http404("No such referral code.")
    member = request.staff_member
    if member.has_role(Role.MANAGER) or code.patient_id or code.staff_id == member.pk:
        return code
    raise PermissionDenied("Managers and owners print other staff members' and partners' codes.")


def _code_label(code: ReferralCode) -> str:
    if code.owner_kind == ReferralCode.OwnerKind.PATIENT:
        return f"{code.owner_name}'s referral code {code.code}"
    return f"{code.get_owner_kind_display()} {code.owner_name}'s referral code {code.code}"


@staff_required
def qr_index(request):
    """The practice's invite QR code and one per staff member and partner (managers and owners); every
    staff member finds their own here."""
    member = request.staff_member
    own = code_for_staff(member)
    practice = current_practice()
    context = {
        "own_code": own,
        "own_url": services.share_url(own, source="qr", practice=practice),
        "own_qr": qr_svg_inline(services.share_url(own, source="qr", practice=practice), "Your referral QR code"),
        "is_manager": member.has_role(Role.MANAGER),
    }
    if context["is_manager"]:
        join = services.join_url(practice, source="qr")
        context.update(
            {
                "join_url": join,
                "join_qr": qr_svg_inline(join, f"QR code to join {practice.name}"),
                "members": list(staff_selectors.staff_codes()),
                "partners": list(staff_selectors.partner_codes()),
            }
        )
    return _page(request, "referrals/staff/qr_index.html", context, tab="qr")


@manager_required
def practice_qr_png(request):
    practice = current_practice()
    png = qr_png(services.join_url(practice, source="qr"), practice=practice)
    return _download(png, content_type="image/png", filename=_practice_file(practice, "join-qr.png"))


@manager_required
def practice_qr_svg(request):
    practice = current_practice()
    svg = qr_svg(services.join_url(practice, source="qr"))
    return _download(svg, content_type="image/svg+xml", filename=_practice_file(practice, "join-qr.svg"))


@staff_required
def code_qr_png(request, code: str):
    found = _reachable_code(request, code)
    practice = current_practice()
    png = qr_png(services.share_url(found, source="qr", practice=practice), practice=practice)
    return _download(png, content_type="image/png", filename=_practice_file(practice, f"{found.code}-qr.png"))


@staff_required
def code_qr_svg(request, code: str):
    found = _reachable_code(request, code)
    practice = current_practice()
    svg = qr_svg(services.share_url(found, source="qr", practice=practice))
    return _download(svg, content_type="image/svg+xml", filename=_practice_file(practice, f"{found.code}-qr.svg"))


def _offer(code: ReferralCode | None, program: ReferralSettings) -> str:
    """ "new patients get 250 points", or "" when the code brings the new patient nothing."""
    if code is None or not program.enabled:
        return ""
    spec = services.referee_spec(code, program)
    return f"new patients get {spec.label}" if spec.gives_something else ""


def _display_url(url: str) -> str:
    return url.split("://", 1)[-1]


@manager_required
def practice_poster(request):
    practice = current_practice()
    url = services.join_url(practice, source="qr")
    return render(
        request,
        "referrals/staff/poster.html",
        {
            "qr": qr_svg_inline(url, f"QR code to join {practice.name}"),
            "headline": f"Scan to join {practice.name} rewards",
            "subline": "Earn points on every visit and turn them into rewards.",
            "code_label": "Invite code",
            "code_text": practice.invite_code or "",
            "display_url": _display_url(url),
            "png_url": reverse("referrals:practice_qr_png"),
            "svg_url": reverse("referrals:practice_qr_svg"),
            "back_url": reverse("referrals:qr_index"),
        },
    )


@staff_required
def code_poster(request, code: str):
    found = _reachable_code(request, code)
    practice = current_practice()
    program = services.referral_settings()
    url = services.share_url(found, source="qr", practice=practice)
    offer = _offer(found, program)
    warnings = []
    if not program.enabled:
        warnings.append("Referrals are turned off: sign-ups with this code are not counted right now.")
    if not services._code_is_active(found):  # the rule record_signup applies
        warnings.append("This code is not active: sign-ups with it are not counted.")
    if found.owner_kind == ReferralCode.OwnerKind.PARTNER:
        subline = f"With {found.owner_name}'s code"
    else:
        subline = f"Invited by {found.owner_first_name}" if found.owner_first_name else ""
    if found.patient_id:
        back_url = f"{reverse('patients:staff_patient_detail', args=[found.patient_id])}#referrals-heading"
    else:
        back_url = reverse("referrals:qr_index")
    return render(
        request,
        "referrals/staff/poster.html",
        {
            "qr": qr_svg_inline(url, _code_label(found)),
            "headline": f"Scan to join {practice.name} rewards" + (f" — {offer}" if offer else ""),
            "subline": subline,
            "code_label": "Referral code",
            "code_text": found.code,
            "display_url": _display_url(url),
            "warnings": warnings,
            "png_url": reverse("referrals:code_qr_png", args=[found.code]),
            "svg_url": reverse("referrals:code_qr_svg", args=[found.code]),
            "back_url": back_url,
        },
    )


# ---------------------------------------------------------------- the patient page


def patient_panel_context(request, patient: Patient) -> dict:
    """The referral panel of the staff patient page: the patient's code, the referral they joined with,
    the friends they referred, and past escalations; managers and owners also get the two actions."""
    member = staff_member_of(request.user)
    can_manage = bool(member and member.has_role(Role.MANAGER))
    practice = current_practice()
    data = staff_selectors.patient_referrals(patient=patient, practice=practice)
    escalation_form = None
    if can_manage:
        escalation_form = EscalationForm(patient=patient, auto_id="id_escalate_%s")
    program = services.referral_settings()
    return {
        "data": data,
        "can_manage": can_manage,
        "escalation_form": escalation_form,
        "program": program,
        "min_purchase": money(program.min_purchase_cents),
    }


@manager_required
def patient_escalate(request, patient_id: int):
    """Ask platform support to look at a patient's referrals (a row in the platform's schema)."""
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    form = EscalationForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        try:
            escalation = services.escalate(
                patient=patient,
                message=form.cleaned_data["message"],
                actor=request.user,
                referral=form.cleaned_data.get("referral"),
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request,
                f"Escalated to platform support (#{escalation.pk}). Its status shows in the referrals panel below.",
            )
            return redirect(f"{reverse('patients:staff_patient_detail', args=[patient.pk])}#referrals-heading")
    return render(
        request,
        "referrals/staff/escalate_form.html",
        {"patient": patient, "form": form, "title": f"Escalate {patient}'s referrals to platform support"},
    )
