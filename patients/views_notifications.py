"""Patient pages for notifications (the inbox) and the files that make the patient app installable."""

import hashlib
import json
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

from practices.brand_images import picture_url
from practices.selectors import current_practice, short_name

from . import notifications, push
from .access import patient_of, patient_required
from .models import Notification

INBOX_PAGE_SIZE = 20


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
    """The web app manifest, branded per practice: name, colour, and icons drawn from its logo (or initials)."""
    practice = current_practice()
    icons = [
        {"src": picture_url(practice, name), "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
        for name, size, purpose in (
            ("icon-192", 192, "any"),
            ("icon-512", 512, "any"),
            ("maskable-192", 192, "maskable"),
            ("maskable-512", 512, "maskable"),
        )
    ]
    data = {
        "name": practice.name,
        "short_name": short_name(practice),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": practice.primary_color,
        "background_color": "#ffffff",
        "icons": icons,
    }
    return JsonResponse(data, content_type="application/manifest+json")


# What the service worker keeps for when the network is down: the offline page and what it needs to show.
SHELL_STATIC = ("css/app.css", "js/pwa.js", "vendor/htmx-2.0.11/htmx.min.js")
SHELL_ICONS = ("icon-192", "icon-512", "apple-touch-icon")


def shell_urls(practice) -> list[str]:
    """The app shell the service worker caches. Static addresses carry their content's hash in production, and
    icons the brand's version, so any change to them is a new list, a new worker and a new cache."""
    return (
        [reverse("notifications:offline")]
        + [static(path) for path in SHELL_STATIC]
        + [picture_url(practice, name) for name in SHELL_ICONS]
    )


@require_safe
def service_worker(request):
    """The service worker, served from the root so that its scope covers the whole patient app.

    Its first lines name the cache's version and the shell to keep; the version changes with the worker's own
    code and with the shell, so a deploy (or a new logo) installs a new worker, which replaces the old cache.
    """
    path = finders.find("js/sw.js")
    if not path:
        raise Http404("No service worker.")
    with open(path, encoding="utf-8") as source:
        code = source.read()
    shell = shell_urls(current_practice())
    version = hashlib.sha256((code + "\n".join(shell)).encode()).hexdigest()[:16]
    prelude = (
        f"const CACHE_VERSION = {json.dumps(version)};\n"
        f"const OFFLINE_URL = {json.dumps(reverse('notifications:offline'))};\n"
        f"const SHELL = {json.dumps(shell)};\n"
    )
    response = HttpResponse(prelude + code, content_type="application/javascript; charset=utf-8")
    # Browsers must see a new version on their next update check, not a cached one.
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def offline(request):
    """What the installed app shows when the network is down (the service worker keeps a copy)."""
    return render(request, "patients/offline.html")
