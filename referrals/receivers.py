"""How the referral program reacts to the lower apps: joins, purchases, refunds and new staff."""

from patients.models import Patient
from practices.tasks import enqueue_for_practice, in_practice_schema

from .codes import code_for_patient, code_for_staff
from .models import Referral, ReferralCode


def resolve_code(code: str) -> str | None:
    """patients.codes resolver: a referral code makes the sign-up a referral."""
    return Patient.Source.REFERRAL if ReferralCode.objects.filter(code=code).exists() else None


def on_patient_joined(sender, patient, signup_code, schema_name, arrived_from="", **kwargs) -> None:
    """Every member gets their own code; a code used to join makes the referral (or records why not)."""
    from .services import record_signup

    with in_practice_schema(schema_name):
        code_for_patient(patient)
        if signup_code:
            record_signup(patient=patient, code=signup_code, source=arrived_from)


def on_purchases_recorded(sender, purchases, schema_name, **kwargs) -> None:
    # Most purchases are not a referred patient's first: only those of patients with a pending referral queue
    # a task (one query for the whole batch).
    with in_practice_schema(schema_name):
        referred = set(
            Referral.objects.filter(
                referred_id__in={purchase.patient_id for purchase in purchases}, status=Referral.Status.PENDING
            ).values_list("referred_id", flat=True)
        )
        for purchase in purchases:
            if purchase.patient_id in referred:
                enqueue_for_practice(
                    "referrals.tasks.qualify", purchase.pk, schema_name=schema_name, key=f"qualify:{purchase.pk}"
                )


def on_purchase_refunded(sender, refund, schema_name, **kwargs) -> None:
    with in_practice_schema(schema_name):
        if Referral.objects.filter(qualifying_purchase_id=refund.purchase_id).exists():
            enqueue_for_practice(
                "referrals.tasks.claw_back", refund.pk, schema_name=schema_name, key=f"claw_back:{refund.pk}"
            )


def on_staff_saved(sender, instance, created, **kwargs) -> None:
    if created:
        code_for_staff(instance)
