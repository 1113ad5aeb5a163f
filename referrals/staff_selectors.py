"""Reads behind the staff referral pages: the activity log and its summary, partners with their counts,
the leaderboard, a patient's referrals and escalations, and the codes that get QR codes.

Every list is built with joins and aggregates, so a page makes the same few queries however long it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from patients.models import Patient
from practices.models import Practice, StaffMember, SupportEscalation

from .models import Partner, Referral, ReferralCode, ReferralReward
from .services import QUALIFIED_STATUSES, short_name

Status = Referral.Status
# A sign-up counts on the leaderboard and in the partner counts unless it was rejected; a reversed
# referral still brought a sign-up (the friend joined), but it no longer counts as qualified.
SIGNUP_STATUSES = (Status.PENDING, Status.QUALIFIED, Status.REWARDED, Status.REVERSED)
NO_OWNER = "none"  # the owner-kind filter's value for unknown codes


# ---------------------------------------------------------------- the activity log


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def referral_log(
    *,
    status: str = "",
    owner_kind: str = "",
    source: str = "",
    since: date | None = None,
    until: date | None = None,
    query: str = "",
) -> QuerySet[Referral]:
    """Every referral, newest first, with what the log shows of it; `since` and `until` are whole days of
    the sign-up in the practice's time zone; each word of `query` matches a code or a name (or a phone)."""
    referrals = Referral.objects.select_related(
        "code__patient__user", "code__staff__user", "code__partner", "referred__user"
    ).prefetch_related(Prefetch("rewards", queryset=ReferralReward.objects.order_by("created_at", "id")))
    if status:
        referrals = referrals.filter(status=status)
    if owner_kind == NO_OWNER:
        referrals = referrals.filter(code__isnull=True)
    elif owner_kind:
        referrals = referrals.filter(code__owner_kind=owner_kind)
    if source:
        referrals = referrals.filter(source=source)
    zone = timezone.get_current_timezone()
    if since:
        referrals = referrals.filter(created_at__gte=_day_start(since, zone))
    if until:
        referrals = referrals.filter(created_at__lt=_day_start(until + timedelta(days=1), zone))
    for word in query.split():
        referrals = referrals.filter(
            Q(code_used__icontains=word)
            | Q(referred__user__first_name__icontains=word)
            | Q(referred__user__last_name__icontains=word)
            | Q(referred__user__phone__contains=word)
            | Q(code__patient__user__first_name__icontains=word)
            | Q(code__patient__user__last_name__icontains=word)
            | Q(code__staff__user__first_name__icontains=word)
            | Q(code__staff__user__last_name__icontains=word)
            | Q(code__partner__name__icontains=word)
        )
    return referrals.order_by("-created_at", "-id")


@dataclass(frozen=True)
class LogSummary:
    signups: int  # not rejected
    qualified: int  # qualified or rewarded (still standing)
    rewarded: int
    rejected: int
    reversed: int


def log_summary(referrals: QuerySet[Referral]) -> LogSummary:
    """The counts above the log, for the same filters, in one query."""
    counts = referrals.order_by().aggregate(
        signups=Count("id", filter=Q(status__in=SIGNUP_STATUSES)),
        qualified=Count("id", filter=Q(status__in=QUALIFIED_STATUSES)),
        rewarded=Count("id", filter=Q(status=Status.REWARDED)),
        rejected=Count("id", filter=Q(status=Status.REJECTED)),
        reversed=Count("id", filter=Q(status=Status.REVERSED)),
    )
    return LogSummary(**counts)


# ---------------------------------------------------------------- partners


def _counts(path: str, start: datetime | None = None) -> dict:
    """Sign-ups (created in the period, not rejected) and qualified referrals (qualified in the period,
    still qualified or rewarded) through the relation `path` to Referral."""
    signups = Q(**{f"{path}__status__in": SIGNUP_STATUSES})
    qualified = Q(**{f"{path}__status__in": QUALIFIED_STATUSES})
    if start is not None:
        signups &= Q(**{f"{path}__created_at__gte": start})
        qualified &= Q(**{f"{path}__qualified_at__gte": start})
    return {"signup_count": Count(path, filter=signups), "qualified_count": Count(path, filter=qualified)}


def partners_with_counts(*, status: str = "", query: str = "") -> QuerySet[Partner]:
    """Partners by name, with their code and all-time sign-up and qualified counts."""
    partners = Partner.objects.select_related("referral_code").annotate(**_counts("referral_code__referrals"))
    if status == "active":
        partners = partners.filter(is_active=True)
    elif status == "inactive":
        partners = partners.filter(is_active=False)
    for word in query.split():
        partners = partners.filter(
            Q(name__icontains=word) | Q(contact_name__icontains=word) | Q(referral_code__code__icontains=word)
        )
    return partners.order_by("name", "id")


# ---------------------------------------------------------------- the leaderboard

PERIODS = {"month": "This month", "quarter": "This quarter", "year": "This year", "all": "All time"}
RANKINGS = {"qualified": "Qualified referrals", "signups": "Sign-ups"}
TOP_PATIENTS = 10


def period_start(period: str, *, now: datetime) -> datetime | None:
    """When this month, quarter or year began in the practice's (the current) time zone (None for all time)."""
    local = timezone.localtime(now)
    first_of_month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        return first_of_month
    if period == "quarter":
        return first_of_month.replace(month=(local.month - 1) // 3 * 3 + 1)
    if period == "year":
        return first_of_month.replace(month=1)
    return None


@dataclass
class Standing:
    name: str
    signups: int
    qualified: int
    # What a screen others can see shows (patients: first name and last initial).
    short_name: str = ""
    rank: int = 0
    is_me: bool = False
    code: str = ""
    patient_id: int | None = None
    partner_id: int | None = None
    is_active: bool = True


def _ranked(rows: list[Standing], ranking: str) -> list[Standing]:
    """Best first; equal counts share a rank (1, 2, 2, 4) and are listed by name."""

    def score(row: Standing) -> tuple[int, int]:
        return (row.signups, row.qualified) if ranking == "signups" else (row.qualified, row.signups)

    rows.sort(key=lambda row: (tuple(-n for n in score(row)), row.name.lower()))
    previous = None
    for position, row in enumerate(rows, start=1):
        row.rank = previous.rank if previous is not None and score(previous) == score(row) else position
        previous = row
    return rows


def _order(ranking: str) -> list[str]:
    if ranking == "signups":
        return ["-signup_count", "-qualified_count"]
    return ["-qualified_count", "-signup_count"]


@dataclass
class Leaderboard:
    period: str
    ranking: str
    start: datetime | None
    staff: list[Standing] = field(default_factory=list)
    partners: list[Standing] = field(default_factory=list)
    patients: list[Standing] = field(default_factory=list)

    @property
    def period_label(self) -> str:
        return PERIODS[self.period]

    @property
    def ranking_label(self) -> str:
        return RANKINGS[self.ranking]


def leaderboard(*, period: str, ranking: str = "qualified", me: StaffMember | None = None, now=None) -> Leaderboard:
    """Staff, partners and the top patient referrers for the period, in three queries.

    Staff referrals always count here, even when the program does not reward them. Active staff and
    partners are listed even with nothing yet; former ones only while they have something to show."""
    period = period if period in PERIODS else "month"
    ranking = ranking if ranking in RANKINGS else "qualified"
    start = period_start(period, now=now or timezone.now())
    board = Leaderboard(period=period, ranking=ranking, start=start)

    members = StaffMember.objects.select_related("user", "referral_code").annotate(
        **_counts("referral_code__referrals", start)
    )
    for member in members:
        if not (member.is_active or member.signup_count or member.qualified_count):
            continue
        board.staff.append(
            Standing(
                name=member.user.get_full_name() or member.user.email or "Staff member",
                # A public screen shows a name, never an email address.
                short_name=member.user.get_full_name() or "Staff member",
                signups=member.signup_count,
                qualified=member.qualified_count,
                is_me=me is not None and member.pk == me.pk,
                code=getattr(getattr(member, "referral_code", None), "code", ""),
                is_active=member.is_active,
            )
        )
    _ranked(board.staff, ranking)

    for partner in Partner.objects.select_related("referral_code").annotate(
        **_counts("referral_code__referrals", start)
    ):
        if not (partner.is_active or partner.signup_count or partner.qualified_count):
            continue
        board.partners.append(
            Standing(
                name=partner.name,
                signups=partner.signup_count,
                qualified=partner.qualified_count,
                code=getattr(getattr(partner, "referral_code", None), "code", ""),
                partner_id=partner.pk,
                is_active=partner.is_active,
            )
        )
    _ranked(board.partners, ranking)

    codes = (
        ReferralCode.objects.filter(owner_kind=ReferralCode.OwnerKind.PATIENT)
        .select_related("patient__user")
        .annotate(**_counts("referrals", start))
        .filter(Q(signup_count__gt=0) | Q(qualified_count__gt=0))
        .order_by(*_order(ranking), "patient__user__first_name", "patient__user__last_name", "id")[:TOP_PATIENTS]
    )
    board.patients = _ranked(
        [
            Standing(
                name=code.patient.full_name or short_name(code.patient),
                short_name=short_name(code.patient),
                signups=code.signup_count,
                qualified=code.qualified_count,
                code=code.code,
                patient_id=code.patient_id,
            )
            for code in codes
        ],
        ranking,
    )
    return board


# ---------------------------------------------------------------- the patient page


@dataclass
class PatientReferrals:
    code: ReferralCode | None
    joined_with: Referral | None
    referred: list[Referral]
    escalations: list[SupportEscalation]

    @property
    def referral_choices(self) -> list[Referral]:
        return ([self.joined_with] if self.joined_with else []) + self.referred


def patient_referrals(*, patient: Patient, practice: Practice) -> PatientReferrals:
    """The patient's code, the referral they joined with, the friends they referred (with the rewards of
    each) and what staff escalated to platform support about them."""
    rewards = Prefetch("rewards", queryset=ReferralReward.objects.order_by("created_at", "id"))
    code = ReferralCode.objects.filter(patient=patient).first()
    joined_with = (
        Referral.objects.select_related("code__patient__user", "code__staff__user", "code__partner")
        .prefetch_related(rewards)
        .filter(referred=patient)
        .first()
    )
    referred = []
    if code is not None:
        referred = list(code.referrals.select_related("referred__user").prefetch_related(rewards).order_by("-id"))
    escalations = list(
        SupportEscalation.objects.filter(practice=practice, patient_id=patient.pk).order_by("-created_at", "-id")
    )
    return PatientReferrals(code=code, joined_with=joined_with, referred=referred, escalations=escalations)


# ---------------------------------------------------------------- QR codes


def staff_codes() -> QuerySet[StaffMember]:
    """Active staff members with their codes, by name."""
    return (
        StaffMember.objects.filter(is_active=True)
        .select_related("user", "referral_code")
        .order_by("user__first_name", "user__last_name", "id")
    )


def partner_codes() -> QuerySet[Partner]:
    """Partners with their codes, active first, by name."""
    return Partner.objects.select_related("referral_code").order_by("-is_active", "name", "id")


def code_by_text(text: str) -> ReferralCode | None:
    """The code as written in a URL (any case), with its owner."""
    return (
        ReferralCode.objects.select_related("patient__user", "staff__user", "partner")
        .filter(code=(text or "").strip().upper())
        .first()
    )
