"""Helpers for tests of two-factor sign-in: the codes an authenticator app would show, and the set-up done
through the pages, as a staff member or operator does it."""

import time

from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value


def app_code(secret: str, *, steps_ahead: int = 0) -> str:
    """The 6-digit code an authenticator app shows now for `secret` (time is frozen by the tests)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + steps_ahead))


def set_up_two_factor(client, *, password: str, on_commit=None) -> str:
    """Turn on two-factor through the pages for the account signed in on `client`; returns the app's secret.

    Goes where the pages send: the set-up page asks for the password first.
    """
    response = client.get("/staff/2fa/totp/activate/")
    if response.status_code == 302 and "reauthenticate" in response["Location"]:
        confirmed = client.post(response["Location"], {"password": password})
        assert confirmed.status_code == 302, confirmed.content.decode()
        response = client.get("/staff/2fa/totp/activate/")
    assert response.status_code == 200, response.status_code
    secret = client.session[SECRET_SESSION_KEY]
    if on_commit is None:
        done = client.post("/staff/2fa/totp/activate/", {"code": app_code(secret)})
    else:  # allauth tells what was added once the change is committed
        with on_commit(execute=True):
            done = client.post("/staff/2fa/totp/activate/", {"code": app_code(secret)})
    assert done.status_code == 302 and done["Location"] == "/staff/2fa/recovery-codes/", done
    return secret


def recovery_codes_of(user) -> list[str]:
    from allauth.mfa.models import Authenticator

    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    return RecoveryCodes(authenticator).get_unused_codes()


def give_two_factor(user) -> str:
    """An authenticator app for `user`, as if they had set it up (for tests about something else); its secret."""
    from allauth.mfa.models import Authenticator

    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": secret})
    return secret
