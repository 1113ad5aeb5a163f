"""Telling a patient something: the in-app inbox, web push and SMS, decided in one place.

Every app notifies patients through `notify`; it writes the inbox item and queues the sending on the
channels the patient chose in the same transaction.
"""

import base64
import binascii
import ipaddress
import logging
import re
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from practices.selectors import current_practice, practice_url
from practices.tasks import enqueue_for_practice

from . import push
from .errors import PatientError
from .models import Activity, Message, Notification, Patient, PushSubscription
from .services import record_activity

logger = logging.getLogger(__name__)

PUSH_TASK = "patients.notification_tasks.send_push"
# Host names that only make sense inside a network: the server must never be made to post there.
PRIVATE_HOST_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa")
BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
STOP_WORD = re.compile(r"\bSTOP\b")


class InvalidPushSubscription(PatientError):
    code = "invalid_push_subscription"


def notify(
    *,
    patient: Patient,
    title: str,
    body: str,
    url: str = "",
    marketing: bool = False,
    sms_body: str | None = None,
) -> Notification:
    """Put the message in the patient's inbox, and queue its push and text as the patient chose, all in one
    transaction (so neither is lost if the process stops after commit).

    Marketing SMS go through `queue_sms` as MARKETING, which holds back those without consent.
    """
    _check_link(url)
    with transaction.atomic():
        notification = Notification.objects.create(
            patient=patient, title=title[:120], body=body, url=url, is_marketing=marketing
        )
        channels = ["inbox"]
        if patient.notify_by_push and push.is_configured() and patient.push_subscriptions.exists():
            channels.append("push")
            enqueue_for_practice(PUSH_TASK, notification.pk, key=f"push:{notification.pk}")
        if patient.notify_by_sms and patient.phone:
            channels.append("sms")
            text = sms_body or _sms_text(title=title, body=body, url=url)
            if marketing and not STOP_WORD.search(text):
                # Carriers expect marketing texts to say how to opt out.
                text += "\nReply STOP to opt out."
            purpose = Message.Purpose.MARKETING if marketing else Message.Purpose.TRANSACTIONAL
            _queue_sms(patient=patient, text=text, purpose=purpose)
        record_activity(
            patient=patient,
            kind=Activity.Kind.MESSAGE_SENT,
            summary=f"Notified: {title}",
            data={"notification_id": notification.pk, "channels": channels, "marketing": marketing},
        )
    return notification


def _queue_sms(*, patient: Patient, text: str, purpose: str) -> None:
    # Imported when a text is actually due, so that patients.messaging may import this module without a cycle.
    from .messaging import queue_sms

    try:
        # A savepoint: a text that cannot be queued (a number that no longer parses) leaves the inbox item.
        with transaction.atomic():
            queue_sms(to=patient.phone, body=text, purpose=purpose, patient=patient)
    except PatientError:
        logger.warning("No text for patient %s: their number cannot be used", patient.pk, exc_info=True)


def _sms_text(*, title: str, body: str, url: str) -> str:
    practice = current_practice()
    lines = [f"{practice.sms_name}: {title}"]
    if body:
        lines.append(body)
    if url:
        # A text message needs the full address; inbox links are paths on the practice's host.
        lines.append(practice_url(practice, url) if url.startswith("/") else url)
    return "\n".join(lines)


def _check_link(url: str) -> None:
    if len(url) > Notification._meta.get_field("url").max_length:
        raise ValueError("A notification link must fit in 300 characters.")
    # The link becomes an href and is opened by the service worker: only our own paths or web pages.
    if not url or (url.startswith("/") and not url.startswith("//")):
        return
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"A notification link must be a path or an http(s) URL, not {url!r}.")


def mark_read(*, patient: Patient, notification_ids: list[int] | None = None) -> int:
    """Mark the patient's unread notifications read (all, or those ids); other patients' ids are ignored.

    Returns how many notifications changed from unread to read.
    """
    unread = Notification.objects.filter(patient=patient, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    return unread.update(read_at=timezone.now())


def patient_notifications(*, patient: Patient) -> QuerySet[Notification]:
    """The patient's inbox, newest first."""
    return Notification.objects.filter(patient=patient).order_by("-created_at", "-id")


def unread_count(*, patient: Patient) -> int:
    return Notification.objects.filter(patient=patient, read_at__isnull=True).count()


@transaction.atomic
def subscribe_push(
    *, patient: Patient, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> PushSubscription:
    """Record a browser's push subscription for the patient; one row per endpoint, updated when seen again.

    A browser keeps its endpoint when another patient signs in on it, so the row moves to that patient.
    """
    _check_endpoint(endpoint)
    _check_key(p256dh, length=65, name="p256dh")
    _check_key(auth, length=16, name="auth")
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={"patient": patient, "p256dh": p256dh, "auth": auth, "user_agent": user_agent[:300]},
    )
    return subscription


def unsubscribe_push(*, patient: Patient, endpoint: str) -> bool:
    """Forget the patient's subscription for this endpoint; False when the patient had none."""
    deleted, _ = PushSubscription.objects.filter(patient=patient, endpoint=endpoint).delete()
    return deleted > 0


def _check_endpoint(endpoint: str) -> None:
    # The server posts to this address: refuse anything that could point it at an internal service.
    invalid = InvalidPushSubscription("This is not a web push address.", field="endpoint")
    if len(endpoint) > PushSubscription._meta.get_field("endpoint").max_length:
        raise invalid
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise invalid from None
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or parts.username or parts.password or port not in (None, 443):
        raise invalid
    if "." not in host or host.endswith(PRIVATE_HOST_SUFFIXES) or _is_ip_address(host):
        raise invalid


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_key(value: str, *, length: int, name: str) -> None:
    # Browsers send base64url without padding; a key of the wrong size would fail every push.
    raw = b""
    if BASE64URL.match(value):
        try:
            raw = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
        except (binascii.Error, ValueError):
            raw = b""
    if len(raw) != length:
        raise InvalidPushSubscription(f"The {name} key is not valid.", field="keys")
