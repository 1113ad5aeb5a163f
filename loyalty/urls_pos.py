"""The POS API (included under /api/v1/ by config.urls_practice)."""

api_urlpatterns: list = []
