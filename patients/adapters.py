import re

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.db import connection

from accounts.models import User

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
            body=f"{connection.tenant.name}: your code is {code}. It expires in {minutes} minutes.",
            purpose=Message.Purpose.LOGIN_CODE,
            patient=patient,
        )

    def set_phone(self, user, phone: str, verified: bool) -> None:
        user.phone = phone
        user.phone_verified = verified
        user.save(update_fields=["phone", "phone_verified"])

    def get_phone(self, user) -> tuple[str, bool] | None:
        return (user.phone, user.phone_verified) if user.phone else None

    def set_phone_verified(self, user, phone: str) -> None:
        User.objects.filter(pk=user.pk, phone=phone).update(phone_verified=True)
        user.phone_verified = True

    def get_user_by_phone(self, phone: str):
        return User.objects.filter(phone=phone, is_active=True).first()

    def login(self, request, user) -> None:
        super().login(request, user)
        from .services import activate_pending_patient

        activate_pending_patient(user=user)

    def get_login_redirect_url(self, request) -> str:
        return "/" if hasattr(request.user, "patient") else settings.LOGIN_REDIRECT_URL

    def get_signup_redirect_url(self, request) -> str:
        return "/"
