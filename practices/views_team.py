"""The owner's team pages (/staff/team/) and the page an invitation link opens (/staff/invite/<token>/)."""

from django import forms
from django.contrib import messages
from django.contrib.auth import logout, password_validation
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.models import User

from . import team
from .errors import InviteLinkUnusable, TeamError
from .models import StaffInvite, StaffMember
from .page_helpers import add_domain_error
from .roles import staff_required
from .selectors import current_practice

Role = StaffMember.Role
OWNER = Role.OWNER
VALID_DAYS_CHOICES = [(days, f"{days} day{'s' if days != 1 else ''}") for days in team.INVITE_VALID_DAYS_CHOICES]


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput({"autocomplete": "off"}),
        error_messages={
            "required": "Enter the email address to send the invitation to.",
            "invalid": "Enter a valid email address, e.g. dana@yourclinic.com.",
        },
    )
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    role = forms.ChoiceField(
        label="Role",
        choices=Role.choices,
        initial=Role.FRONT_DESK,
        help_text="Front desk: checkout, patients, vouchers. Manager: also rewards, catalog, reports. "
        "Owner: everything, including the team and settings.",
        error_messages={"required": "Choose a role.", "invalid_choice": "Choose a role from the list."},
    )
    valid_days = forms.TypedChoiceField(
        label="The link works for",
        coerce=int,
        choices=VALID_DAYS_CHOICES,
        initial=team.INVITE_VALID_DAYS,
        error_messages={"invalid_choice": "Choose how long the link works from the list."},
    )


class ResendForm(forms.Form):
    valid_days = forms.TypedChoiceField(
        label="The new link works for",
        coerce=int,
        choices=VALID_DAYS_CHOICES,
        initial=team.INVITE_VALID_DAYS,
        required=False,
        empty_value=team.INVITE_VALID_DAYS,
        error_messages={"invalid_choice": "Choose how long the link works from the list."},
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(
        label="Role",
        choices=Role.choices,
        error_messages={"required": "Choose a role.", "invalid_choice": "Choose a role from the list."},
    )


class AcceptForm(forms.Form):
    first_name = forms.CharField(label="First name", max_length=150)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    password1 = forms.CharField(
        label="Choose a password",
        strip=False,
        widget=forms.PasswordInput({"autocomplete": "new-password"}),
        help_text="At least 8 characters; not only digits, not a common password, not like your name or email.",
        error_messages={"required": "Choose a password."},
    )
    password2 = forms.CharField(
        label="The password again",
        strip=False,
        widget=forms.PasswordInput({"autocomplete": "new-password"}),
        error_messages={"required": "Type the password again, to be sure it is the one you meant."},
    )

    def __init__(self, *args, invite: StaffInvite, **kwargs):
        super().__init__(*args, **kwargs)
        self.invite = invite
        self.fields["first_name"].error_messages["required"] = "Enter your first name, as your colleagues know you."

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords are not the same. Type them again.")
        elif first:
            user = User(
                email=self.invite.email, first_name=data.get("first_name", ""), last_name=data.get("last_name", "")
            )
            try:
                password_validation.validate_password(first, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


# ---------------------------------------------------------------- the owner's pages


def _team_page(request, *, form: InviteForm | None = None, status: int = 200):
    now = timezone.now()
    invites = [(invite, invite.status_at(now)) for invite in team.open_invites()]
    context = {
        "members": team.team_members(),
        "invites": invites,
        "form": form or InviteForm(),
        "statuses": StaffInvite.Status,
    }
    return render(request, "practices/team/team.html", context, status=status)


@never_cache
@staff_required(role=OWNER)
def team_page(request):
    return _team_page(request)


@never_cache
@staff_required(role=OWNER)
def invite(request):
    """GET shows the form alone; POST invites (the team page shows the same form)."""
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sent = team.invite_staff(actor=request.user, **form.cleaned_data)
        except TeamError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request,
                f"Invitation sent to {sent.email}. The link works until "
                f"{timezone.localtime(sent.expires_at):%B %-d, %Y}; you can send it again or withdraw it below.",
            )
            return redirect("practices:team")
    return render(request, "practices/team/invite.html", {"form": form}, status=400 if form.errors else 200)


def _open_invite(invite_id: int) -> StaffInvite:
    return get_object_or_404(StaffInvite, pk=invite_id, accepted_at__isnull=True, revoked_at__isnull=True)


@never_cache
@staff_required(role=OWNER)
def invite_resend(request, invite_id: int):
    """GET asks to confirm (and how long the new link works); POST sends a new link, the old one stops working."""
    pending = _open_invite(invite_id)
    form = ResendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sent = team.resend_invite(actor=request.user, invite=pending, valid_days=form.cleaned_data["valid_days"])
        except TeamError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"A new invitation was sent to {sent.email}; the link in the earlier email no longer works.",
            )
        return redirect("practices:team")
    return render(
        request, "practices/team/resend.html", {"invite": pending, "form": form}, status=400 if form.errors else 200
    )


@never_cache
@staff_required(role=OWNER)
def invite_revoke(request, invite_id: int):
    """GET asks to confirm; POST withdraws the invitation."""
    pending = _open_invite(invite_id)
    if request.method == "POST":
        try:
            team.revoke_invite(actor=request.user, invite=pending)
        except TeamError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"The invitation to {pending.email} was withdrawn: its link no longer works.")
        return redirect("practices:team")
    return render(
        request,
        "staff/confirm.html",
        {
            "title": f"Withdraw the invitation to {pending.email}?",
            "consequence": "The link in the email stops working. You can invite them again later.",
            "button": "Withdraw the invitation",
            "action_url": reverse("practices:invite_revoke", args=[pending.pk]),
            "cancel_url": reverse("practices:team"),
            "cancel_label": "Keep it",
        },
    )


def _member(member_id: int) -> StaffMember:
    return get_object_or_404(team.team_members(), pk=member_id)


def _name(member: StaffMember) -> str:
    return member.user.get_full_name() or member.user.email


@never_cache
@staff_required(role=OWNER)
def member_page(request, member_id: int):
    """One member: their role (POST changes it), and the links to deactivate, reactivate or reset two-factor."""
    member = _member(member_id)
    form = RoleForm(request.POST or None, initial={"role": member.role})
    if request.method == "POST" and form.is_valid():
        try:
            changed = team.change_role(actor=request.user, member=member, role=form.cleaned_data["role"])
        except TeamError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"{_name(changed)} is now {changed.get_role_display().lower()}.")
            if changed.user_id == request.user.pk and changed.role != OWNER:
                return redirect("practices:staff_dashboard")  # no longer allowed on the team pages
            return redirect("practices:team")
    context = {"member": member, "form": form, "is_me": member.user_id == request.user.pk}
    return render(request, "practices/team/member.html", context, status=400 if form.errors else 200)


@never_cache
@staff_required(role=OWNER)
def member_deactivate(request, member_id: int):
    """GET asks to confirm; POST deactivates: the member's sessions end at once."""
    member = _member(member_id)
    if request.method == "POST":
        try:
            team.deactivate_member(actor=request.user, member=member)
        except TeamError as error:
            messages.error(request, error.message)
            return redirect("practices:team_member", member_id=member.pk)
        if member.user_id == request.user.pk:
            logout(request)  # the session itself is gone already: start this browser afresh
            messages.success(request, "Your account was deactivated and signed out everywhere.")
            return redirect("account_login")
        messages.success(request, f"{_name(member)} was deactivated and signed out everywhere.")
        return redirect("practices:team")
    if not member.is_active:
        messages.info(request, f"{_name(member)} is already deactivated.")
        return redirect("practices:team_member", member_id=member.pk)
    me = member.user_id == request.user.pk
    return render(
        request,
        "staff/confirm.html",
        {
            "title": "Deactivate your own account?" if me else f"Deactivate {_name(member)}?",
            "consequence": (
                "You are signed out now, on every device, and can no longer sign in. Your account, role and history "
                "are kept: another owner can reactivate it later."
                if me
                else f"{_name(member)} is signed out now, on every device, and can no longer sign in. Their account, "
                "role and history are kept: an owner can reactivate it later."
            ),
            "button": "Deactivate",
            "action_url": reverse("practices:team_member_deactivate", args=[member.pk]),
            "cancel_url": reverse("practices:team_member", args=[member.pk]),
        },
    )


@never_cache
@staff_required(role=OWNER)
def member_reactivate(request, member_id: int):
    """POST lets a deactivated member sign in again (the member page has the button); GET goes to that page."""
    member = _member(member_id)
    if request.method == "POST":
        try:
            team.reactivate_member(actor=request.user, member=member)
        except TeamError as error:
            messages.error(request, error.message)
            return redirect("practices:team_member", member_id=member.pk)
        messages.success(
            request, f"{_name(member)} can sign in again, as {member.get_role_display().lower()}, with their password."
        )
        return redirect("practices:team")
    return redirect("practices:team_member", member_id=member.pk)


# ---------------------------------------------------------------- the invitation link


@never_cache
def invite_accept(request, token: str):
    """The page an invitation link opens: the invited person chooses their password, then signs in."""
    try:
        pending = team.invite_for_link(token)
    except InviteLinkUnusable as error:
        return _unusable(request, error)
    form = AcceptForm(
        request.POST or None,
        invite=pending,
        initial={"first_name": pending.first_name, "last_name": pending.last_name},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            member = team.accept_invite(
                token=token, password=data["password1"], first_name=data["first_name"], last_name=data["last_name"]
            )
        except InviteLinkUnusable as error:
            return _unusable(request, error)
        except TeamError as error:
            add_domain_error(form, error)
        else:
            if request.user.is_authenticated:
                logout(request)  # someone else's session on this browser: the new member signs in as themselves
            practice = current_practice()
            then = (
                " You will then set up two-factor authentication, which the practice requires."
                if practice.staff_two_factor_required
                else ""
            )
            messages.success(
                request,
                f"Welcome to {practice.name}! Your account is ready: sign in with {member.user.email} and your new "
                f"password.{then}",
            )
            return redirect("account_login")
    context = {"invite": pending, "form": form, "two_factor_required": current_practice().staff_two_factor_required}
    return render(request, "practices/team/accept.html", context, status=400 if form.errors else 200)


def _unusable(request, error: InviteLinkUnusable):
    return render(request, "practices/team/invite_unusable.html", {"error": error}, status=error.status)
