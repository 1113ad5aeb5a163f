"""Who may use the patient pages: `patient_required`."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from .models import Patient

SIGN_IN_URL = "/signin/"
FINISH_JOIN_URL = "/join/finish/"


def patient_of(user) -> Patient | None:
    if not user.is_authenticated:
        return None
    try:
        patient = user.patient
    except Patient.DoesNotExist:
        return None
    return None if patient.status == Patient.Status.ARCHIVED else patient


def patient_required(view=None, *, allow_unfinished: bool = False):
    """Signed-in patients only: visitors go to sign in, other accounts get a 403, and a patient who
    was invited (desk or import) finishes joining (details and terms) before anything else."""

    def decorator(view_func):
        @wraps(view_func)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), SIGN_IN_URL)
            patient = patient_of(request.user)
            if patient is None:
                raise PermissionDenied("This page is for the practice's patients.")
            if patient.terms_accepted_at is None and not allow_unfinished:
                return redirect(FINISH_JOIN_URL)
            return view_func(request, *args, **kwargs)

        return wrapped

    return decorator(view) if view is not None else decorator
