"""The rewards API for patients and the POS (included under /api/v1/ by config.urls_practice)."""

api_urlpatterns: list = []
