"""URLs of the analytics app (included by config.urls_practice); the staff home (/staff/) shows the same dashboard."""

from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path("staff/analytics/", views.dashboard, name="dashboard"),
    path("staff/desk/", views.desk, name="desk"),
    path("staff/analytics/live/", views.live, name="live"),
    path("staff/analytics/export/<slug:table>.csv", views.export, name="export"),
    path("staff/analytics/at-risk/", views.at_risk, name="at_risk"),
]
