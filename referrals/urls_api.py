"""The referral API for patients (included under /api/v1/ by config.urls_practice)."""

from django.urls import path

from . import api

api_urlpatterns: list = [
    path("me/referrals", api.MeReferrals.as_view(), name="me_referrals"),
    path("me/referrals/invite", api.MeReferralInvite.as_view(), name="me_referral_invite"),
    path("me/referrals/qr.png", api.MeReferralQr.as_view(), name="me_referral_qr"),
]
