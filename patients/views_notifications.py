"""Patient pages for notifications (the inbox) and the files that make the patient app installable."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST, require_safe

from practices.selectors import branding

from . import notifications, push
from .access import patient_of, patient_required
from .models import Notification

INBOX_PAGE_SIZE = 20
# Home-screen labels are cut off beyond about a dozen characters.
SHORT_NAME_CHARS = 12


@require_safe
@patient_required
def inbox(request):
    patient = patient_of(request.user)
    page = Paginator(notifications.patient_notifications(patient=patient), INBOX_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "patients/inbox.html",
        {
            "page_obj": page,
            "unread_count": notifications.unread_count(patient=patient),
            # The button is offered only when the server can actually send pushes.
            "push_public_key": settings.VAPID_PUBLIC_KEY if push.is_configured() and patient.notify_by_push else "",
        },
    )


@require_POST
@patient_required
def mark_all_read(request):
    notifications.mark_read(patient=patient_of(request.user))
    return redirect(reverse("notifications:inbox"))


@require_POST
@patient_required
def mark_read(request, notification_id: int):
    # Looked up within the patient's own inbox: another patient's id is a 404, never a change.
    patient = patient_of(request.user)
    notification = get_object_or_404(Notification, pk=notification_id, patient=patient)
    notifications.mark_read(patient=patient, notification_ids=[notification.pk])
    if request.headers.get("HX-Request"):
        notification.refresh_from_db()
        return render(request, "patients/_notification.html", {"notification": notification})
    return redirect(_inbox_url(request.POST.get("page")))


def _inbox_url(page: str | None) -> str:
    url = reverse("notifications:inbox")
    return f"{url}?{urlencode({'page': page})}" if page and page.isdigit() else url


@require_safe
@cache_control(max_age=3600)
def manifest(request):
    """The web app manifest, branded per practice (name, colour, logo)."""
    practice = request.tenant
    brand = branding(practice)
    icons = []
    if brand["logo_url"]:
        icons.append(_logo_icon(practice, brand["logo_url"]))
    icons += [
        {"src": static("img/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static("img/icon-512.png"), "sizes": "512x512", "type": "image/png"},
    ]
    data = {
        "name": practice.name,
        "short_name": _short_name(practice.name),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": practice.primary_color,
        "background_color": "#ffffff",
        "icons": icons,
    }
    return JsonResponse(data, content_type="application/manifest+json")


def _short_name(name: str) -> str:
    if len(name) <= SHORT_NAME_CHARS:
        return name
    words, short = name.split(), ""
    for word in words:
        candidate = f"{short} {word}".strip()
        if len(candidate) > SHORT_NAME_CHARS:
            break
        short = candidate
    return short or name[:SHORT_NAME_CHARS]


def _logo_icon(practice, url: str) -> dict:
    icon = {"src": url}
    try:
        width, height = practice.logo.width, practice.logo.height
    except (OSError, ValueError):
        # A missing or unreadable file: browsers still try the URL and fall back to the generic icons.
        width = height = None
    if width and height:
        icon["sizes"] = f"{width}x{height}"
    return icon


@require_safe
def service_worker(request):
    """The service worker, served from the root so that its scope covers the whole patient app."""
    path = finders.find("js/sw.js")
    if not path:
        raise Http404("No service worker.")
    with open(path, encoding="utf-8") as source:
        response = HttpResponse(source.read(), content_type="application/javascript; charset=utf-8")
    # Browsers must see a new version on their next update check, not a cached one.
    response["Cache-Control"] = "no-cache"
    return response
