"""Background entry points for notifications (queued with practices.tasks.enqueue_for_practice)."""

from . import push
from .models import Notification


def send_push(notification_id: int) -> int:
    """Push one inbox notification to its patient's browsers; returns how many accepted it.

    Runs inside the practice's schema. A notification deleted since, or a patient who turned push
    off since, gets nothing; a retry after a transient failure shows the same notification again,
    which the service worker collapses (see static/js/sw.js).
    """
    notification = Notification.objects.select_related("patient").filter(pk=notification_id).first()
    if notification is None or not notification.patient.notify_by_push:
        return 0
    return push.send_notification_push(notification=notification)
