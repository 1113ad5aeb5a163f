from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from loyalty.demo import seed_purchases
        from loyalty.signals import purchase_refunded, purchases_recorded
        from patients.codes import register_code_resolver
        from patients.records import register_record_part
        from patients.signals import patient_joined
        from patients.staff_sections import PatientPanel, register_home_panel, register_patient_panel
        from practices.demo import register_demo_step
        from practices.models import StaffMember

        from . import receivers
        from .demo import seed_referrals
        from .records import REFERRALS_PART
        from .views_patient import home_panel_context
        from .views_staff import patient_panel_context

        register_code_resolver(receivers.resolve_code)
        register_record_part(REFERRALS_PART)
        patient_joined.connect(receivers.on_patient_joined, dispatch_uid="referrals-joined")
        purchases_recorded.connect(receivers.on_purchases_recorded, dispatch_uid="referrals-purchase")
        purchase_refunded.connect(receivers.on_purchase_refunded, dispatch_uid="referrals-refund")
        post_save.connect(receivers.on_staff_saved, sender=StaffMember, dispatch_uid="referrals-staff-code")
        register_patient_panel(
            PatientPanel(template="referrals/staff/_patient_panel.html", context=patient_panel_context, order=30)
        )
        register_home_panel(PatientPanel(template="referrals/_home_panel.html", context=home_panel_context, order=20))
        # Referrals are made at sign-up, so before the year of purchases that qualifies them.
        register_demo_step(seed_referrals, before=seed_purchases)
