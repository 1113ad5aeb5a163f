"""URLs on a practice's host (<slug>.<BASE_DOMAIN>).

No /admin/ here (a 404): staff work in the staff portal; the admin is the platform operators', on the platform
host, behind a second factor (practices/admin_site.py).
"""

from django.conf import settings
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config import api_docs
from config import errors as views_closed
from loyalty import urls as loyalty_urls
from loyalty import urls_pos as pos_urls
from patients import headless as patient_headless_urls
from patients import urls as patient_urls
from patients import urls_notifications as notification_urls
from practices import urls as practice_urls
from practices import urls_two_factor as two_factor_urls
from practices import views_media
from referrals import urls as referrals_urls
from referrals import urls_api as referrals_api_urls
from rewards import urls as rewards_urls
from rewards import urls_api as rewards_api_urls

CLOSED_ACCOUNT_PAGES = ["signup/", "email/", "phone/change/", "phone/verify/", "password/set/"]

urlpatterns = [
    # The API first: the POS posts hundreds of sales a second, and each pattern tried before a match costs.
    path(
        "api/v1/",
        include(
            (
                pos_urls.api_urlpatterns
                + practice_urls.api_urlpatterns
                + patient_urls.api_urlpatterns
                + notification_urls.api_urlpatterns
                + loyalty_urls.api_urlpatterns
                + rewards_api_urls.api_urlpatterns
                + referrals_api_urls.api_urlpatterns,
                "api",
            )
        ),
    ),
    # Staff manage their own two-factor here (allauth's pages, for staff only), before allauth's URLs.
    path("staff/2fa/", include(two_factor_urls.two_factor_urlpatterns)),
    # allauth's account pages this product does not use answer 404: patients change their details on their
    # own profile page (email through a confirmation link), staff have no email, phone or sign-up pages of
    # their own, and nobody sets a password without knowing the old one (staff) or may have one (patients).
    *[path(f"staff/{page}", views_closed.not_here) for page in CLOSED_ACCOUNT_PAGES],
    path("staff/", include("allauth.urls")),
    # After allauth's URLs: the patient join/sign-in pages take over the names allauth redirects to.
    *patient_urls.allauth_overrides,
    path("", include(patient_urls)),
    *two_factor_urls.headless_urlpatterns,
    # The app's sign-up and sign-in with the patients' rules (patients/headless.py), ahead of allauth's own.
    path("_allauth/app/v1/auth/", include(patient_headless_urls)),
    path("_allauth/", include("allauth.headless.urls")),
    path("", include(practice_urls)),
    path("", include("patients.urls_sms")),
    path("", include("patients.urls_notifications")),
    path("", include(loyalty_urls)),
    path("", include(rewards_urls)),
    path("", include(referrals_urls)),
    path("", include("analytics.urls")),
    path("api/schema/", SpectacularAPIView.as_view(urlconf="config.urls_practice"), name="api_schema"),
    path("api/docs/", api_docs.swagger_view(), name="api_docs"),
    path("api/redoc/", api_docs.redoc_view(), name="api_redoc"),
]
# Public uploads of the practice (or the platform) on its own host; see practices.views_media.
urlpatterns.append(path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", views_media.media, name="media"))

handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
# allauth's rate limits answer 429 with Retry-After and a page saying when to try again (allauth looks it up here).
handler429 = "patients.ratelimits.handler429"
