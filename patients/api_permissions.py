"""DRF permissions for the patient-facing API."""

from rest_framework.permissions import BasePermission

from .access import patient_of


class IsPatient(BasePermission):
    """Signed in (session or X-Session-Token) as a patient of this practice; staff accounts are refused."""

    message = "Sign in as a patient of this practice."

    def has_permission(self, request, view) -> bool:
        return patient_of(request.user) is not None
