"""Redeem forms carry a one-time token, stored with the voucher they issue (Redemption.form_token): the same
form sent again (a double click, back and submit again) leads to that voucher instead of issuing another.
redeem_reward enforces it under the account's lock, so it holds when both requests arrive together."""

import re
import secrets

_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,40}")


def new_token() -> str:
    return secrets.token_urlsafe(16)


def form_token(raw: str) -> str:
    """The token a form sent, or "" when it is missing or not one of ours."""
    return raw if _TOKEN.fullmatch(raw or "") else ""
