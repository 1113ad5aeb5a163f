"""The referral program's part of merging two records, a patient's data download and closing an account
(patients.records).

Merging moves the referrals the merged patient made (to the kept patient's code) and the one they joined
with, their rewards and their "text a friend" history; their own code is retired (a friend who types it is
told it is no longer active). It is refused across a referral conflict (`refusals`), whose rules the merge
page lists (patients.merging.MERGE_RULES).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Q

from patients.models import Patient
from patients.records import ExportTable, MergeStep, RecordPart
from practices import locking

from .codes import code_for_patient
from .models import Referral, ReferralCode, ReferralReward, TextInvite
from .services import short_name

# A referral between the two records in these statuses blocks the merge: it counted (or is about to).
COUNTING = (Referral.Status.PENDING, Referral.Status.QUALIFIED, Referral.Status.REWARDED)


def _involving(patients: list[Patient]):
    ids = [patient.pk for patient in patients]
    return Referral.objects.filter(Q(referred_id__in=ids) | Q(code__patient_id__in=ids))


def lock(patients: list[Patient]) -> None:
    """The referrals these patients made or joined with, in primary-key order, before the points accounts:
    giving or taking back a referral's rewards locks the referral, then the account, and so must a merge."""
    locking.lock(_involving(patients).values_list("pk", flat=True))


def refusals(kept: Patient, merged: Patient) -> list[str]:
    reasons = []
    between = (
        _involving([kept, merged])
        .filter(referred_id__in=[kept.pk, merged.pk], code__patient_id__in=[kept.pk, merged.pk])
        .select_related("code__patient__user", "referred__user")
    )
    for referral in between:
        if referral.status in COUNTING:
            reasons.append(
                f"{_name(referral.referred)} joined with {_name(referral.code.patient)}'s referral code "
                f"{referral.code.code} (status: {referral.get_status_display().lower()}). Nobody can refer "
                "themselves: if these records are one person, ask support to reverse that referral first "
                "(Escalate, on the patient's page)."
            )
    received = {r.referred_id: r for r in Referral.objects.filter(referred_id__in=[kept.pk, merged.pk])}
    if len(received) == 2:
        reasons.append(
            f"Both joined with a referral code ({_name(kept)} with {received[kept.pk].code_used}, "
            f"{_name(merged)} with {received[merged.pk].code_used}): a patient is referred only once, so these "
            "records can't be combined."
        )
    shared = (
        ReferralReward.objects.filter(
            patient_id__in=[kept.pk, merged.pk], role=ReferralReward.Role.MILESTONE, reversed_at__isnull=True
        )
        .values("milestone_count")
        .annotate(patients=Count("patient_id", distinct=True))
        .filter(patients=2)
        .values_list("milestone_count", flat=True)
    )
    for count in shared:
        reasons.append(
            f"Both received the bonus for {count} referrals: the kept patient can't hold the same milestone twice."
        )
    return reasons


def _name(patient: Patient) -> str:
    return f"{patient.full_name or 'No name'} (#{patient.pk})"


def merge(step: MergeStep) -> dict[str, int]:
    kept, merged = step.kept, step.merged
    made = 0
    if Referral.objects.filter(code__patient=merged).exists():
        # Friends the merged patient brought count for the kept patient (the code they typed is kept as typed).
        made = Referral.objects.filter(code__patient=merged).update(code=code_for_patient(kept))
    ReferralCode.objects.filter(patient=merged).update(is_active=False)
    received = Referral.objects.filter(referred=merged).update(referred=kept)
    # Rewards move too: taking one back after a refund then finds the points where they are now.
    ReferralReward.objects.filter(patient=merged).update(patient=kept)
    TextInvite.objects.filter(patient=merged).update(patient=kept)
    return {"referrals made": made, "referral received": received}


def facts(patient: Patient) -> list[tuple[str, str]]:
    code = ReferralCode.objects.filter(patient=patient).first()
    made = Referral.objects.filter(code__patient=patient).exclude(status=Referral.Status.REJECTED).count()
    joined_with = Referral.objects.filter(referred=patient).first()
    return [
        ("Referral code", code.code if code else "—"),
        ("Friends referred", f"{made:,}"),
        (
            "Joined with a code",
            f"{joined_with.code_used} ({joined_with.get_status_display().lower()})" if joined_with else "—",
        ),
    ]


def export(patient: Patient) -> Iterator[ExportTable]:
    made = Referral.objects.filter(code__patient=patient).select_related("referred__user").order_by("created_at", "id")
    received = Referral.objects.filter(referred=patient)
    rows = [
        *(["you referred", short_name(r.referred), r.code_used, r.status, r.created_at.isoformat()] for r in made),
        *(["you joined with", "", r.code_used, r.status, r.created_at.isoformat()] for r in received),
    ]
    yield ExportTable(name="referrals", columns=["role", "friend", "code", "status", "date"], rows=rows)
    code = ReferralCode.objects.filter(patient=patient).first()
    yield ExportTable(
        name="referral_code",
        columns=["code", "active"],
        rows=[[code.code, code.is_active]] if code else [],
    )


def close(patient: Patient) -> None:
    """The code is retired; the referrals stay (the friends' records and rewards depend on them) and the
    numbers of friends texted, kept hashed to limit texts, go."""
    ReferralCode.objects.filter(patient=patient).update(is_active=False)
    TextInvite.objects.filter(patient=patient).delete()


REFERRALS_PART = RecordPart(
    name="referrals",
    order=30,
    relations=(
        "referrals.ReferralCode.patient",
        "referrals.Referral.referred",
        "referrals.ReferralReward.patient",
        "referrals.TextInvite.patient",
    ),
    lock=lock,
    refusals=refusals,
    merge=merge,
    facts=facts,
    export=export,
    close=close,
)
