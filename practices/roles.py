"""Staff roles as used by views: `staff_required(role=...)` for pages, `HasStaffRole` for the API."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from rest_framework.permissions import BasePermission

from .models import StaffMember


def staff_member_of(user) -> StaffMember | None:
    """The user's staff membership in the current practice, or None."""
    if not user.is_authenticated:
        return None
    try:
        member = user.staff_member
    except StaffMember.DoesNotExist:
        return None
    return member if member.is_active else None


def staff_required(view=None, *, role: str = StaffMember.Role.FRONT_DESK):
    """Let through signed-in staff whose role is `role` or above; others get the sign-in page or a 403.

    A member still on a one-time password is sent to change it first.
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
        return member is not None and member.has_role(role)
