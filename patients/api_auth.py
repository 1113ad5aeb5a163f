"""How the patient API knows the caller: the app's session token (`X-Session-Token`, from allauth headless)."""

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.exceptions import AuthenticationFailed


class SessionTokenAuthentication(XSessionTokenAuthentication):
    """allauth's `X-Session-Token`, answered 401 (not 403) when it is missing, wrong or expired, so the app knows
    to sign in again."""

    def authenticate(self, request):
        token = self.get_session_token(request)
        if not token:
            return None
        found = super().authenticate(request)
        if found is None:
            raise AuthenticationFailed(
                "This session token is not valid or has expired: sign in again.", code="invalid_session_token"
            )
        return found

    def authenticate_header(self, request) -> str:
        # Any WWW-Authenticate value makes DRF answer 401 when no credentials are given.
        return 'X-Session-Token realm="api"'


class SessionTokenScheme(OpenApiAuthenticationExtension):
    """Describes the token in the OpenAPI schema (drf-spectacular finds it by its target class)."""

    target_class = "patients.api_auth.SessionTokenAuthentication"
    name = "patientSessionToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Session-Token",
            "description": "The patient's session token from signing in (allauth headless, app client); "
            "a missing, wrong or expired one is answered 401.",
        }
