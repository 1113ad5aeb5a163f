from django.apps import AppConfig


class PracticesConfig(AppConfig):
    name = "practices"
    verbose_name = "Practices"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import signals

        post_migrate.connect(signals.ensure_daily_schedule, sender=self)
