"""Which codes a patient may join with.

The practice's invite code is known here. Higher apps (referrals) register a resolver in their
AppConfig.ready that recognises their own codes, without this app importing them.
"""

import re
from collections.abc import Callable

from practices.selectors import current_practice_or_none

from .models import Patient

# A resolver takes a normalised code and returns the sign-up source it stands for, or None.
CodeResolver = Callable[[str], str | None]
_resolvers: list[CodeResolver] = []


def register_code_resolver(resolver: CodeResolver) -> None:
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def normalize_code(code: str) -> str:
    """A code as stored: letters and digits only, upper case (spaces, dashes and stray bytes typed or pasted
    with it dropped), at most 32 characters."""
    return re.sub(r"[^A-Za-z0-9]", "", code or "").upper()[:32]


def source_for_code(code: str) -> str | None:
    """The sign-up source a code stands for (invite code, referral...), or None if nobody knows it."""
    code = normalize_code(code)
    if not code:
        return None
    practice = current_practice_or_none()
    if practice is not None and practice.invite_code and code == practice.invite_code:
        return Patient.Source.INVITE_CODE
    for resolver in _resolvers:
        source = resolver(code)
        if source:
            return source
    return None
