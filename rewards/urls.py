"""The rewards app's pages, one "rewards" namespace (staff pages and patient pages)."""

from . import urls_patient, urls_staff

app_name = "rewards"

urlpatterns = [*urls_staff.urlpatterns, *urls_patient.urlpatterns]
