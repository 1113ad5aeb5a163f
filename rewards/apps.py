from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "rewards"

    def ready(self) -> None:
        from patients.records import register_record_part
        from patients.staff_sections import PatientPanel, register_patient_panel
        from practices.demo import register_demo_step

        from .demo import seed_rewards
        from .records import REWARDS_PART
        from .views_staff import patient_panel_context

        register_patient_panel(
            PatientPanel(template="rewards/staff/_patient_panel.html", context=patient_panel_context, order=20)
        )
        register_record_part(REWARDS_PART)
        register_demo_step(seed_rewards)
