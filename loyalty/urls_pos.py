"""The POS API (included under /api/v1/ by config.urls_practice)."""

from django.urls import path

from . import api_pos, api_pos_lists

api_urlpatterns: list = [
    # POST records a sale (api_pos.PurchaseCreate), GET lists them.
    path("pos/purchases", api_pos_lists.Purchases.as_view(), name="pos_purchases"),
    path("pos/purchases/batch", api_pos.PurchaseBatchCreate.as_view(), name="pos_purchases_batch"),
    path("pos/refunds/batch", api_pos.RefundBatchCreate.as_view(), name="pos_refunds_batch"),
    path("pos/purchases/<int:purchase_id>", api_pos.PurchaseDetail.as_view(), name="pos_purchase"),
    path("pos/purchases/<int:purchase_id>/refunds", api_pos.RefundCreate.as_view(), name="pos_refunds"),
    path("pos/refunds", api_pos_lists.RefundList.as_view(), name="pos_refund_list"),
    path("pos/patients", api_pos.PatientLookup.as_view(), name="pos_patients"),
]
