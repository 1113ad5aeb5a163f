"""Shared pieces for the notification tests: patients who can use the patient pages, browsers, a fake push service."""

import base64
import itertools
import json
import os
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.utils import timezone
from pywebpush import WebPushException

from patients.models import Patient, PushSubscription
from tests.factories import PatientFactory

_endpoints = itertools.count(1)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def browser_keys() -> dict:
    """Keys of the sizes a browser sends (a 65-byte P-256 point, a 16-byte secret)."""
    return {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": b64url(os.urandom(16))}


def new_endpoint() -> str:
    return f"https://fcm.googleapis.com/fcm/send/device-{next(_endpoints)}"


def signed_up_patient(**fields) -> Patient:
    """A patient who finished joining (accepted the terms), so the patient pages let them in."""
    return PatientFactory(terms_accepted_at=timezone.now(), **fields)


def subscribe(patient: Patient, endpoint: str | None = None) -> PushSubscription:
    keys = browser_keys()
    return PushSubscription.objects.create(
        patient=patient, endpoint=endpoint or new_endpoint(), p256dh=keys["p256dh"], auth=keys["auth"]
    )


@dataclass
class FakePushService:
    """Stands in for pywebpush.webpush: records each call, and fails for endpoints told to."""

    calls: list[dict] = field(default_factory=list)
    failures: dict[str, Exception] = field(default_factory=dict)

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        endpoint = kwargs["subscription_info"]["endpoint"]
        if endpoint in self.failures:
            raise self.failures[endpoint]
        return SimpleNamespace(status_code=201)

    def fail(self, endpoint: str, status: int) -> None:
        self.failures[endpoint] = WebPushException(
            f"Push failed: {status}", response=SimpleNamespace(status_code=status, text="", headers={})
        )

    @property
    def endpoints(self) -> list[str]:
        return [call["subscription_info"]["endpoint"] for call in self.calls]

    @property
    def payloads(self) -> list[dict]:
        return [json.loads(call["data"]) for call in self.calls]
