"""The public TV leaderboard (`/tv/<token>/`): no sign-in, the link is the key (see referrals.tv).

A screen in the waiting room or the break room opens the link once and keeps it open: the board fetches its
tables again every minute (htmx, no inline script). Once the owner replaces or turns off the link, the page
and its next refresh answer 404, and an open screen reloads itself onto that page.
"""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from practices.models import StaffMember
from practices.roles import staff_required

from . import staff_selectors, tv, views_staff
from .views_staff import TV_REFRESH_SECONDS

# A screen across the room shows this many people per table at most (the type is large: it fits 1080 px).
TV_ROWS = 8


def _no_trace(response: HttpResponse) -> HttpResponse:
    """The link is a secret: not cached, not indexed, not sent on as a referrer."""
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _context(request, token: str) -> dict:
    # No `me`: a public screen highlights nobody.
    board = staff_selectors.leaderboard(
        period=request.GET.get("period", "month"), ranking=request.GET.get("rank", "qualified")
    )
    board.staff, board.partners, board.patients = (
        rows[:TV_ROWS] for rows in (board.staff, board.partners, board.patients)
    )
    board_query = f"period={board.period}&rank={board.ranking}"
    return {
        "board": board,
        "tv": True,
        "public": True,
        "board_url": f"{reverse('referrals:tv_board', args=[token])}?{board_query}",
        "refresh_seconds": TV_REFRESH_SECONDS,
        "updated_at": timezone.now(),
    }


@require_GET
def tv_page(request, token: str):
    """The full-screen leaderboard for a TV, by its secret link (404 once replaced or turned off)."""
    if tv.screen_for(token) is None:
        raise Http404("This TV link doesn't work any more. Ask the practice's owner for the new one.")
    return _no_trace(render(request, "referrals/tv.html", _context(request, token)))


@require_GET
def tv_board(request, token: str):
    """The board alone, which the TV page fetches every minute. When the link has been replaced, an open
    screen is told to reload, and so shows that the link no longer works."""
    if tv.screen_for(token) is None:
        if request.headers.get("HX-Request"):
            return _no_trace(HttpResponse(status=204, headers={"HX-Refresh": "true"}))
        raise Http404("This TV link doesn't work any more. Ask the practice's owner for the new one.")
    return _no_trace(render(request, "referrals/staff/_leaderboard_board.html", _context(request, token)))


# ---------------------------------------------------------------- the owner's page for the link


@staff_required(role=StaffMember.Role.OWNER)
def tv_link(request):
    """The TV link: shown to the owner, who makes it, replaces it (the old one stops working) or turns it off."""
    if request.method == "POST":
        what = request.POST.get("do")
        if what == "replace":
            had_one = tv.current_link() is not None
            tv.replace_tv_link(actor=request.user)
            messages.success(
                request,
                "A new TV link is ready. The old one no longer works: open the new one on the TV."
                if had_one
                else "The TV link is ready: open it in the TV's browser.",
            )
        elif what == "off" and tv.turn_off_tv_link(actor=request.user):
            messages.success(request, "The TV link is turned off: a screen showing it stops at its next refresh.")
        return redirect("referrals:tv_link")
    screen = tv.current_link()
    url = request.build_absolute_uri(reverse("referrals:tv", args=[screen.token])) if screen else ""
    return render(
        request,
        "referrals/staff/tv_link.html",
        {"tabs": views_staff._tabs(request.staff_member, "leaderboard"), "screen": screen, "tv_url": url},
    )
