"""Redeem forms carry a one-time token: a second submit of the same form (a double click, back and submit
again) leads to the voucher the first one issued instead of issuing another. The tokens already used are
kept in the session of whoever submitted them (patient or staff), the latest few only."""

import secrets

SESSION_KEY = "rewards.redeem_tokens"
KEPT_TOKENS = 20


def new_token() -> str:
    return secrets.token_urlsafe(16)


def redeemed_with(request, token: str) -> int | None:
    """The redemption a form with this token issued already, if any."""
    return request.session.get(SESSION_KEY, {}).get(token) if token else None


def remember(request, token: str, redemption_id: int) -> None:
    if not token:
        return
    used = request.session.get(SESSION_KEY, {})
    used[token] = redemption_id
    request.session[SESSION_KEY] = dict(list(used.items())[-KEPT_TOKENS:])
