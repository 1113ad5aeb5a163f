"""Staff roles as used by views: `staff_required(role=...)` for pages, `HasStaffRole` for the API."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from rest_framework.permissions import BasePermission

from .models import StaffMember
from .selectors import current_practice
from .two_factor import has_two_factor

SET_UP_TWO_FACTOR = "Your practice requires two-factor authentication for staff: set it up now to continue."


def staff_member_of(user) -> StaffMember | None:
    """The user's staff membership in the current practice, or None."""
    if not user.is_authenticated:
        return None
    try:
        member = user.staff_member
    except StaffMember.DoesNotExist:
        return None
    return member if member.is_active else None


def lacks_required_two_factor(member: StaffMember) -> bool:
    """Whether the practice requires two-factor of its staff and this member has not set it up yet."""
    return current_practice().staff_two_factor_required and not has_two_factor(member.user)


def staff_required(view=None, *, role: str = StaffMember.Role.FRONT_DESK, two_factor_setup: bool = False):
    """Let through signed-in staff whose role is `role` or above; others get the sign-in page or a 403.

    A member still on a one-time password is sent to change it first; then, where the practice requires
    two-factor, a member without it is sent to set it up (the pages of that set-up pass `two_factor_setup`).
    """

    def decorator(view_func):
        @wraps(view_func)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            member = staff_member_of(request.user)
            if member is None:
                raise PermissionDenied("This account is not a staff account of this practice.")
            if member.must_change_password:
                return redirect("account_change_password")
            if not two_factor_setup and lacks_required_two_factor(member):
                messages.info(request, SET_UP_TWO_FACTOR)
                return redirect("mfa_activate_totp")
            if not member.has_role(role):
                label = StaffMember.Role(role).label
                raise PermissionDenied(f"This page needs the {label} role or above.")
            request.staff_member = member
            return view_func(request, *args, **kwargs)

        # What the page needs, readable from its URL pattern (the isolation tests check every staff page by it).
        wrapped.staff_role = role
        return wrapped

    return decorator(view) if view is not None else decorator


class HasStaffRole(BasePermission):
    """DRF permission: set `required_role` on the view (front desk when absent)."""

    message = "A staff account with a sufficient role is required."

    def has_permission(self, request, view) -> bool:
        member = staff_member_of(request.user)
        role = getattr(view, "required_role", StaffMember.Role.FRONT_DESK)
        if member is not None and lacks_required_two_factor(member):
            self.message = (
                "Your practice requires two-factor authentication for staff: set it up in the staff portal "
                "(Two-factor, at the top of every page) first."
            )
            return False
        return member is not None and member.has_role(role)
