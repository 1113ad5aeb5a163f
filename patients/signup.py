"""How patients join and ask for sign-in codes, on top of allauth's forms (web pages and the app API alike).

Joining keeps a pending sign-up (patients.models.PendingSignup) until the number is confirmed with its SMS
code. Sign-in codes go to a phone number of an active account, or to an email address only once that
address was confirmed and only for a patient: staff sign in with their password.
"""

from allauth.account.adapter import get_adapter
from allauth.account.forms import RequestLoginCodeForm, SignupForm
from allauth.account.models import EmailAddress
from allauth.core import context, ratelimit
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.headless.account.inputs import RequestLoginCodeInput, SignupInput
from django import forms

from . import ratelimits, services
from .forms import sms_consent_wording

ENTER_PHONE = "Enter your mobile number."


class PendingJoinMixin:
    """Saving the join form keeps a pending sign-up: an inactive user with the number and the answers beside
    it. allauth then sends the code (its phone verification stage); the patient exists once it is entered."""

    def clean_email(self) -> str:
        # Unique among accounts in use; a pending sign-up holds no address, so it blocks no one.
        email = (self.cleaned_data.get("email") or "").strip().lower()
        if email and services.email_taken(email, user=None):
            raise forms.ValidationError("Another account already uses this email address.", code="email_taken")
        return email

    def save(self, request):
        data = self.cleaned_data
        return services.start_signup(
            phone=data["phone"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data.get("email") or "",
            birthday=data["birthday"],
            code=data.get("code") or "",
            arrived_from=data.get("source") or "",
            sms_consent=bool(data.get("sms_consent")),
            sms_consent_text=sms_consent_wording(),
        )


class JoinForm(PendingJoinMixin, SignupForm):
    """The join page (`/join/`): allauth's sign-up form with the patient's details (JoinDetailsForm)."""


class JoinInput(PendingJoinMixin, SignupInput):
    """The app's sign-up (`POST /_allauth/app/v1/auth/signup`): the same fields and rules as the join page."""


def code_can_be_sent(request, phone: str) -> bool:
    """Whether a verification code may be texted to this number now (allauth's `verify_phone` limits), checked
    before anything is saved so that a limit never leaves a sign-up half made."""
    return ratelimit.consume(request, action="verify_phone", key=phone, dry_run=True)


def patient_with_confirmed_email(email: str):
    """The active patient account whose confirmed (verified) address this is, if any. Staff accounts and
    addresses nobody confirmed are not found: they are not a way to sign in by code."""
    address = (
        EmailAddress.objects.filter(email__iexact=email.strip(), verified=True, user__is_active=True)
        .filter(user__patient__isnull=False)
        .select_related("user")
        .first()
    )
    return address.user if address else None


class RequestCodeMixin:
    """Asking for a sign-in code: exactly one of a phone number or (a patient's confirmed) email address.

    An address that is not a patient's confirmed one is answered exactly like an unknown one. A number or
    address that asked too often is answered 429 with Retry-After (ImmediateHttpResponse: allauth's middleware
    returns it), not a form error.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._user = None

    def clean(self):
        cleaned_data = super().clean()
        if not self.errors and not cleaned_data.get("phone") and not cleaned_data.get("email"):
            self.add_error(
                "phone" if "phone" in self.fields else "email", forms.ValidationError(ENTER_PHONE, code="required")
            )
        return cleaned_data

    def clean_phone(self) -> str:
        phone = self.cleaned_data.get("phone")
        if not phone:
            return phone
        adapter = get_adapter()
        self._user = adapter.get_user_by_phone(phone)
        if self._user is None:
            raise adapter.validation_error("unknown_phone")
        self._consume(phone.lower(), "Too many sign-in codes were requested for this number.")
        return phone

    def clean_email(self) -> str:
        email = (self.cleaned_data.get("email") or "").strip()
        if not email:
            return email
        self._user = patient_with_confirmed_email(email)
        if self._user is None:
            raise get_adapter().validation_error("unknown_email")
        self._consume(email.lower(), "Too many sign-in codes were requested for this address.")
        return email

    def _consume(self, key: str, message: str) -> None:
        request = context.request
        if not ratelimit.consume(request, action="request_login_code", key=key):
            raise ImmediateHttpResponse(
                ratelimits.too_many_requests(
                    request, action="request_login_code", key=key, message=f"{message} Please try again {{when}}."
                )
            )


class RequestCodeForm(RequestCodeMixin, RequestLoginCodeForm):
    """The sign-in page (`/signin/`) and allauth's own code page (ACCOUNT_FORMS["request_login_code"])."""


class RequestCodeInput(RequestCodeMixin, RequestLoginCodeInput):
    """`POST /_allauth/app/v1/auth/code/request`."""
