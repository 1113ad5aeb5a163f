"""Web push to the patient web app installed on a phone (VAPID-signed, through pywebpush).

Only `patients.notifications` decides who is notified; this module delivers to one browser at a time.
"""

import json
import logging

import requests
from django.conf import settings
from django.utils import timezone
from pywebpush import WebPushException, webpush

from .models import Notification, PushSubscription

logger = logging.getLogger(__name__)

# The push service answers these for a subscription the browser has dropped: it will never work again.
GONE_STATUSES = frozenset({404, 410})
# Worth another attempt later: the push service is throttling us or has trouble of its own.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Push services keep an undelivered message this long (seconds) while the phone is offline.
TIME_TO_LIVE = 24 * 60 * 60
# A push service that does not answer must not hold a worker for the task's whole timeout.
REQUEST_TIMEOUT = 10
# Push services accept about 4 KB of encrypted payload; the inbox holds the full text anyway.
MAX_BODY_CHARS = 1000

_unconfigured_logged = False


class TransientPushError(Exception):
    """A push failed in a way that may succeed later; raised so the task is retried."""


def is_configured() -> bool:
    return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY)


def payload_for(notification: Notification) -> dict:
    """What the service worker receives: everything it needs to show the notification and open its link."""
    return {"title": notification.title, "body": notification.body[:MAX_BODY_CHARS], "url": notification.url}


def send_to_subscription(*, subscription: PushSubscription, payload: dict) -> bool:
    """Deliver one payload to one browser; True when the push service accepted it.

    A subscription the push service reports gone is deleted. Failures that may pass (network,
    throttling, 5xx) are re-raised as TransientPushError; anything else is logged and dropped.
    """
    try:
        webpush(
            subscription_info={
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            data=json.dumps(payload),
            vapid_private_key=settings.VAPID_PRIVATE_KEY,
            # A fresh dict each time: pywebpush writes "aud" and "exp" into the claims it is given.
            vapid_claims={"sub": settings.VAPID_CONTACT},
            ttl=TIME_TO_LIVE,
            timeout=REQUEST_TIMEOUT,
        )
    except WebPushException as exc:
        status = exc.status_code
        if status in GONE_STATUSES:
            logger.info("Push subscription %s is gone (%s); deleting it", subscription.pk, status)
            subscription.delete()
            return False
        if status in TRANSIENT_STATUSES:
            logger.warning("Push to subscription %s failed with %s; will retry", subscription.pk, status)
            raise TransientPushError(str(exc)) from exc
        # Malformed keys or a refused VAPID signature: retrying cannot help.
        logger.error("Push to subscription %s failed: %s", subscription.pk, exc)
        return False
    except requests.RequestException as exc:
        logger.warning("Push to subscription %s could not reach the push service: %s", subscription.pk, exc)
        raise TransientPushError(str(exc)) from exc
    PushSubscription.objects.filter(pk=subscription.pk).update(last_used_at=timezone.now())
    return True


def send_notification_push(*, notification: Notification) -> int:
    """Push the notification to every browser of its patient; returns how many accepted it.

    Every subscription is tried before a transient failure is re-raised, so one unreachable
    browser does not keep the others from getting the message.
    """
    global _unconfigured_logged
    if not is_configured():
        if not _unconfigured_logged:
            logger.info("Web push is off: VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are not set")
            _unconfigured_logged = True
        return 0
    payload = payload_for(notification)
    delivered = 0
    transient: TransientPushError | None = None
    for subscription in PushSubscription.objects.filter(patient_id=notification.patient_id).order_by("pk"):
        try:
            delivered += send_to_subscription(subscription=subscription, payload=payload)
        except TransientPushError as exc:
            transient = transient or exc
    if transient is not None:
        raise transient
    return delivered
