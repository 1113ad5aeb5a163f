"""Staff pages of the points engine (included by loyalty.urls under the "loyalty" namespace)."""

urlpatterns: list = []
