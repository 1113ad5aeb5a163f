"""The owner's security page: require two-factor of every staff member, see who has it, reset a lost phone's."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache

from .errors import PracticeError
from .models import StaffMember
from .roles import staff_required
from .selectors import current_practice
from .two_factor import (
    recent_security_events,
    reset_staff_two_factor,
    set_staff_two_factor_required,
    staff_two_factor_overview,
)


class RequirementForm(forms.Form):
    staff_two_factor_required = forms.BooleanField(
        label="Require two-factor authentication for all staff",
        required=False,
        help_text="Staff who have not set it up are asked to do so before they can open any staff page.",
    )


@never_cache
@staff_required(role=StaffMember.Role.OWNER)
def security_settings(request):
    practice = current_practice()
    # An unticked box sends nothing: a POST with no fields is still the form, sent.
    data = request.POST if request.method == "POST" else None
    form = RequirementForm(data, initial={"staff_two_factor_required": practice.staff_two_factor_required})
    if request.method == "POST" and form.is_valid():
        required = form.cleaned_data["staff_two_factor_required"]
        set_staff_two_factor_required(required=required, actor=request.user)
        if required:
            messages.success(request, "Two-factor authentication is now required for all staff.")
        else:
            messages.success(request, "Two-factor authentication is no longer required (staff may still use it).")
        return redirect("practices:security_settings")
    context = {"form": form, "members": staff_two_factor_overview(), "events": recent_security_events()}
    return render(request, "practices/security.html", context)


@never_cache
@staff_required(role=StaffMember.Role.OWNER)
def reset_member_two_factor(request, member_id: int):
    """GET asks to confirm; POST removes the member's authenticator app and recovery codes."""
    member = get_object_or_404(StaffMember.objects.select_related("user"), pk=member_id, is_active=True)
    name = member.user.get_full_name() or member.user.email
    back = _back(request)
    if request.method == "POST":
        try:
            done = reset_staff_two_factor(member=member, actor=request.user)
        except PracticeError as error:
            messages.error(request, error.message)
        else:
            if done:
                messages.success(
                    request,
                    f"{name}'s two-factor authentication was reset: they set it up again at their next sign-in.",
                )
            else:
                messages.info(request, f"{name} has no two-factor authentication to reset.")
        return redirect(back)
    return render(
        request,
        "staff/confirm.html",
        {
            "title": f"Reset {name}'s two-factor authentication?",
            "consequence": (
                "Do this when they lost their phone. Their authenticator app and recovery codes stop working; they "
                "sign in with their password alone and then set up two-factor again"
                + (" before anything else." if current_practice().staff_two_factor_required else ".")
            ),
            "button": "Reset two-factor",
            "action_url": reverse("practices:two_factor_reset", args=[member.pk])
            + ("" if back == reverse("practices:security_settings") else f"?{urlencode({'next': back})}"),
            "cancel_url": back,
        },
    )


def _back(request) -> str:
    """Where the reset returns to: the staff page that linked to it (`next`, e.g. the team page), else Security."""
    target = request.GET.get("next", "")
    if target.startswith("/staff/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("practices:security_settings")
