"""Where staff (on practice hosts) and platform operators (on the platform host) manage their own two-factor
authentication, at /staff/2fa/: allauth's MFA views, let through only for staff members or operators.

These patterns come before allauth's own (`include("allauth.urls")`), which they shadow at the same paths and
names. The sign-in step (`mfa_authenticate`) is not here: it serves people half-way through signing in.
"""

from functools import wraps

from allauth.account import views as account_views
from allauth.mfa.base import views as mfa_views
from allauth.mfa.recovery_codes import views as recovery_code_views
from allauth.mfa.totp import views as totp_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from .models import StaffMember
from .roles import staff_required
from .two_factor import on_platform, two_factor_required


def own_two_factor(view):
    """Staff of this practice (after a one-time password is changed), or on the platform host, its operators."""
    staff_view = staff_required(view, two_factor_setup=True)

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        # For the templates: whether the account may turn two-factor off.
        request.two_factor_required = request.user.is_authenticated and two_factor_required(request.user)
        if not on_platform():
            return staff_view(request, *args, **kwargs)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("This account is not a platform operator.")
        return view(request, *args, **kwargs)

    wrapped.staff_role = StaffMember.Role.FRONT_DESK
    return wrapped


two_factor_urlpatterns = [
    path("", own_two_factor(mfa_views.index), name="mfa_index"),
    path("reauthenticate/", own_two_factor(mfa_views.reauthenticate), name="mfa_reauthenticate"),
    path("totp/activate/", own_two_factor(totp_views.activate_totp), name="mfa_activate_totp"),
    path("totp/deactivate/", own_two_factor(totp_views.deactivate_totp), name="mfa_deactivate_totp"),
    path("recovery-codes/", own_two_factor(recovery_code_views.view_recovery_codes), name="mfa_view_recovery_codes"),
    path(
        "recovery-codes/generate/",
        own_two_factor(recovery_code_views.generate_recovery_codes),
        name="mfa_generate_recovery_codes",
    ),
    path(
        "recovery-codes/download/",
        own_two_factor(recovery_code_views.download_recovery_codes),
        name="mfa_download_recovery_codes",
    ),
]


def _managed_on_the_staff_pages(request, *args, **kwargs):
    # allauth's error shape, as the rest of /_allauth/ answers.
    message = "Two-factor authentication is managed on the staff portal's Two-factor page."
    return JsonResponse({"status": 404, "errors": [{"message": message, "code": "not_found"}]}, status=404)


# On practice hosts, before allauth's headless URLs: the app cannot add or remove authenticators. Patients do
# not use two-factor (someone holding a patient's session could otherwise lock the patient out with an
# authenticator of their own), and staff manage theirs on the pages above, where the practice's rules apply.
headless_urlpatterns = [
    re_path(r"^_allauth/[a-z]+/v1/account/authenticators(?:/|$)", _managed_on_the_staff_pages),
]


def _not_on_the_platform(request, *args, **kwargs):
    raise Http404("Operators sign in with their password and a code from their authenticator app.")


# On the platform host: the operators' sign-in (password, then the second factor) and their two-factor pages.
# Only what operators need: no sign-up, email or phone pages.
platform_urlpatterns = [
    path("staff/", RedirectView.as_view(url="/admin/")),
    path("staff/login/", account_views.login, name="account_login"),
    # Named because allauth's sign-in pages link to it; operators never sign in by an emailed code.
    path("staff/login/code/", _not_on_the_platform, name="account_request_login_code"),
    path("staff/logout/", account_views.logout, name="account_logout"),
    path("staff/reauthenticate/", account_views.reauthenticate, name="account_reauthenticate"),
    path("staff/password/change/", account_views.password_change, name="account_change_password"),
    path("staff/2fa/authenticate/", mfa_views.authenticate, name="mfa_authenticate"),
    path("staff/2fa/", include(two_factor_urlpatterns)),
]
