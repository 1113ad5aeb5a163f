from django.urls import path

from . import api, views

app_name = "practices"

urlpatterns = [
    path("staff/", views.staff_dashboard, name="staff_dashboard"),
]

api_urlpatterns = [
    path("", api.ApiRoot.as_view(), name="api_root"),
    path("practice", api.CurrentPractice.as_view(), name="api_practice"),
]
