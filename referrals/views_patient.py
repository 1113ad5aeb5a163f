"""Patient pages of the referral program: the share link's landing page, the patient's referrals page
(code, QR code, text a friend, the friends they referred) and the home card."""

import time
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from patients.access import patient_of, patient_required
from patients.codes import normalize_code
from practices.brand_images import link_preview
from practices.errors import DomainError
from practices.selectors import current_practice
from practices.throttles import limit_page_requests

from .codes import code_for_patient
from .forms_patient import TextFriendForm
from .models import ReferralCode, Visit
from .qr import qr_png, qr_svg_inline
from .selectors import friend_rows, patient_referral_summary, patient_referrals, share_link, shareable_code
from .services import count_visit, share_url, text_a_friend

SHARE_SOURCES = (Visit.Source.LINK, Visit.Source.QR, Visit.Source.SMS)
# A browser that opens the same link again within this time (a reload, the back button) is not a new visit.
REPEAT_VISIT_SECONDS = 5 * 60
FRIENDS_PAGE_SIZE = 50


@limit_page_requests("code_lookup")  # codes must not be found by trying them all
def share(request, code: str):
    """`/r/<code>`: who invited the visitor, what they get, and a button to join with the code filled in."""
    link = share_link(code=normalize_code(code))
    source = request.GET.get("src", "")
    source = source if source in SHARE_SOURCES else Visit.Source.LINK
    member = patient_of(request.user)
    context = {"link": link, "member": member}
    if not link.is_active:
        return render(request, "referrals/share_inactive.html", context, status=404 if link.code is None else 200)
    is_own_link = member is not None and link.code.patient_id == member.pk
    context["is_own_link"] = is_own_link
    context["join_url"] = reverse("account_signup") + "?" + urlencode({"code": link.code.code, "src": source})
    context["preview"] = _link_preview(link)
    response = render(request, "referrals/share.html", context)
    if not is_own_link:
        _count_visit_once(request, response, code=link.code, source=source)
    return response


def _link_preview(link) -> dict:
    """What a chat app shows for the shared link: who invites, to which practice, and the welcome offer."""
    practice = current_practice()
    who = f"{link.inviter} invited you" if link.inviter else "You're invited"
    if link.referee_reward:
        offer = f"Your welcome reward: {link.referee_reward} after your first purchase of {link.min_purchase} or more."
    else:
        offer = "Earn points every time you visit and turn them into treatments and products."
    return link_preview(
        practice,
        title=f"{who} to join {practice.name} rewards",
        description=offer,
        path=reverse("referrals:share", args=[link.code.code]),
    )


def _count_visit_once(request, response, *, code: ReferralCode, source: str) -> None:
    # A cookie per code holding only when this browser last opened it: a counter with no personal data,
    # sent back only to share links (path /r/).
    cookie = f"r_seen_{code.code}"
    now = int(time.time())
    try:
        seen_at = int(request.COOKIES.get(cookie, ""))
    except ValueError:
        seen_at = 0
    if 0 <= now - seen_at < REPEAT_VISIT_SECONDS:
        return
    count_visit(code=code, source=source)
    response.set_cookie(
        cookie,
        str(now),
        max_age=REPEAT_VISIT_SECONDS,
        path="/r/",
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


@patient_required
@require_http_methods(["GET", "POST"])
def mine(request):
    """The patient's referrals: their code and link, QR code, "text a friend", and the friends they referred."""
    patient = request.user.patient
    # Anyone who has no code yet (say, a member from before the program) gets one now.
    summary = patient_referral_summary(patient=patient, code=code_for_patient(patient))
    form = TextFriendForm(request.POST or None)
    if request.method == "POST" and not summary.can_share:
        # The form is not on the page while sharing is paused: a stale one was sent.
        messages.error(request, "Sharing is paused at the moment, so no invitation was sent.")
        return redirect("referrals:mine")
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"].strip()
        try:
            text_a_friend(patient=patient, code=summary.code, phone=form.cleaned_data["phone"], friend_name=name)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, f"Invitation sent{f' to {name}' if name else ''}. Thank you for sharing!")
            return redirect("referrals:mine")
    page = Paginator(patient_referrals(patient=patient), FRIENDS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"summary": summary, "form": form, "page": page, "friends": friend_rows(page.object_list)}
    if summary.can_share:
        context["share_url"] = share_url(summary.code)
        context["qr_svg"] = qr_svg_inline(
            share_url(summary.code, source="qr"), f"QR code of your invite link, code {summary.code.code}"
        )
    return render(request, "referrals/mine.html", context)


@patient_required
@require_GET
def qr_download(request):
    """The patient's invite QR code as a PNG with the practice's logo, to print or post."""
    patient = request.user.patient
    code = shareable_code(patient=patient, code=code_for_patient(patient))
    if code is None:
        raise Http404("Sharing is paused.")
    return qr_png_response(code)


def qr_png_response(code: ReferralCode) -> HttpResponse:
    practice = current_practice()
    response = HttpResponse(qr_png(share_url(code, source="qr"), practice=practice), content_type="image/png")
    response["Content-Disposition"] = f'attachment; filename="{practice.slug}-invite-{code.code}.png"'
    return response


def home_panel_context(request, patient) -> dict:
    summary = patient_referral_summary(patient=patient, code=code_for_patient(patient))
    return {"summary": summary, "share_url": share_url(summary.code) if summary.can_share else ""}
