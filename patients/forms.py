from datetime import date

from django import forms
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import User
from practices.selectors import current_practice_or_none

from .codes import normalize_code
from .errors import InvalidPhone
from .phones import normalize_phone


def sms_consent_wording() -> str:
    """The consent sentence shown next to the checkbox; stored with the patient's answer."""
    practice = current_practice_or_none()
    name = practice.name if practice else "the practice"
    return (
        f"Yes, text me offers and news from {name}. Up to 4 messages a month. "
        "Message and data rates may apply. Reply STOP to opt out, HELP for help."
    )


def terms_help() -> str:
    """Where the terms the patient accepts (and the privacy notice) can be read: the practice's own pages."""
    return format_html(
        'Read the <a href="{}" target="_blank" rel="noopener">program terms</a> and the '
        '<a href="{}" target="_blank" rel="noopener">privacy notice</a>.',
        reverse("practices:terms"),
        reverse("practices:privacy"),
    )


class PhoneNumberField(forms.CharField):
    """A phone number as people type it, returned in E.164 (read in the practice's country)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Mobile number")
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        try:
            return normalize_phone(value)
        except InvalidPhone as exc:
            raise forms.ValidationError(exc.message, code="invalid_phone") from None


def validate_birthday(value: date | None) -> None:
    if value is None:
        return
    today = date.today()
    if value > today:
        raise forms.ValidationError("Your birthday can't be in the future.")
    if value.year < 1900:
        raise forms.ValidationError("Enter your birthday as year, month and day, e.g. 1990-04-21.")


class JoinDetailsForm(forms.Form):
    """The profile a patient gives when joining (allauth adds the phone field to it).

    Used by the web join page and by the mobile app's headless sign-up alike.
    """

    first_name = forms.CharField(
        max_length=150, label="First name", widget=forms.TextInput({"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        max_length=150, label="Last name", widget=forms.TextInput({"autocomplete": "family-name"})
    )
    birthday = forms.DateField(
        label="Birthday",
        help_text="We celebrate it with a birthday reward.",
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        validators=[validate_birthday],
        error_messages={"invalid": "Enter your birthday as year, month and day, e.g. 1990-04-21."},
    )
    email = forms.EmailField(
        required=False, label="Email (optional)", widget=forms.EmailInput({"autocomplete": "email"})
    )
    code = forms.CharField(
        required=False,
        max_length=32,
        label="Invite or referral code (optional)",
        widget=forms.TextInput({"autocapitalize": "characters", "autocomplete": "off"}),
    )
    sms_consent = forms.BooleanField(required=False)
    accept_terms = forms.BooleanField(
        label="I accept the practice's rewards program terms",
        error_messages={"required": "Please accept the program terms to join."},
    )
    source = forms.CharField(required=False, widget=forms.HiddenInput, max_length=12)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sms_consent"].label = sms_consent_wording()
        self.fields["accept_terms"].help_text = terms_help()

    def clean_email(self) -> str:
        return clean_unique_email(self.cleaned_data.get("email", ""), user=None)

    def clean(self):
        cleaned_data = super().clean()
        # allauth adds the phone field (optional in its settings, see ACCOUNT_SIGNUP_FIELDS); joining needs it.
        if "phone" in self.fields and not cleaned_data.get("phone") and "phone" not in self.errors:
            self.add_error("phone", "Enter your mobile number.")
        return cleaned_data

    def clean_code(self) -> str:
        # An unknown code does not stop anyone joining: the referrals app records why it did not count
        # and tells the patient (a code is never attached afterwards).
        return normalize_code(self.cleaned_data.get("code", ""))

    def signup(self, request, user) -> None:
        """allauth requires this hook of a sign-up form class; it is never reached here: the join form saves a
        pending sign-up instead (patients.signup.JoinForm.save), and the patient is made once the code is
        confirmed (patients.services.confirm_signup)."""


def clean_unique_email(email: str, *, user) -> str:
    """Emails are unique within the practice: refuse one another account already uses."""
    email = (email or "").strip()
    if email and User.objects.filter(email__iexact=email).exclude(pk=getattr(user, "pk", None)).exists():
        raise forms.ValidationError("Another account already uses this email address.")
    return email


class FinishJoinForm(forms.Form):
    """What an invited (desk or imported) patient still has to give on first sign-in."""

    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    birthday = JoinDetailsForm.base_fields["birthday"]
    email = forms.EmailField(required=False, label="Email (optional)")
    sms_consent = forms.BooleanField(required=False)
    accept_terms = JoinDetailsForm.base_fields["accept_terms"]

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["sms_consent"].label = sms_consent_wording()
        self.fields["accept_terms"].help_text = terms_help()

    def clean_email(self) -> str:
        return clean_unique_email(self.cleaned_data.get("email", ""), user=self.user)


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    email = forms.EmailField(required=False, label="Email (optional)")
    birthday = forms.DateField(
        label="Birthday",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_birthday],
        error_messages={"invalid": "Enter your birthday as year, month and day, e.g. 1990-04-21."},
    )
    sms_consent = forms.BooleanField(required=False)
    notify_by_sms = forms.BooleanField(required=False, label="Text messages about my points and rewards")
    notify_by_push = forms.BooleanField(required=False, label="Notifications on this phone (installed app)")

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["sms_consent"].label = sms_consent_wording()

    def clean_email(self) -> str:
        return clean_unique_email(self.cleaned_data.get("email", ""), user=self.user)
