"""Staff pages of rewards: the reward list and its editor (managers and owners), the voucher desk where
vouchers are checked and marked used (front desk and above), and redeeming a reward for a patient."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from patients.models import Patient
from practices.errors import DomainError
from practices.formatting import format_number
from practices.models import StaffMember
from practices.page_helpers import query_string
from practices.roles import staff_member_of, staff_required

from . import staff_selectors, staff_services
from .forms import MoveForm, RedeemForm, RewardForm, RewardSettingsForm, VoucherCodeForm, VoucherFilterForm
from .models import Redemption, Reward
from .selectors import patient_vouchers, redeemed_with_form
from .services import find_voucher, redeem_reward, reward_settings
from .submit_once import form_token, new_token

Role = StaffMember.Role
manager_required = staff_required(role=Role.MANAGER)
PANEL_VOUCHERS = 20


def _practice_datetime(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%b %-d, %Y, %-I:%M %p}"


def _staff_name(user) -> str:
    return user.get_full_name() or user.email or "a staff member"


def used_text(redemption: Redemption) -> str:
    """ "Already used on Mar 3, 2025, 4:05 PM by Dana Smith." (practice time)"""
    if redemption.used_by:
        who = _staff_name(redemption.used_by)
    else:
        who = "the point of sale" if redemption.used_via == "pos" else "a former staff member"
    return f"Already used on {_practice_datetime(redemption.used_at)} by {who}."


def _confirm(request, *, title: str, consequence: str, button: str, action_url: str, cancel_url: str, **extra):
    context = {"title": title, "consequence": consequence, "button": button, "action_url": action_url}
    return render(request, "staff/confirm.html", {**context, "cancel_url": cancel_url, **extra})


# ---------------------------------------------------------------- rewards (managers and owners)


@manager_required
def reward_list(request):
    return render(request, "rewards/staff/reward_list.html", {"rewards": list(staff_selectors.rewards_with_counts())})


@manager_required
@require_POST
def reward_move(request, reward_id: int):
    reward = get_object_or_404(Reward, pk=reward_id)
    form = MoveForm(request.POST)
    if form.is_valid():
        staff_services.move_reward(reward=reward, direction=form.cleaned_data["direction"], actor=request.user)
    return redirect(f"{reverse('rewards:staff_reward_list')}#reward-{reward.pk}")


@manager_required
def reward_edit(request, reward_id: int | None = None):
    reward = get_object_or_404(Reward, pk=reward_id) if reward_id else None
    title = f"Edit {reward.name}" if reward else "Add a reward"
    form = RewardForm(request.POST or None, request.FILES or None, instance=reward)
    if request.method == "POST" and form.is_valid():
        saved = staff_services.save_reward(reward=reward, actor=request.user, **form.service_values())
        messages.success(request, f"Reward “{saved.name}” was {'saved' if reward else 'added'}.")
        return redirect("rewards:staff_reward_list")
    return render(
        request,
        "rewards/staff/reward_form.html",
        {
            "form": form,
            "reward": reward,
            "title": title,
            "time_zone": timezone.get_current_timezone_name(),
            "submit_label": "Save" if reward else "Add the reward",
        },
    )


@manager_required
def reward_toggle(request, reward_id: int):
    reward = get_object_or_404(Reward, pk=reward_id)
    if request.method == "POST":
        reward = staff_services.set_reward_active(reward=reward, is_active=not reward.is_active, actor=request.user)
        state = "activated: patients can redeem it" if reward.is_active else "deactivated: patients can't redeem it"
        messages.success(request, f"“{reward.name}” was {state}.")
        return redirect("rewards:staff_reward_list")
    if reward.is_active:
        title, button = f"Deactivate {reward.name}?", "Deactivate"
        consequence = "Patients can no longer redeem it. Vouchers already issued for it can still be used."
    else:
        title, button = f"Activate {reward.name}?", "Activate"
        consequence = "Patients can redeem it again (within its dates, stock and tier)."
    return _confirm(
        request,
        title=title,
        consequence=consequence,
        button=button,
        action_url=reverse("rewards:reward_toggle", args=[reward.pk]),
        cancel_url=reverse("rewards:staff_reward_list"),
    )


@manager_required
def reward_delete(request, reward_id: int):
    reward = get_object_or_404(Reward, pk=reward_id)
    if request.method == "POST":
        if staff_services.remove_reward(reward=reward, actor=request.user):
            messages.success(request, f"“{reward.name}” was deleted.")
        else:
            messages.success(request, f"“{reward.name}” was deactivated: it has vouchers, so it is kept.")
        return redirect("rewards:staff_reward_list")
    if staff_selectors.has_redemptions(reward=reward):
        title, button = f"Deactivate {reward.name}?", "Deactivate"
        consequence = (
            "Patients have redeemed this reward, so it can't be deleted: it will be deactivated instead. "
            "Their vouchers still show it and can still be used."
        )
    else:
        title, button = f"Delete {reward.name}?", "Delete"
        consequence = "It has never been redeemed, so it will be deleted for good."
    return _confirm(
        request,
        title=title,
        consequence=consequence,
        button=button,
        action_url=reverse("rewards:reward_delete", args=[reward.pk]),
        cancel_url=reverse("rewards:reward_edit", args=[reward.pk]),
    )


# ---------------------------------------------------------------- the voucher desk


def _voucher_url(code: str) -> str:
    return f"{reverse('rewards:voucher_redeem')}?{urlencode({'code': code})}"


def _unusable_reason(voucher: Redemption, now: datetime) -> str:
    if voucher.status == Redemption.Status.CANCELLED:
        when = f" on {_practice_datetime(voucher.cancelled_at)}" if voucher.cancelled_at else ""
        return f"This voucher was cancelled{when}: it can't be used."
    if voucher.status == Redemption.Status.EXPIRED or (
        voucher.status == Redemption.Status.ISSUED and voucher.expires_at <= now
    ):
        return f"This voucher expired on {_practice_datetime(voucher.expires_at)}: it can't be used."
    return ""


@staff_required
def voucher_redeem(request):
    """Look a voucher up (GET ?code=), then mark it used: POST once to confirm, again with step=confirm."""
    bound = request.POST if request.method == "POST" else (request.GET if "code" in request.GET else None)
    form = VoucherCodeForm(bound)
    voucher, problem, confirming = None, "", False
    if form.is_bound and form.is_valid():
        try:
            voucher = find_voucher(code=form.cleaned_data["code"])
        except DomainError as error:
            form.add_error("code", error.message)
    now = timezone.now()
    if voucher and request.method == "POST":
        if request.POST.get("step") != "confirm":
            # An unusable voucher gets no confirmation: the page below says why it can't be used.
            confirming = voucher.status == Redemption.Status.ISSUED and voucher.expires_at > now
        else:
            try:
                voucher, used_now = staff_services.use_voucher_by_staff(code=voucher.voucher_code, actor=request.user)
            except DomainError as error:
                problem = error.message
            else:
                if used_now:
                    text = f"Voucher {voucher.voucher_code} was used: {voucher.reward.name} for {voucher.patient}."
                    messages.success(request, text)
                    return redirect(_voucher_url(voucher.voucher_code))
                problem = used_text(voucher)
    member = request.staff_member
    context = {"form": form, "voucher": voucher, "problem": problem, "confirming": confirming}
    if voucher:
        reason = _unusable_reason(voucher, now)
        context.update(
            {
                "used_text": used_text(voucher) if voucher.status == Redemption.Status.USED else "",
                "unusable_reason": reason,
                "can_use": voucher.status == Redemption.Status.ISSUED and not reason,
                "can_cancel": voucher.status == Redemption.Status.ISSUED and member.has_role(Role.MANAGER),
            }
        )
    return render(request, "rewards/staff/voucher_redeem.html", context)


@manager_required
def voucher_cancel(request, redemption_id: int):
    voucher = get_object_or_404(Redemption.objects.select_related("reward", "patient__user"), pk=redemption_id)
    if request.method == "POST":
        try:
            voucher = staff_services.cancel_voucher_by_staff(voucher=voucher, actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"Voucher {voucher.voucher_code} was cancelled: "
                f"{format_number(voucher.points_returned)} points went back "
                f"to {voucher.patient}.",
            )
        return redirect(_voucher_url(voucher.voucher_code))
    return _confirm(
        request,
        title=f"Cancel voucher {voucher.voucher_code}?",
        consequence=(
            f"{voucher.reward.name} for {voucher.patient}. The voucher can no longer be used; "
            f"its {format_number(voucher.points_cost)} points go back to the patient."
        ),
        button="Cancel the voucher",
        action_url=reverse("rewards:voucher_cancel", args=[voucher.pk]),
        cancel_url=_voucher_url(voucher.voucher_code),
        cancel_label="Keep it",
    )


# ---------------------------------------------------------------- redeeming for a patient


def patient_panel_context(request, patient: Patient) -> dict:
    """What the rewards panel on the staff patient page shows: the latest vouchers and the redeem form."""
    member = staff_member_of(request.user)
    form = RedeemForm(auto_id="id_redeem_%s")
    return {
        "vouchers": list(patient_vouchers(patient=patient)[:PANEL_VOUCHERS]),
        "redeem_form": form,
        "has_rewards": form.fields["reward"].queryset.exists(),
        "can_cancel": bool(member and member.has_role(Role.MANAGER)),
        "now": timezone.now(),
    }


@staff_required
@require_POST
def patient_redeem(request, patient_id: int):
    """Redeem in two steps: the first POST shows the cost and the balance after; step=confirm redeems."""
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    form = RedeemForm(request.POST)
    if form.is_valid():
        reward = form.cleaned_data["reward"]
        try:
            if request.POST.get("step") != "confirm":
                preview = staff_selectors.redeem_preview(patient=patient, reward=reward)
                return render(
                    request,
                    "rewards/staff/redeem_confirm.html",
                    {"patient": patient, "reward": reward, "preview": preview, "token": new_token()},
                )
            token = form_token(request.POST.get("token", ""))
            if (already := redeemed_with_form(patient=patient, token=token)) is not None:
                messages.info(request, f"Already redeemed: voucher {already.voucher_code} was issued.")
                return redirect("patients:staff_patient_detail", patient_id=patient.pk)
            redemption = redeem_reward(patient=patient, reward=reward, actor=request.user, form_token=token)
        except DomainError as error:
            form.add_error("reward", error.message)
        else:
            messages.success(
                request,
                f"Voucher {redemption.voucher_code} issued to {patient}: {reward.name} "
                f"for {format_number(redemption.points_cost)} points.",
            )
            return redirect("patients:staff_patient_detail", patient_id=patient.pk)
    return render(request, "rewards/staff/redeem_form.html", {"patient": patient, "form": form})


@staff_required(role=StaffMember.Role.OWNER)
def reward_settings_page(request):
    """The owner decides how long vouchers last and what happens to the points of expired ones."""
    current = reward_settings()
    form = RewardSettingsForm(
        request.POST or None,
        initial={
            "voucher_valid_days": current.voucher_valid_days,
            "refund_expired_vouchers": current.refund_expired_vouchers,
        },
    )
    if request.method == "POST" and form.is_valid():
        staff_services.update_reward_settings(**form.cleaned_data, actor=request.user)
        messages.success(request, "Voucher settings saved.")
        return redirect("rewards:reward_settings")
    return render(request, "rewards/staff/reward_settings.html", {"form": form})


VOUCHERS_PER_PAGE = 50


@staff_required
def voucher_list(request):
    """The vouchers not used yet (by default) or any others, filtered by reward and date of issue, newest first."""
    form = VoucherFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {"status": "outstanding"}
    zone = timezone.get_current_timezone()
    since, until = filters.get("since"), filters.get("until")
    vouchers = staff_selectors.desk_vouchers(
        status=filters["status"],
        reward=filters.get("reward"),
        since=datetime.combine(since, time.min, tzinfo=zone) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone) if until else None,
    )
    page = Paginator(vouchers, VOUCHERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "rewards/staff/voucher_list.html",
        {
            "form": form,
            "page": page,
            "status": filters["status"],
            "page_query": query_string(request, page=None),
            "now": timezone.now(),
        },
    )
