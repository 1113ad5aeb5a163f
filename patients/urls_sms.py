"""URLs of this part of the patients app (included by config.urls_practice): Twilio's webhooks."""

from django.urls import path

from . import webhooks

urlpatterns: list = [
    path("sms/twilio/inbound", webhooks.twilio_inbound, name="sms_twilio_inbound"),
    path("sms/twilio/status", webhooks.twilio_status, name="sms_twilio_status"),
]
