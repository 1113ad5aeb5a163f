"""Forms of the record pages: staff editing a patient, a new number and its code, closing an account."""

from django import forms
from django.utils import timezone

from .forms import PhoneNumberField


class PatientRecordForm(forms.Form):
    """What the desk corrects on a patient's record (the number has its own page: it needs a code)."""

    first_name = forms.CharField(
        label="First name", max_length=150, error_messages={"required": "Enter the patient's first name."}
    )
    last_name = forms.CharField(
        label="Last name", max_length=150, error_messages={"required": "Enter the patient's last name."}
    )
    email = forms.EmailField(
        label="Email",
        required=False,
        help_text="A new address gets a link to confirm it; it is used once the patient opens the link.",
    )
    birthday = forms.DateField(
        label="Birthday",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%m/%d/%Y"],
        error_messages={"invalid": "Enter the birthday as year, month and day, e.g. 1990-04-21."},
    )
    external_id = forms.CharField(
        label="Id in your practice's system", max_length=64, required=False, help_text="Optional."
    )
    notes = forms.CharField(
        label="Notes",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For the loyalty program only (preferences, how to reach them). No medical or treatment details.",
    )

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        if birthday and birthday > timezone.localdate():
            raise forms.ValidationError("A birthday can't be in the future.")
        if birthday and birthday.year < 1900:
            raise forms.ValidationError("Enter the birthday as year, month and day, e.g. 1990-04-21.")
        return birthday


class NewPhoneForm(forms.Form):
    phone = PhoneNumberField(
        label="New mobile number",
        help_text="We text a 6-digit code to it. The number changes once the code is entered.",
        error_messages={"required": "Enter the new mobile number."},
    )


class PhoneCodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=6,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]*", "autofocus": True}
        ),
        error_messages={"required": "Enter the 6-digit code from the text message."},
    )

    def clean_code(self) -> str:
        code = "".join(ch for ch in self.cleaned_data["code"] if not ch.isspace())
        if not code.isdigit():
            raise forms.ValidationError("The code is 6 digits, from the text message.")
        return code


class CloseAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label="I understand: my points and unused vouchers will be lost, and this can't be undone.",
        error_messages={"required": "Tick the box to confirm that you want to close your account."},
    )
