"""The referral API for patients (included under /api/v1/ by config.urls_practice)."""

api_urlpatterns: list = []
