"""Reads of the referral program for patients: a share link as a visitor sees it, and a patient's own
referrals (their code, what the program gives, the friends they brought and what they earned).

The referrals page, the home card and the API all read through here, so they always agree."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from patients.models import Patient
from practices.formatting import format_money

from .models import Milestone, Referral, ReferralCode, ReferralReward, ReferralSettings, RewardKind
from .services import (
    COUNTED_STATUSES,
    _code_is_active,
    find_code,
    practice_year_start,
    referee_spec,
    referral_settings,
    referrer_spec,
    rejection_message,
    short_name,
)

# A friend's referral in the referrer's words.
FRIEND_STATUS = {
    Referral.Status.PENDING: "Joined · waiting for their first purchase",
    Referral.Status.QUALIFIED: "Qualified · your reward is on its way",
    Referral.Status.REWARDED: "Rewarded",
    Referral.Status.REJECTED: "Not counted",
    Referral.Status.REVERSED: "Reversed · their purchase was refunded",
}
# Why a friend's referral did not count, told to the referrer.
NOT_COUNTED = {
    Referral.Reason.UNKNOWN_CODE: "the code was not recognised",
    Referral.Reason.INACTIVE_CODE: "your code was paused",
    Referral.Reason.DISABLED: "referrals were turned off",
    Referral.Reason.SELF_REFERRAL: "it was your own number",
    Referral.Reason.LIMIT_REACHED: "you had reached this year's referral limit",
}
OWNER_RELATED = ("code__patient__user", "code__staff__user", "code__partner")


def money(cents: int) -> str:
    """$50 or $49.50, in the practice's currency."""
    return format_money(cents, whole=True)


def _reward_label(spec) -> str:
    """What a reward gives ("250 points", "$25.00 credit"), or "" when it gives nothing."""
    return spec.label if spec.gives_something else ""


# ---------------------------------------------------------------- the share link, as a visitor sees it


@dataclass(frozen=True)
class ShareLink:
    """`/r/<code>`: whose code it is and what a new patient gets with it."""

    code: ReferralCode | None  # None: no such code at this practice
    is_active: bool  # the code works and the program is on
    is_program_enabled: bool
    inviter: str = ""  # the owner's first name (a partner's name)
    referee_reward: str = ""  # "250 points"; "" when the new patient gets nothing
    min_purchase: str = ""  # "$50"


def share_link(*, code: str) -> ShareLink:
    found = find_code(code)
    program = referral_settings()
    if found is None:
        return ShareLink(code=None, is_active=False, is_program_enabled=program.enabled)
    return ShareLink(
        code=found,
        is_active=program.enabled and _code_is_active(found),
        is_program_enabled=program.enabled,
        inviter=found.owner_first_name.strip(),
        referee_reward=_reward_label(referee_spec(found, program)),
        min_purchase=money(program.min_purchase_cents),
    )


# ---------------------------------------------------------------- a patient's own referrals


@dataclass(frozen=True)
class ProgramTerms:
    """What the program gives a patient who refers and the friend who joins, and their yearly limit."""

    enabled: bool
    referee_reward: str  # "" when the friend gets nothing
    referrer_reward: str  # "" when the referrer gets nothing
    min_purchase_cents: int
    min_purchase: str
    yearly_limit: int | None
    remaining_this_year: int | None
    milestones: list[Milestone]


@dataclass(frozen=True)
class JoinedWith:
    """The code the patient themselves joined with, and what became of it."""

    referral: Referral
    code: str
    status: str
    message: str


@dataclass(frozen=True)
class ReferralSummary:
    code: ReferralCode
    can_share: bool  # the program is on and the patient's code is active
    program: ProgramTerms
    friends_joined_count: int  # friends whose referral counts (rejected ones don't)
    friends_rewarded_count: int
    points_earned: int  # from referring friends (and milestones), less any taken back
    joined_with: JoinedWith | None


@dataclass(frozen=True)
class FriendReferral:
    """One friend the patient referred, as the patient may see them: first name and last initial only."""

    id: int
    friend: str
    status: str
    status_label: str
    reason: str
    joined_at: datetime
    rewards: list[ReferralReward]  # what the referrer got for this friend


def patient_code(*, patient: Patient, code: ReferralCode | None = None) -> ReferralCode:
    """The patient's own code (`code`, when the caller has it in hand). Members get it when they join; the pages
    showing it give one first to anyone who has none (codes.code_for_patient, a write: a read creates nothing)."""
    code = code if code is not None else ReferralCode.objects.get(patient=patient)
    code.patient = patient  # already in hand: checking the code is active needs no query
    return code


def shareable_code(*, patient: Patient, code: ReferralCode | None = None) -> ReferralCode | None:
    """The patient's code if they can share it now (the program is on and the code is active)."""
    code = patient_code(patient=patient, code=code)
    return code if referral_settings().enabled and _code_is_active(code) else None


def patient_referral_summary(
    *, patient: Patient, code: ReferralCode | None = None, now: datetime | None = None
) -> ReferralSummary:
    """The patient's code, the program's terms for them, their totals and the code they joined with."""
    now = now or timezone.now()
    code = patient_code(patient=patient, code=code)
    program = referral_settings()
    totals = Referral.objects.filter(code=code).aggregate(
        joined=Count("id", filter=~Q(status=Referral.Status.REJECTED)),
        rewarded=Count("id", filter=Q(status=Referral.Status.REWARDED)),
    )
    earned = ReferralReward.objects.filter(
        patient=patient,
        role__in=[ReferralReward.Role.REFERRER, ReferralReward.Role.MILESTONE],
        kind=RewardKind.POINTS,
    ).aggregate(points=Sum(F("points") - F("points_taken_back")))
    return ReferralSummary(
        code=code,
        can_share=program.enabled and _code_is_active(code),
        program=_terms(code=code, program=program, now=now),
        friends_joined_count=totals["joined"],
        friends_rewarded_count=totals["rewarded"],
        points_earned=earned["points"] or 0,
        joined_with=_joined_with(patient=patient, program=program),
    )


def _terms(*, code: ReferralCode, program: ReferralSettings, now: datetime) -> ProgramTerms:
    remaining = None
    if program.yearly_limit is not None:
        used = code.referrals.filter(status__in=COUNTED_STATUSES, created_at__gte=practice_year_start(now)).count()
        remaining = max(0, program.yearly_limit - used)
    return ProgramTerms(
        enabled=program.enabled,
        referee_reward=_reward_label(referee_spec(code, program)),
        referrer_reward=_reward_label(referrer_spec(code, program)),
        min_purchase_cents=program.min_purchase_cents,
        min_purchase=money(program.min_purchase_cents),
        yearly_limit=program.yearly_limit,
        remaining_this_year=remaining,
        milestones=list(Milestone.objects.all()),
    )


def _joined_with(*, patient: Patient, program: ReferralSettings) -> JoinedWith | None:
    referral = (
        Referral.objects.select_related(*OWNER_RELATED)
        .prefetch_related(
            Prefetch(
                "rewards",
                queryset=ReferralReward.objects.filter(role=ReferralReward.Role.REFEREE),
                to_attr="welcome_rewards",
            )
        )
        .filter(referred=patient)
        .first()
    )
    if referral is None:
        return None
    return JoinedWith(
        referral=referral,
        code=referral.code_used,
        status=referral.status,
        message=_joined_with_message(referral, program),
    )


def _joined_with_message(referral: Referral, program: ReferralSettings) -> str:
    if referral.status == Referral.Status.REJECTED:
        return rejection_message(referral)
    who = referral.code.owner_first_name.strip() or "a friend"
    joined = f"You joined with {who}'s code {referral.code_used}."
    welcome = referral.welcome_rewards[0] if referral.welcome_rewards else None
    if referral.status == Referral.Status.PENDING:
        spec = referee_spec(referral.code, program)
        if not spec.gives_something:
            return joined
        return (
            f"{joined} Your welcome reward of {spec.label} comes after your first purchase of "
            f"{money(program.min_purchase_cents)} or more."
        )
    if referral.status == Referral.Status.QUALIFIED:
        return f"{joined} Your first purchase qualified: your welcome reward is on its way."
    if referral.status == Referral.Status.REVERSED:
        return f"{joined} The welcome reward was taken back because the purchase was refunded."
    return f"{joined} You got your welcome reward: {welcome.label}." if welcome else joined


def patient_referrals(*, patient: Patient) -> QuerySet[Referral]:
    """The referrals made with the patient's code, newest first, each with the rewards the patient got for it."""
    return (
        Referral.objects.filter(code__patient=patient)
        .select_related("referred__user")
        .prefetch_related(
            Prefetch("rewards", queryset=ReferralReward.objects.filter(patient=patient), to_attr="referrer_rewards")
        )
        .order_by("-created_at", "-id")
    )


def friend_rows(referrals: Iterable[Referral]) -> list[FriendReferral]:
    """Referrals from `patient_referrals` as the referrer sees them (never the friend's phone or last name)."""
    rows = []
    for referral in referrals:
        label = FRIEND_STATUS.get(referral.status, referral.get_status_display())
        if referral.status == Referral.Status.REJECTED and referral.reason:
            label = f"{label} ({NOT_COUNTED.get(referral.reason, referral.get_reason_display().lower())})"
        rows.append(
            FriendReferral(
                id=referral.pk,
                friend=short_name(referral.referred),
                status=referral.status,
                status_label=label,
                reason=referral.reason,
                joined_at=referral.created_at,
                rewards=list(referral.referrer_rewards),
            )
        )
    return rows
