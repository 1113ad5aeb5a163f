"""The app's sign-up and sign-in endpoints (`/_allauth/app/v1/auth/...`): allauth's headless views with the
patients' rules. Mounted ahead of allauth's own URLs (config/urls_practice.py); every other endpoint is
allauth's. Answers keep allauth's shape (`{"status", "data", "meta", "errors": [{"code", "message",
"param"}]}`); see docs/api.md.
"""

from http import HTTPStatus

from allauth.account.internal.stagekit import clear_login
from allauth.account.stages import LoginStageController, PhoneVerificationStage
from allauth.core.exceptions import RateLimited
from allauth.headless.account import views as allauth_views
from allauth.headless.base.response import ConflictResponse, RateLimitResponse
from allauth.headless.constants import Client
from allauth.headless.internal.restkit.response import APIResponse, ErrorResponse
from django.db import transaction
from django.urls import path

from . import ratelimits
from .errors import PatientError
from .signup import JoinInput, RequestCodeInput, code_can_be_sent

TOO_MANY_WRONG_CODES = "That code was wrong too many times, so it no longer works. Request a new code."
TOO_MANY_WRONG_CODES_AT_SIGNUP = (
    "That code was wrong too many times, so it no longer works. Sign up again to get a new code."
)
NO_MORE_SIGNUP_CODES = (
    "We can't text more codes for this sign-up. Enter the last code we sent, or sign up again in a few minutes."
)
NO_SIGN_IN_CODE = (
    "No sign-in code is waiting to be confirmed: it expired, was wrong too many times, or none was requested. "
    "Request a new code."
)
NO_SIGNUP_CODE = (
    "No sign-up is waiting for a code here: it expired, was wrong too many times, or was started again. "
    "Sign up again to get a new code."
)


def conflict(request, *, code: str, message: str) -> APIResponse:
    """allauth's 409 (the step asked for is not pending), saying what to do next."""
    return APIResponse(request, status=HTTPStatus.CONFLICT, errors=[{"code": code, "message": message}])


class SignupView(allauth_views.SignupView):
    """A sign-up keeps a pending record and texts a code; a limit met on the way is a 429 and leaves nothing."""

    input_class = {"POST": JoinInput}

    def post(self, request, *args, **kwargs):
        phone = self.input.cleaned_data["phone"]
        if not code_can_be_sent(request, phone):
            return ratelimits.too_many_requests(request, action="verify_phone", key=phone)
        try:
            with transaction.atomic():
                return super().post(request, *args, **kwargs)
        except RateLimited:
            clear_login(request)
            return ratelimits.too_many_requests(request, action="verify_phone", key=phone)
        except PatientError as exc:
            self.input.add_error(exc.field or None, exc.message)
            return self.handle_invalid_input(self.input)


class RequestLoginCodeView(allauth_views.RequestLoginCodeView):
    input_class = RequestCodeInput


class ConfirmLoginCodeView(allauth_views.ConfirmLoginCodeView):
    """The fifth wrong code ends the attempt and says so; with no code waiting, the 409 says what to do."""

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        if isinstance(response, ConflictResponse):
            return conflict(request, code="no_code_pending", message=NO_SIGN_IN_CODE)
        return response

    def handle_invalid_input(self, input):
        if not self.process.record_invalid_attempt():
            return conflict(self.request, code="too_many_attempts", message=TOO_MANY_WRONG_CODES)
        return ErrorResponse(self.request, input=input)


class VerifyPhoneView(allauth_views.VerifyPhoneView):
    """Confirms a sign-up's number (the patient joins then). A sign-up replaced by a newer one for the same
    number, expired, or ended by wrong codes answers 409 with what to do."""

    def handle(self, request, *args, **kwargs):
        stage = LoginStageController.enter(request, PhoneVerificationStage.key)
        if stage is not None and stage.login.user is None:
            # The pending sign-up this session started was replaced or removed: its code no longer works.
            clear_login(request)
            return conflict(request, code="no_code_pending", message=NO_SIGNUP_CODE)
        response = super().handle(request, *args, **kwargs)
        if isinstance(response, ConflictResponse):
            return conflict(request, code="no_code_pending", message=NO_SIGNUP_CODE)
        return response

    def handle_invalid_input(self, input):
        if not self.process.record_invalid_attempt():
            message = TOO_MANY_WRONG_CODES if self.stage is None else TOO_MANY_WRONG_CODES_AT_SIGNUP
            return conflict(self.request, code="too_many_attempts", message=message)
        return ErrorResponse(self.request, input=input)


class ResendPhoneVerificationCodeView(allauth_views.ResendPhoneVerificationCodeView):
    """A new sign-up code, unless the sign-up was replaced or ended (409 saying to sign up again)."""

    def post(self, request, *args, **kwargs):
        stage = LoginStageController.enter(request, PhoneVerificationStage.key)
        if stage is None or stage.login.user is None:
            clear_login(request)
            return conflict(request, code="no_code_pending", message=NO_SIGNUP_CODE)
        response = super().post(request, *args, **kwargs)
        if isinstance(response, ConflictResponse):
            return conflict(request, code="no_more_codes", message=NO_MORE_SIGNUP_CODES)
        if isinstance(response, RateLimitResponse):
            # Say when, counting this number's own limit too.
            return ratelimits.too_many_requests(request, action="verify_phone", key=stage.state.get("phone"))
        return response


# Ahead of allauth's headless URLs, under /_allauth/app/v1/auth/.
urlpatterns = [
    path("signup", SignupView.as_api_view(client=Client.APP)),
    path("code/request", RequestLoginCodeView.as_api_view(client=Client.APP)),
    path("code/confirm", ConfirmLoginCodeView.as_api_view(client=Client.APP)),
    path("phone/verify", VerifyPhoneView.as_api_view(client=Client.APP)),
    path("phone/verify/resend", ResendPhoneVerificationCodeView.as_api_view(client=Client.APP)),
]
