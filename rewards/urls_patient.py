"""Pages of the rewards app (included by rewards.urls under the "rewards" namespace)."""

from django.urls import path

from . import views_patient

urlpatterns: list = [
    path("rewards/", views_patient.rewards, name="rewards"),
    path("rewards/<int:reward_id>/", views_patient.reward, name="redeem"),
    path("vouchers/", views_patient.vouchers, name="vouchers"),
    path("vouchers/<int:voucher_id>/", views_patient.voucher, name="my_voucher"),
    path("vouchers/<int:voucher_id>/cancel/", views_patient.voucher_cancel, name="my_voucher_cancel"),
]
