"""The public TV leaderboard's secret link: made, replaced and turned off by the owner, checked on every visit.

The link is `/tv/<token>/` on the practice's host. It needs no sign-in, so it shows nothing personal beyond
what a poster in the waiting room would (first names and initials of patients, no "You"), and the owner can
replace it whenever it has travelled too far: the old link stops working on its next request.
"""

from __future__ import annotations

import re
import secrets

from django.db import transaction

from accounts.models import User
from practices import audit
from practices.locking import lock_one

from .models import LeaderboardScreen

TOKEN_BYTES = 24  # 32 characters in the link: not guessable, short enough to type into a TV's browser
# What token_urlsafe makes: anything else (a NUL byte, a very long path) is not a link, and is not looked up.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def current_link() -> LeaderboardScreen | None:
    """The practice's TV link, or None while there is none."""
    return LeaderboardScreen.objects.select_related("created_by").first()


def screen_for(token: str) -> LeaderboardScreen | None:
    """The TV link `token` opens, or None: unknown, replaced or turned off."""
    if not TOKEN_SHAPE.fullmatch(token or ""):
        return None
    screen = LeaderboardScreen.objects.filter(token=token).first()
    # The lookup found it by an index; comparing again in constant time costs nothing and leaks nothing.
    if screen is None or not secrets.compare_digest(screen.token, token):
        return None
    return screen


@transaction.atomic
def replace_tv_link(*, actor: User | audit.System) -> LeaderboardScreen:
    """A new secret link for the TV leaderboard; the previous one (if any) stops working in this transaction."""
    audit.require_actor(actor)
    had_one = lock_one(LeaderboardScreen.objects.filter(pk=1)) is not None
    LeaderboardScreen.objects.filter(pk=1).delete()
    screen = LeaderboardScreen.objects.create(
        pk=1, token=secrets.token_urlsafe(TOKEN_BYTES), created_by=actor if isinstance(actor, User) else None
    )
    # The token itself is a secret: the audit entry says that the link changed, never what it is.
    audit.record(
        actor=actor,
        action="leaderboard_link.replaced" if had_one else "leaderboard_link.created",
        target=screen,
        before={"link": "active"} if had_one else {},
        after={"link": "new"},
    )
    return screen


@transaction.atomic
def turn_off_tv_link(*, actor: User | audit.System) -> bool:
    """No TV link any more: the current one stops working. False when there was none."""
    audit.require_actor(actor)
    screen = lock_one(LeaderboardScreen.objects.filter(pk=1))
    if screen is None:
        return False
    audit.record(actor=actor, action="leaderboard_link.turned_off", target=screen, before={"link": "active"}, after={})
    screen.delete()
    return True
