"""The platform admin (`/admin/` on BASE_DOMAIN): operators sign in through the staff sign-in flow, never
the admin's own form, and use two-factor before any admin page.

The admin's own login form checks a password and nothing else, with no throttle. Here its login page hands
over to allauth's sign-in (`/staff/login/` on the platform host: password, then the authenticator code,
failed attempts limited by ACCOUNT_RATE_LIMITS["login_failed"]), and an operator who has not set up
two-factor yet is sent to do so first. Installed in place of `django.contrib.admin` (PlatformAdminConfig).
"""

from functools import wraps

from csp.decorators import csp_update
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

SET_UP_FIRST = "Platform operators sign in with two-factor authentication: set it up now to continue."


class PlatformAdminSite(AdminSite):
    site_header = "Platform administration"
    site_title = "Platform admin"

    def login(self, request, extra_context=None):
        # (Imported here: this module is loaded with the apps, before models may be.)
        from django.contrib.auth.views import redirect_to_login

        if not request.user.is_authenticated:
            return redirect_to_login(self._next_url(request))
        if not self.has_permission(request):
            raise PermissionDenied("This account is not a platform operator.")
        # Signed in already: never show the admin's form, which would sign in as someone else by password alone.
        return redirect(self._next_url(request))

    def admin_view(self, view, cacheable=False):
        checked = super().admin_view(view, cacheable)

        @wraps(view)
        def inner(request, *args, **kwargs):
            if view != self.logout and self.has_permission(request):
                from .two_factor import has_two_factor

                if not has_two_factor(request.user):
                    messages.info(request, SET_UP_FIRST)
                    return redirect("mfa_activate_totp")
            return checked(request, *args, **kwargs)

        # Django's and django-tenants' admin templates carry inline <style> blocks and style attributes; the
        # admin is for operators only, behind two-factor, so its pages allow inline styles (never scripts).
        return csp_update({"style-src": ["'unsafe-inline'"]})(inner)

    def _next_url(self, request) -> str:
        next_url = request.GET.get("next", "")
        if next_url and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return next_url
        return reverse("admin:index", current_app=self.name)


class PlatformAdminConfig(AdminConfig):
    default_site = "practices.admin_site.PlatformAdminSite"
