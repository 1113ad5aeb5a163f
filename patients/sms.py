"""SMS backends: how a message leaves the building, chosen by settings.SMS_BACKEND.

"twilio" sends for real, "console" prints to the terminal (development: sign-in codes show up
where the developer is looking), "locmem" keeps messages in `outbox` for tests. Every backend's
`send` returns the provider's message id, or raises SmsTemporaryError (worth retrying) or
SmsPermanentError (retrying cannot help). Rules about who may be messaged and when live in
patients.messaging; backends only deliver.
"""

import sys
import uuid
from dataclasses import dataclass
from typing import Protocol, TextIO

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from practices.selectors import current_practice, practice_url

# The send happens while deliver_message holds the message's row lock: bound how long that can be.
TWILIO_TIMEOUT_SECONDS = 15
# Twilio's "Attempt to send to unsubscribed recipient": the number replied STOP at the carrier level.
TWILIO_UNSUBSCRIBED = 21610


class SmsError(Exception):
    """A message could not be handed to the provider. `code` is the provider's error code, if any."""

    def __init__(self, message: str, *, code: int | None = None):
        super().__init__(message)
        self.code = code


class SmsTemporaryError(SmsError):
    """The provider or the network failed in a way that may pass: try again later."""


class SmsPermanentError(SmsError):
    """The provider refused this message for good (invalid number, unsubscribed recipient, ...)."""


class SmsBackend(Protocol):
    def send(self, *, to: str, body: str, purpose: str) -> str: ...


class TwilioBackend:
    """Sends through Twilio's Messages API, asking for status callbacks on the practice's host."""

    def __init__(self) -> None:
        missing = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not getattr(settings, name, "")]
        if not (settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID):
            missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        if missing:
            # Loud rather than marking messages failed: nothing is wrong with them, the server is misconfigured,
            # and they stay queued until it is fixed.
            raise ImproperlyConfigured(f"SMS_BACKEND is 'twilio' but these settings are empty: {', '.join(missing)}.")

    def send(self, *, to: str, body: str, purpose: str) -> str:
        params: dict[str, str] = {"to": to, "body": body}
        # A messaging service picks the sender from its pool; when one is configured, it wins.
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            params["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            params["from_"] = settings.TWILIO_FROM_NUMBER
        # Twilio reports delivery to the practice's own host, where the message's row lives.
        params["status_callback"] = practice_url(current_practice(), reverse("sms_twilio_status"))
        try:
            client = Client(
                settings.TWILIO_ACCOUNT_SID,
                settings.TWILIO_AUTH_TOKEN,
                http_client=TwilioHttpClient(timeout=TWILIO_TIMEOUT_SECONDS),
            )
            sent = client.messages.create(**params)
        except TwilioRestException as exc:
            text = f"Twilio error {exc.code or exc.status}: {exc.msg}"
            if exc.status == 429 or exc.status >= 500:
                raise SmsTemporaryError(text, code=exc.code) from exc
            raise SmsPermanentError(text, code=exc.code) from exc
        except (requests.RequestException, OSError) as exc:
            raise SmsTemporaryError(f"Could not reach Twilio: {exc}") from exc
        except TwilioException as exc:
            raise SmsPermanentError(f"Twilio refused the message: {exc}") from exc
        return sent.sid


class ConsoleBackend:
    """Prints each message, so developers read sign-in codes in the terminal running the server or worker."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, *, to: str, body: str, purpose: str) -> str:
        provider_id = f"console-{uuid.uuid4().hex[:16]}"
        self.stream.write(f"SMS to {to} ({purpose}) : {body}\n")
        self.stream.flush()
        return provider_id


@dataclass(frozen=True)
class OutboxMessage:
    to: str
    body: str
    purpose: str
    provider_id: str


# What the locmem backend "sent", oldest first. Cleared in place so `from patients.sms import outbox` stays valid.
outbox: list[OutboxMessage] = []


def reset_outbox() -> None:
    outbox.clear()


class LocmemBackend:
    """Keeps messages in `outbox` (tests read it)."""

    def send(self, *, to: str, body: str, purpose: str) -> str:
        provider_id = f"locmem-{uuid.uuid4().hex[:16]}"
        outbox.append(OutboxMessage(to=to, body=body, purpose=purpose, provider_id=provider_id))
        return provider_id


BACKENDS: dict[str, type] = {"twilio": TwilioBackend, "console": ConsoleBackend, "locmem": LocmemBackend}


def get_backend() -> SmsBackend:
    """The backend named by settings.SMS_BACKEND, ready to send."""
    try:
        backend_class = BACKENDS[settings.SMS_BACKEND]
    except KeyError:
        raise ImproperlyConfigured(
            f"SMS_BACKEND must be one of {', '.join(BACKENDS)}; got {settings.SMS_BACKEND!r}."
        ) from None
    return backend_class()
