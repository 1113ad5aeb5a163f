"""Twilio's webhooks on the practice's host: inbound SMS (STOP/START/HELP) and delivery reports.

Twilio signs each request with the account's auth token over the exact URL it called and the
POST parameters; anything that fails the check is refused before it can change consent.
"""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from . import messaging

logger = logging.getLogger(__name__)


def is_signed_by_twilio(request: HttpRequest) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    # build_absolute_uri follows X-Forwarded-Host/Proto when BEHIND_PROXY is set, so it is the URL Twilio signed.
    return RequestValidator(token).validate(request.build_absolute_uri(), request.POST, signature)


def forbidden(request: HttpRequest) -> HttpResponse:
    logger.warning("Refused an unsigned or forged Twilio request to %s", request.path)
    return HttpResponseForbidden("Invalid Twilio signature.")


@csrf_exempt  # Twilio cannot hold a CSRF token; the signature check stands in for it.
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not is_signed_by_twilio(request):
        return forbidden(request)
    reply = messaging.handle_inbound(from_number=request.POST.get("From", ""), body=request.POST.get("Body", ""))
    twiml = MessagingResponse()
    if reply:
        twiml.message(reply)
    return HttpResponse(str(twiml), content_type="text/xml")


@csrf_exempt  # Twilio cannot hold a CSRF token; the signature check stands in for it.
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not is_signed_by_twilio(request):
        return forbidden(request)
    messaging.handle_status_callback(
        provider_id=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)
