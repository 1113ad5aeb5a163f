from csp.decorators import csp_update
from django.conf import settings
from django.http import HttpResponseNotFound
from django.shortcuts import redirect, render
from django.template.loader import render_to_string

from .roles import staff_required
from .selectors import practice_by_invite_code, practice_url
from .throttles import client_address, hit, too_many_requests


def unknown_host(request):
    """Any host that is not the platform or an active practice: a plain 404 page."""
    return HttpResponseNotFound(render_to_string("404.html", {"unknown_host": True}, request=request))


# The code form's answer is a redirect to the practice's own host, which the policy's form-action must allow.
@csp_update({"form-action": [f"*.{settings.BASE_DOMAIN}:*"]})
def platform_home(request):
    """The platform's landing page; a patient can find their practice by its invite code."""
    code = request.GET.get("code", "").strip()
    error = None
    if code and (wait := hit("code_lookup", client_address(request))):
        return too_many_requests(request, wait)
    if code:
        found = practice_by_invite_code(code)
        if found is not None:
            return redirect(practice_url(found, "/"))
        error = "No practice uses that code. Check it and try again."
    return render(request, "public/home.html", {"code": code, "error": error})


# The staff home: a higher app (analytics) registers its dashboard here, so this app need not import it.
STAFF_HOME = {"view": None}


def register_staff_home(view) -> None:
    """Show `view` (a staff view taking the request) as the staff home at /staff/."""
    STAFF_HOME["view"] = view


@staff_required
def staff_dashboard(request):
    if STAFF_HOME["view"] is not None:
        return STAFF_HOME["view"](request)
    return render(request, "staff/dashboard.html")
