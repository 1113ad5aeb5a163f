import re

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.account.internal.stagekit import clear_login
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django_tenants.utils import get_public_schema_name

from accounts.models import User
from practices.selectors import current_practice, current_practice_or_none

from . import ratelimits
from .forms import PhoneNumberField


def _wait_wording(action: str) -> str:
    """'in 10 minutes' from the per-phone part of an allauth rate limit like '3/10m/key'."""
    rule = settings.ACCOUNT_RATE_LIMITS.get(action, "")
    match = re.search(r"\d+/(\d*)([smhd])/key", rule)
    if not match:
        return "in a few minutes"
    amount = int(match.group(1) or 1)
    unit = {"s": "second", "m": "minute", "h": "hour", "d": "day"}[match.group(2)]
    return f"in {amount} {unit}{'s' if amount != 1 else ''}"


class AccountAdapter(DefaultAccountAdapter):
    """Staff sign in with email and password; patients join and sign in with their phone and an SMS code."""

    @property
    def error_messages(self):  # allauth reads these by key
        messages = dict(super().error_messages)
        messages["too_many_login_attempts"] = (
            f"Too many sign-in codes were requested. Please try again {_wait_wording('request_login_code')}."
        )
        messages["unknown_phone"] = "We don't know this number yet. Join the program first."
        messages["phone_taken"] = "This number already has an account: sign in instead."
        messages["incorrect_code"] = "That code isn't right. Check the text message and try again."
        messages["unknown_email"] = (
            "We don't know this email address, or it has not been confirmed yet. Sign in with your mobile number."
        )
        return messages

    def is_open_for_signup(self, request) -> bool:
        # Patients join; staff accounts are created by the practice's owner, never by sign-up.
        return not request.path.startswith("/staff/")

    def phone_form_field(self, **kwargs):
        kwargs.pop("validators", None)
        return PhoneNumberField(**kwargs)

    def send_verification_code_sms(self, user, phone: str, code: str, **kwargs) -> None:
        from .messaging import queue_sms
        from .models import Message, Patient

        minutes = settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT // 60
        patient = Patient.objects.filter(user=user).first() if user is not None and user.pk else None
        queue_sms(
            to=phone,
            body=f"{current_practice().sms_name}: your code is {code}. It expires in {minutes} minutes.",
            purpose=Message.Purpose.LOGIN_CODE,
            patient=patient,
        )

    def set_phone(self, user, phone: str, verified: bool) -> None:
        from .services import release_pending_number

        release_pending_number(phone, keep=user)
        user.phone = phone
        user.phone_verified = verified
        user.save(update_fields=["phone", "phone_verified"])

    def get_phone(self, user) -> tuple[str, bool] | None:
        return (user.phone, user.phone_verified) if user.phone else None

    def set_phone_verified(self, user, phone: str) -> None:
        """The holder of the number entered its code: a sign-up waiting for it becomes a patient now."""
        from .services import confirm_signup, request_email_change

        User.objects.filter(pk=user.pk, phone=phone).update(phone_verified=True)
        user.phone_verified = True
        confirmed = confirm_signup(user=user)
        if confirmed and confirmed.email_to_confirm:
            request_email_change(request=context.request, patient=confirmed.patient, email=confirmed.email_to_confirm)

    def get_user_by_phone(self, phone: str):
        # Active accounts only: a sign-up waiting for its code is not an account (nobody signs in to it).
        return User.objects.filter(phone=phone, is_active=True).first()

    def pre_login(self, request, user, **kwargs):
        from .models import PendingSignup

        if kwargs.get("signup") and not user.is_active and PendingSignup.objects.filter(user=user).exists():
            # A sign-up on its way to the phone verification stage: the user is activated once the code is in.
            return None
        if self._is_refused_method(request, user):
            clear_login(request)
            messages.error(request, "Please sign in with your mobile number.")
            return HttpResponseRedirect(reverse("account_request_login_code"))
        return super().pre_login(request, user, **kwargs)

    @staticmethod
    def _is_refused_method(request, user) -> bool:
        """Patients sign in by a code (SMS, or email once confirmed), never a password; staff by password,
        never an emailed code. The forms already refuse both; this holds if a way round them appears."""
        from .models import Patient

        if connection.schema_name == get_public_schema_name():
            return False  # platform operators (password, then their second factor); no patients there
        records = get_authentication_records(request, user)
        last = records[-1] if records else {}
        is_patient = Patient.objects.filter(user=user).exists()
        if last.get("method") == "password":
            return is_patient
        if last.get("method") == "code" and last.get("email"):
            return not is_patient
        return False

    def pre_authenticate(self, request, **credentials) -> None:
        # Too many failed passwords is a 429 with Retry-After (the staff sign-in), like every other limit.
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError as exc:
            if exc.code != "too_many_login_attempts":
                raise
            raise ImmediateHttpResponse(
                ratelimits.too_many_requests(
                    request,
                    action="login_failed",
                    key=self._get_login_attempts_cache_key(request, **credentials),
                    message="Too many failed sign-in attempts. Please try again {when}.",
                )
            ) from None

    def send_password_reset_mail(self, user, email, context) -> None:
        # Patients have no password (they sign in by code): a reset link would be of no use to them.
        if connection.schema_name != get_public_schema_name() and hasattr(user, "patient"):
            return
        super().send_password_reset_mail(user, email, context)

    def confirm_email(self, request, email_address) -> bool:
        """A patient opened the link to an address: it becomes the one in use, unless another account took it
        meanwhile (emails are unique within the practice)."""
        from .services import email_confirmed, email_taken

        if email_taken(email_address.email, user=email_address.user):
            self.add_message(request, messages.ERROR, message="Another account uses this email address now.")
            return False
        with transaction.atomic():
            confirmed = super().confirm_email(request, email_address)
            if confirmed and connection.schema_name != get_public_schema_name():
                email_confirmed(user=email_address.user)
        return confirmed

    def get_email_verification_redirect_url(self, email_address) -> str:
        if connection.schema_name != get_public_schema_name() and hasattr(email_address.user, "patient"):
            return "/me/" if self.request.user.is_authenticated else "/"
        return super().get_email_verification_redirect_url(email_address)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # Emails name the practice (allauth's own templates only know the host name).
        context.setdefault("practice", current_practice_or_none())
        super().send_mail(template_prefix, email, context)

    def login(self, request, user) -> None:
        super().login(request, user)
        if connection.schema_name == get_public_schema_name():
            return  # a platform operator: the platform's schema has no patients
        from .services import activate_pending_patient

        activate_pending_patient(user=user)

    def get_login_redirect_url(self, request) -> str:
        if connection.schema_name == get_public_schema_name():
            return "/admin/"  # platform operators, on the platform host
        return "/" if hasattr(request.user, "patient") else settings.LOGIN_REDIRECT_URL

    def get_signup_redirect_url(self, request) -> str:
        return "/"
