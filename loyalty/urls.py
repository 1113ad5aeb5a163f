"""The points engine's pages, one "loyalty" namespace (staff admin pages, desk pages, patient pages)."""

from django.urls import path

from . import urls_admin, urls_desk, views, views_import

app_name = "loyalty"

urlpatterns = [
    path("points/", views.history, name="history"),
    path("staff/purchases/import/", views_import.purchase_import, name="purchase_import"),
    *urls_admin.urlpatterns,
    *urls_desk.urlpatterns,
]

api_urlpatterns = [
    path("me/points", views.MePoints.as_view(), name="me_points"),
    path("me/ledger", views.MeLedger.as_view(), name="me_ledger"),
]
