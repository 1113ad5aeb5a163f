from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"

    def ready(self) -> None:
        from practices.demo import register_demo_step

        from .demo import seed_patients

        register_demo_step(seed_patients)
