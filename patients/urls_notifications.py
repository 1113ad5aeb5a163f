"""URLs of this part of the patients app (included by config.urls_practice).

`urlpatterns`: the inbox, the web app manifest, the service worker (which must be served from
the root to control the whole app) and the page it shows offline. `api_urlpatterns`: included under /api/v1/.
"""

from django.urls import path

from . import api_notifications, views_notifications

app_name = "notifications"

urlpatterns = [
    path("inbox/", views_notifications.inbox, name="inbox"),
    path("inbox/read/", views_notifications.mark_all_read, name="mark_all_read"),
    path("inbox/<int:notification_id>/read/", views_notifications.mark_read, name="mark_read"),
    path("manifest.webmanifest", views_notifications.manifest, name="manifest"),
    path("sw.js", views_notifications.service_worker, name="service_worker"),
    path("offline/", views_notifications.offline, name="offline"),
]

api_urlpatterns = [
    path("notifications", api_notifications.NotificationList.as_view(), name="notification_list"),
    path("notifications/read", api_notifications.MarkRead.as_view(), name="notification_read"),
    path("push-subscriptions", api_notifications.PushSubscriptions.as_view(), name="push_subscriptions"),
    path("push/public-key", api_notifications.PushPublicKey.as_view(), name="push_public_key"),
]
