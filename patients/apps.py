from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"

    def ready(self) -> None:
        from practices.demo import register_demo_step

        from .demo import seed_patients
        from .merging import PATIENTS_PART
        from .records import register_record_part

        register_demo_step(seed_patients)
        register_record_part(PATIENTS_PART)
