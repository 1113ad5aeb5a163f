"""Forms of the patient's referral pages."""

from django import forms


class TextFriendForm(forms.Form):
    """The "text a friend" form; the number is checked by the service (the same rules as the API)."""

    phone = forms.CharField(
        label="Your friend's mobile number",
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
        error_messages={"required": "Enter your friend's mobile number."},
    )
    name = forms.CharField(
        label="Their first name (optional)",
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
