from django.apps import AppConfig


class PracticesConfig(AppConfig):
    name = "practices"
    verbose_name = "Practices"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import signals, two_factor  # noqa: F401 (two_factor records allauth's MFA signals)

        post_migrate.connect(signals.ensure_daily_schedule, sender=self)
