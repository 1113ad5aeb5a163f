"""Staff pages used at the desk (included by loyalty.urls under the "loyalty" namespace)."""

from django.urls import path

from . import views_desk

urlpatterns = [
    path("staff/checkout/", views_desk.checkout, name="checkout"),
    path("staff/checkout/quote/", views_desk.checkout_quote, name="checkout_quote"),
    path("staff/checkout/items/", views_desk.checkout_items, name="checkout_items"),
    path("staff/checkout/line/", views_desk.checkout_line, name="checkout_line"),
    path("staff/purchases/<int:purchase_id>/", views_desk.purchase_detail, name="purchase_detail"),
    path("staff/purchases/<int:purchase_id>/print/", views_desk.purchase_print, name="purchase_print"),
    path("staff/purchases/<int:purchase_id>/refund/", views_desk.purchase_refund, name="purchase_refund"),
    path("staff/actions/<int:action_id>/award/", views_desk.action_award, name="action_award"),
    path("staff/patients/<int:patient_id>/points/award/", views_desk.patient_award, name="patient_award"),
]
