from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from patients.models import Patient
        from patients.records import register_record_part
        from patients.staff_sections import PatientPanel, register_home_panel, register_patient_panel
        from practices.demo import register_demo_step

        from .demo import seed_program, seed_purchases
        from .panels import home_panel_context
        from .receivers import open_points_account
        from .records import LOYALTY_PART
        from .views_desk import patient_panel_context

        post_save.connect(open_points_account, sender=Patient, dispatch_uid="loyalty-open-account")
        register_patient_panel(
            PatientPanel(template="loyalty/staff/_patient_panel.html", context=patient_panel_context, order=10)
        )
        register_home_panel(PatientPanel(template="loyalty/_home_panel.html", context=home_panel_context, order=10))
        register_record_part(LOYALTY_PART)
        register_demo_step(seed_program)
        register_demo_step(seed_purchases)
