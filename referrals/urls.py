"""The referral program's pages, one "referrals" namespace (share links, patient pages, staff pages)."""

from . import urls_patient, urls_staff, urls_tv

app_name = "referrals"

urlpatterns = [*urls_staff.urlpatterns, *urls_patient.urlpatterns, *urls_tv.urlpatterns]
