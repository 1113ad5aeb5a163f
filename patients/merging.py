"""Merging two records of one person (managers and owners): one transaction, ledger-consistent, audited.

`merged` is folded into `kept`: its points move with two ledger entries (out of one account, into the other,
both linked to the merge), and its purchases, vouchers, referrals, inbox, messages and timeline move to the
kept patient (each app's part, patients.records). The merged record is archived, cannot sign in, gives up its
phone number and email (so they can be used again) and its referral code is retired. Both timelines say so.

Locks: the rows both records' changes go through, taken before anything is read to decide: the referrals
between them (the referral program locks a referral, then the points account), then both points accounts in
primary-key order (loyalty.services.lock_accounts), then both patient rows in primary-key order. Two merges on
overlapping patients therefore wait for each other instead of deadlocking, and the second one sees what the
first did (a record merged once is refused the second time; `PatientMerge.merged` is unique as well).
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import IntegrityError, transaction

from accounts.models import User
from practices import audit
from practices.locking import lock

from .errors import PatientError
from .models import Activity, Message, Notification, Patient, PatientMerge, PhoneChange, PushSubscription
from .phones import display_phone
from .records import MergeStep, RecordPart, record_parts
from .services import record_activity

# The rules the merge page shows before anyone confirms (the referral ones are checked by the referrals app).
MERGE_RULES = [
    "The kept patient keeps their name, phone number, email and preferences; what they are missing "
    "(birthday, email, id in your system) is taken from the other record, and the notes are combined.",
    "Points are moved with two ledger entries (out of one account, into the other); purchases, vouchers, "
    "referrals, the inbox, text messages and the timeline move to the kept patient.",
    "The other record is archived: it can no longer sign in, its phone number and email are freed, and its "
    "referral code stops working (friends who type it are told it is no longer active).",
    "Not possible when one of them joined with the other's referral code (unless that referral was not "
    "counted or was reversed): nobody can refer themselves.",
    "Not possible when both joined with a referral code: a patient is referred only once.",
    "Not possible when both received the same referral milestone bonus.",
    "A merge cannot be undone.",
]


class MergeRefused(PatientError):
    """The two records cannot be merged; `reasons` are sentences for the staff."""

    code = "merge_refused"
    status = 409

    def __init__(self, reasons: list[str]):
        super().__init__(" ".join(reasons))
        self.reasons = reasons


def patient_label(patient: Patient) -> str:
    """How staff tell two records apart: the name (or number) and the record number."""
    return f"{patient.full_name or display_phone(patient.phone) or 'No name'} (#{patient.pk})"


# ---------------------------------------------------------------- what the page shows


@dataclass(frozen=True)
class MergeFact:
    label: str
    kept: str
    merged: str


def merge_facts(*, kept: Patient, merged: Patient) -> list[MergeFact]:
    """The two records side by side: profile, then what each app keeps about them."""
    rows = [
        MergeFact("Name", kept.full_name or "—", merged.full_name or "—"),
        MergeFact("Phone", display_phone(kept.phone) or "—", display_phone(merged.phone) or "—"),
        MergeFact("Email", kept.user.email or "—", merged.user.email or "—"),
        MergeFact("Birthday", _day(kept), _day(merged)),
        MergeFact("Status", kept.get_status_display(), merged.get_status_display()),
        MergeFact("Joined", _joined(kept), _joined(merged)),
    ]
    for part in record_parts:
        if part.facts:
            for (label, kept_value), (_, merged_value) in zip(part.facts(kept), part.facts(merged), strict=True):
                rows.append(MergeFact(label, kept_value, merged_value))
    return rows


def _day(patient: Patient) -> str:
    return f"{patient.birthday:%B} {patient.birthday.day}, {patient.birthday.year}" if patient.birthday else "—"


def _joined(patient: Patient) -> str:
    return f"{patient.joined_at:%b} {patient.joined_at.day}, {patient.joined_at.year}" if patient.joined_at else "—"


def merge_refusals(*, kept: Patient, merged: Patient) -> list[str]:
    """Why these two records cannot be merged (empty when they can)."""
    if kept.pk == merged.pk:
        return ["Choose two different patients."]
    reasons = []
    for patient in (kept, merged):
        if patient.status == Patient.Status.ARCHIVED:
            reasons.append(f"{patient_label(patient)} is archived ({_archived_why(patient)}).")
    if reasons:
        return reasons
    for part in record_parts:
        if part.refusals:
            reasons.extend(part.refusals(kept, merged))
    return reasons


def _archived_why(patient: Patient) -> str:
    if patient.merged_into_id:
        return f"merged into #{patient.merged_into_id}"
    if patient.closed_at:
        return "the patient closed their account"
    return "archived records are not merged"


# ---------------------------------------------------------------- the merge


def lock_records(patients: list[Patient]) -> None:
    """Lock what changes to these patients go through, in the one order every such change uses: each app's
    rows (highest app first: the referral program locks a referral before the points account), then the
    patient rows in primary-key order. FOR NO KEY UPDATE: timeline lines and other rows pointing at the
    patients can still be added meanwhile (they only take a key-share lock)."""
    for part in reversed(list(record_parts)):
        if part.lock:
            part.lock(patients)
    ids = sorted(patient.pk for patient in patients)
    lock(Patient.objects.filter(pk__in=ids), no_key=True)


def merge_patients(*, kept: Patient, merged: Patient, actor: User) -> PatientMerge:
    """Fold `merged` into `kept` in one transaction (see the module's docstring); raises MergeRefused with
    every reason when it cannot be done, and changes nothing then."""
    audit.require_actor(actor)
    if kept.pk == merged.pk:
        raise MergeRefused(["Choose two different patients."])
    try:
        # durable: the locks are taken in the one documented order, which a caller holding others would break.
        with transaction.atomic(durable=True):
            lock_records([kept, merged])
            # Read again under the locks: another merge or a closure may have just finished.
            both = Patient.objects.select_related("user").in_bulk([kept.pk, merged.pk])
            kept, merged = both[kept.pk], both[merged.pk]
            if reasons := merge_refusals(kept=kept, merged=merged):
                raise MergeRefused(reasons)
            merge = PatientMerge.objects.create(kept=kept, merged=merged, actor=actor, merged_details=_details(merged))
            before = {"kept": _summary(kept), "merged": _summary(merged)}
            moved: dict[str, int] = {}
            step = MergeStep(kept=kept, merged=merged, merge=merge, actor=actor)
            for part in record_parts:
                if part.merge:
                    moved.update(part.merge(step))
            _combine_profiles(kept=kept, merged=merged)
            _archive_merged(merged=merged, kept=kept)
            merge.moved = moved
            merge.save(update_fields=["moved"])
            _note_on_timelines(merge=merge, kept=kept, merged=merged, actor=actor)
            audit.record(
                actor=actor,
                action="patient.merged",
                target=kept,
                target_label=patient_label(kept),
                before=before,
                after={
                    "kept": _summary(kept),
                    "merged": {"status": "archived", "merged_into": kept.pk},
                    "moved": moved,
                },
            )
    except IntegrityError:
        # The unique merged record: the same record merged at the same moment by someone else.
        raise MergeRefused([f"{patient_label(merged)} was just merged by someone else."]) from None
    return merge


def _details(patient: Patient) -> dict:
    return {"name": patient.full_name, "phone": patient.phone, "email": patient.user.email or ""}


def _summary(patient: Patient) -> dict:
    return {
        "id": patient.pk,
        "name": patient.full_name,
        "phone": patient.phone,
        "email": patient.user.email or "",
        "birthday": patient.birthday,
        "external_id": patient.external_id,
        "status": patient.status,
    }


def _combine_profiles(*, kept: Patient, merged: Patient) -> None:
    """What the kept record is missing comes from the merged one; the kept one's own answers stay."""
    user, other = kept.user, merged.user
    user_fields = []
    if not user.first_name and not user.last_name and (other.first_name or other.last_name):
        user.first_name, user.last_name = other.first_name, other.last_name
        user_fields += ["first_name", "last_name"]
    if not user.email and other.email:
        # The address moves with its confirmation: free it on the merged account first (emails are unique).
        email = other.email
        User.objects.filter(pk=other.pk).update(email=None)
        other.email = None
        EmailAddress.objects.filter(user=other, email__iexact=email).update(user=user)
        user.email = email
        user_fields.append("email")
    if user_fields:
        user.save(update_fields=user_fields)

    fields = []
    for name in ("birthday", "external_id", "terms_accepted_at"):
        if not getattr(kept, name) and getattr(merged, name):
            setattr(kept, name, getattr(merged, name))
            fields.append(name)
    if merged.notes.strip():
        kept.notes = "\n\n".join(note for note in (kept.notes.strip(), merged.notes.strip()) if note)
        fields.append("notes")
    if merged.joined_at and (kept.joined_at is None or merged.joined_at < kept.joined_at):
        kept.joined_at = merged.joined_at
        fields.append("joined_at")
    if kept.status == Patient.Status.PENDING and merged.status == Patient.Status.ACTIVE:
        # The person has joined (on the other record): the kept one is not waiting for them any more.
        kept.status = Patient.Status.ACTIVE
        fields.append("status")
    if fields:
        kept.save(update_fields=fields)


def _archive_merged(*, merged: Patient, kept: Patient) -> None:
    """The merged record stays (its ledger and history point at it) but nobody signs in to it again."""
    user = merged.user
    EmailAddress.objects.filter(user=user).delete()
    user.is_active = False
    user.phone = None
    user.phone_verified = False
    user.email = None
    user.set_unusable_password()
    user.save(update_fields=["is_active", "phone", "phone_verified", "email", "password"])
    merged.status = Patient.Status.ARCHIVED
    merged.merged_into = kept
    merged.save(update_fields=["status", "merged_into"])
    # Records merged into this one before now point at the record that holds everything.
    Patient.objects.filter(merged_into=merged).update(merged_into=kept)


def _note_on_timelines(*, merge: PatientMerge, kept: Patient, merged: Patient, actor: User) -> None:
    what = ", ".join(f"{count:,} {name.replace('_', ' ')}" for name, count in merge.moved.items() if count)
    data = {"merge_id": merge.pk, "kept_id": kept.pk, "merged_id": merged.pk, "moved": merge.moved}
    record_activity(
        patient=kept,
        kind=Activity.Kind.MERGED,
        summary=f"Merged with the record {patient_label(merged)}" + (f": moved {what}" if what else ""),
        actor=actor,
        data=data,
    )
    record_activity(
        patient=merged,
        kind=Activity.Kind.MERGED,
        summary=f"Merged into the record {patient_label(kept)}; this record is archived",
        actor=actor,
        data=data,
    )


# ---------------------------------------------------------------- this app's own part


def _merge_own(step: MergeStep) -> dict[str, int]:
    kept, merged = step.kept, step.merged
    moved = {
        "timeline lines": Activity.objects.filter(patient=merged).update(patient=kept),
        "inbox messages": Notification.objects.filter(patient=merged).update(patient=kept),
        "text messages": Message.objects.filter(patient=merged).update(patient=kept),
    }
    # The merged record's devices and pending number change belonged to its sign-in, which ends here.
    PushSubscription.objects.filter(patient=merged).delete()
    PhoneChange.objects.filter(patient=merged).delete()
    return moved


def _export_own(patient: Patient):
    from .data_export import own_tables

    return own_tables(patient)


def _close_own(patient: Patient) -> None:
    from .closing import erase_own

    erase_own(patient)


PATIENTS_PART = RecordPart(
    name="patients",
    order=0,
    relations=(
        "patients.Activity.patient",
        "patients.Message.patient",
        "patients.Notification.patient",
        "patients.PushSubscription.patient",
        "patients.PhoneChange.patient",
        "patients.Patient.merged_into",
        "patients.PatientMerge.kept",
        "patients.PatientMerge.merged",
    ),
    merge=_merge_own,
    export=_export_own,
    close=_close_own,
)
