"""The rewards API for patients and the POS (included under /api/v1/ by config.urls_practice)."""

from django.urls import path

from . import api, api_pos

api_urlpatterns: list = [
    path("rewards", api.RewardList.as_view(), name="rewards"),
    path("rewards/<int:reward_id>/redeem", api.RewardRedeem.as_view(), name="reward_redeem"),
    path("me/vouchers", api.MeVouchers.as_view(), name="me_vouchers"),
    path("me/vouchers/<int:voucher_id>", api.MeVoucherDetail.as_view(), name="me_voucher"),
    path("me/vouchers/<int:voucher_id>/cancel", api.MeVoucherCancel.as_view(), name="me_voucher_cancel"),
    path("pos/vouchers", api_pos.PosVoucherList.as_view(), name="pos_vouchers"),
    path("pos/vouchers/<str:code>", api.PosVoucherDetail.as_view(), name="pos_voucher"),
    path("pos/vouchers/<str:code>/use", api.PosVoucherUse.as_view(), name="pos_voucher_use"),
]
