"""Pages of the rewards app (included by rewards.urls under the "rewards" namespace)."""

urlpatterns: list = []
