"""Patient pages of rewards: what they can redeem, redeeming, and the vouchers they show at the desk."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from patients.access import patient_required
from practices.errors import DomainError
from practices.formatting import format_number

from .qr import voucher_qr_svg
from .selectors import patient_vouchers, redeemed_with_form, reward_for, rewards_overview
from .services import cancel_redemption, redeem_reward
from .submit_once import form_token, new_token


@patient_required
def rewards(request):
    overview = rewards_overview(patient=request.user.patient)
    return render(request, "rewards/patient/rewards.html", {"overview": overview})


@patient_required
@require_http_methods(["GET", "POST"])
def reward(request, reward_id: int):
    option = reward_for(patient=request.user.patient, reward_id=reward_id)
    if option is None:
        raise Http404("This reward is not offered right now.")
    if request.method == "POST":
        return _redeem(request, option.reward, token=form_token(request.POST.get("token", "")))
    return render(request, "rewards/patient/reward.html", {"option": option, "token": new_token()})


def _redeem(request, reward, *, token: str):
    if (already := redeemed_with_form(patient=request.user.patient, token=token)) is not None:
        messages.info(request, "You already redeemed this reward: here is its voucher.")
        return redirect("rewards:my_voucher", already.pk)
    if not token:
        messages.error(request, "Something went wrong with the form. Please try again.")
        return redirect("rewards:redeem", reward.pk)
    try:
        redemption = redeem_reward(patient=request.user.patient, reward=reward, actor=request.user, form_token=token)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("rewards:redeem", reward.pk)
    messages.success(request, f"Redeemed {reward.name}. Show this voucher at the desk.")
    return redirect("rewards:my_voucher", redemption.pk)


@patient_required
def vouchers(request):
    own = patient_vouchers(patient=request.user.patient)
    rows = [(voucher, voucher_qr_svg(voucher.voucher_code)) for voucher in own]
    return render(request, "rewards/patient/vouchers.html", {"rows": rows, "now": timezone.now()})


@patient_required
def voucher(request, voucher_id: int):
    voucher = get_object_or_404(patient_vouchers(patient=request.user.patient), pk=voucher_id)
    return render(
        request,
        "rewards/patient/voucher.html",
        {"voucher": voucher, "qr_svg": voucher_qr_svg(voucher.voucher_code), "now": timezone.now()},
    )


@patient_required
@require_http_methods(["GET", "POST"])
def voucher_cancel(request, voucher_id: int):
    # Looked up among the patient's own vouchers first: another patient's id is a 404, before any lock.
    voucher = get_object_or_404(patient_vouchers(patient=request.user.patient), pk=voucher_id)
    if request.method == "POST":
        try:
            voucher = cancel_redemption(redemption=voucher, actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, f"Voucher cancelled: {format_number(voucher.points_returned)} points are back with you."
            )
        return redirect("rewards:my_voucher", voucher.pk)
    return render(request, "rewards/patient/voucher_cancel.html", {"voucher": voucher})
