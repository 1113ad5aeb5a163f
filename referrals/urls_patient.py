"""Share links and patient pages of the referral program (included by referrals.urls)."""

from django.urls import path

from . import views_patient

urlpatterns: list = [
    path("r/<str:code>", views_patient.share, name="share"),
    path("r/<str:code>/", views_patient.share),  # the same link typed with a trailing slash
    path("referrals/", views_patient.mine, name="mine"),
    path("referrals/qr.png", views_patient.qr_download, name="qr_png"),
]
