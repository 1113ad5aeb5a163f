"""URLs on the platform host (BASE_DOMAIN itself)."""

from django.conf import settings
from django.contrib import admin
from django.urls import path

from practices import api, views, views_media
from practices import urls_two_factor as two_factor_urls

urlpatterns = [
    path("", views.platform_home, name="platform_home"),
    path("admin/", admin.site.urls),
    # Operators sign in here, with their second factor, rather than on the admin's own form.
    *two_factor_urls.platform_urlpatterns,
    path("api/v1/practices/resolve", api.ResolvePractice.as_view(), name="resolve_practice"),
]
# Public uploads of the practice (or the platform) on its own host; see practices.views_media.
urlpatterns.append(path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", views_media.media, name="media"))

handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
