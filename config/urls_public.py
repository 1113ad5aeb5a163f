"""URLs on the platform host (BASE_DOMAIN itself)."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import path

from practices import api, views

urlpatterns = [
    path("", views.platform_home, name="platform_home"),
    path("admin/", admin.site.urls),
    path("api/v1/practices/resolve", api.ResolvePractice.as_view(), name="resolve_practice"),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
