from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self) -> None:
        from practices.demo import register_demo_step
        from practices.views import register_staff_home

        from .demo import build_rollups, seed_voucher_use
        from .views import staff_home

        register_staff_home(staff_home)
        # Last of the demo steps (analytics is installed last): the year of history is written by then.
        register_demo_step(seed_voucher_use)
        register_demo_step(build_rollups)
