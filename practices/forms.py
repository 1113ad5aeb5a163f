from allauth.account.forms import LoginForm, PasswordField
from django import forms


class StaffLoginForm(LoginForm):
    """Staff sign in with email and password. (allauth drops the password field because patients
    join without one; staff always have one.)"""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"] = forms.EmailField(label="Email", widget=forms.EmailInput({"autocomplete": "email"}))
        self.fields["password"] = PasswordField(label="Password", autocomplete="current-password")


class CsvUploadForm(forms.Form):
    """An uploaded CSV file, refused early when it is not one or is too large. Every import uses it."""

    max_bytes = 5 * 1024 * 1024
    too_large = "This file is larger than 5 MB; split it into smaller files."

    file = forms.FileField(
        label="CSV file",
        error_messages={"required": "Choose a CSV file to upload.", "empty": "This file is empty."},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError("Upload a .csv file: in your spreadsheet, use Save As and choose CSV.")
        if upload.size > self.max_bytes:
            raise forms.ValidationError(self.too_large)
        return upload
