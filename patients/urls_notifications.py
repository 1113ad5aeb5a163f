"""URLs of this part of the patients app (included by config.urls_practice)."""

urlpatterns: list = []
