from allauth.account.forms import LoginForm, PasswordField
from django import forms


class StaffLoginForm(LoginForm):
    """Staff sign in with email and password. (allauth drops the password field because patients
    join without one; staff always have one.)"""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"] = forms.EmailField(label="Email", widget=forms.EmailInput({"autocomplete": "email"}))
        self.fields["password"] = PasswordField(label="Password", autocomplete="current-password")
