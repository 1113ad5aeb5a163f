from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from patients.models import Patient

        from .receivers import open_points_account

        post_save.connect(open_points_account, sender=Patient, dispatch_uid="loyalty-open-account")
