"""Every write of the referral program: referrals recorded at sign-up, qualification by a first
purchase, rewards (exactly once), clawback on refund, partners, "text a friend" and escalations."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Exists, F, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from accounts.models import User
from loyalty.models import LedgerEntry, Purchase, Refund
from loyalty.services import ensure_account, post_points
from patients.codes import normalize_code
from patients.errors import InvalidPhone, PatientError
from patients.messaging import queue_sms
from patients.models import Activity, Message, Patient
from patients.notifications import notify
from patients.phones import normalize_phone
from patients.services import patient_by_phone, record_activity
from practices import audit
from practices.formatting import format_money, format_number
from practices.locking import lock, lock_get, lock_one
from practices.models import BackgroundTask, Practice, SupportEscalation
from practices.selectors import current_practice, practice_url
from practices.tasks import enqueue_for_practice
from rewards.models import Reward
from rewards.services import grant_voucher, withdraw_gift_voucher

from .codes import code_for_partner
from .models import (
    Milestone,
    Partner,
    Referral,
    ReferralCode,
    ReferralReward,
    ReferralSettings,
    RewardKind,
    TextInvite,
    Visit,
)

SOURCE_TYPE = "referrals.referral"
COUNTED_STATUSES = (Referral.Status.PENDING, Referral.Status.QUALIFIED, Referral.Status.REWARDED)
QUALIFIED_STATUSES = (Referral.Status.QUALIFIED, Referral.Status.REWARDED)
# "Text a friend": per patient per day, and one text to the same number per week whoever sends it.
TEXT_INVITES_PER_DAY = 5
SAME_NUMBER_DAYS = 7
# A POS clock may run a little behind ours: purchases dated this much before the sign-up still count.
PURCHASE_CLOCK_SKEW = timedelta(hours=1)
# The sweep of referrals left half-way: how long the usual path has before it steps in, and how far back
# it looks for purchases whose qualification was never queued (within the life of finished task rows).
REDRIVE_AFTER = timedelta(minutes=5)
REDRIVE_WINDOW = timedelta(days=3)


class ReferralError(PatientError):
    code = "referral_error"


class InviteRefused(ReferralError):
    code = "invite_refused"
    status = 429


class InvalidInvite(ReferralError):
    code = "invalid_invite"


def referral_settings() -> ReferralSettings:
    """The program's settings: the row as saved, or its defaults (not saved: a read writes nothing)."""
    return ReferralSettings.objects.filter(pk=1).first() or ReferralSettings(pk=1)


def practice_year_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


def short_name(patient: Patient) -> str:
    """First name and last initial: what a referrer sees of the friends they brought."""
    user = patient.user
    initial = f" {user.last_name[:1]}." if user.last_name else ""
    return f"{user.first_name}{initial}".strip() or "A friend"


# ---------------------------------------------------------------- visits


def count_visit(*, code: ReferralCode, source: str, now: datetime | None = None) -> None:
    """One more visit of the code's share link from this source today (a counter, no personal data)."""
    source = source if source in Visit.Source.values else Visit.Source.LINK
    day = timezone.localdate(now or timezone.now())
    visits = Visit.objects.filter(code=code, source=source, day=day)
    if visits.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            Visit.objects.create(code=code, source=source, day=day, count=1)
    except IntegrityError:  # the day's first two visits arrived together
        visits.update(count=F("count") + 1)


# ---------------------------------------------------------------- sign-up


def find_code(code: str) -> ReferralCode | None:
    code = normalize_code(code)
    if not code:
        return None
    return ReferralCode.objects.select_related("patient__user", "staff__user", "partner").filter(code=code).first()


def _code_is_active(code: ReferralCode) -> bool:
    if not code.is_active:
        return False
    if code.patient_id:
        return code.patient.status != Patient.Status.ARCHIVED
    if code.staff_id:
        return code.staff.is_active
    return code.partner.is_active


def _is_self_referral(code: ReferralCode, patient: Patient) -> bool:
    if code.patient_id == patient.pk:
        return True
    owner_user = code.patient.user if code.patient_id else code.staff.user if code.staff_id else None
    if owner_user is not None and owner_user.pk == patient.user_id:
        return True
    owner_phone = owner_user.phone if owner_user is not None else code.partner.phone
    return bool(owner_phone and patient.phone and owner_phone == patient.phone)


def _yearly_count(code: ReferralCode, now: datetime) -> int:
    return code.referrals.filter(status__in=[*COUNTED_STATUSES], created_at__gte=practice_year_start(now)).count()


def _refusal(code: ReferralCode | None, patient: Patient, program: ReferralSettings, now: datetime) -> str:
    if code is None:
        return Referral.Reason.UNKNOWN_CODE
    if not program.enabled:
        return Referral.Reason.DISABLED
    if not _code_is_active(code):
        return Referral.Reason.INACTIVE_CODE
    if _is_self_referral(code, patient):
        return Referral.Reason.SELF_REFERRAL
    if program.yearly_limit is not None and _yearly_count(code, now) >= program.yearly_limit:
        return Referral.Reason.LIMIT_REACHED
    return ""


def record_signup(*, patient: Patient, code: str, source: str = "") -> Referral | None:
    """The referral a code used at sign-up makes: pending, or rejected with the reason. One per patient.

    Called when the patient joins, never later: there is no other way to attach a code to a patient.
    Returns None for the practice's own invite code (not a referral) or no code.
    """
    code = normalize_code(code)
    practice = current_practice()
    if not code or code == (practice.invite_code or ""):
        return None
    program = referral_settings()
    with transaction.atomic():
        found = find_code(code)
        if found is not None:
            # Serialises sign-ups with the same code, so a yearly limit is never overshot.
            lock_one(ReferralCode.objects.filter(pk=found.pk))
        if (existing := Referral.objects.filter(referred=patient).first()) is not None:
            return existing
        now = timezone.now()
        reason = _refusal(found, patient, program, now)
        referral = Referral.objects.create(
            code=found,
            code_used=code[:32],
            owner_kind=found.owner_kind if found else "",
            source=source if source in Visit.Source.values else Visit.Source.CODE,
            referred=patient,
            status=Referral.Status.REJECTED if reason else Referral.Status.PENDING,
            reason=reason,
        )
        _announce_signup(referral, patient)
    return referral


def rejection_message(referral: Referral) -> str:
    return f"The code {referral.code_used} could not be used as a referral: {referral.get_reason_display().lower()}."


def _announce_signup(referral: Referral, patient: Patient) -> None:
    data = {"referral_id": referral.pk, "code": referral.code_used}
    if referral.status == Referral.Status.REJECTED:
        record_activity(
            patient=patient,
            kind=Activity.Kind.REFERRAL,
            summary=f"Referral code {referral.code_used} not counted: {referral.get_reason_display().lower()}",
            data={**data, "reason": referral.reason},
        )
        notify(patient=patient, title="About the code you joined with", body=rejection_message(referral))
        return
    code = referral.code
    record_activity(
        patient=patient,
        kind=Activity.Kind.REFERRAL,
        summary=f"Joined with {code.get_owner_kind_display().lower()} {code.owner_name}'s referral code {code.code}",
        data=data,
    )
    if code.patient_id:
        record_activity(
            patient=code.patient,
            kind=Activity.Kind.REFERRAL,
            summary=f"Referred {short_name(patient)}: joined with code {code.code}",
            data=data,
        )
        program = referral_settings()
        notify(
            patient=code.patient,
            title=f"{patient.user.first_name or 'Your friend'} joined with your code",
            body="You'll get your reward when they make their first purchase of "
            f"${program.min_purchase_cents / 100:,.0f} or more.",
            url="/referrals/",
        )


# ---------------------------------------------------------------- qualification and rewards


def redrive_stuck_referrals(*, now: datetime | None = None) -> int:
    """Queue again the work of referrals a lost task left half-way; returns how many tasks were queued.

    - "qualified" for a while but not rewarded: the rewards task again (it gives each reward once);
    - "pending" although the friend made a purchase of at least the minimum since joining, for which no
      qualification task was ever recorded (purchases recorded before tasks were written with them).
    A task still waiting absorbs the new one, so nothing is queued twice.
    """
    now = now or timezone.now()
    queued = 0
    qualified = Referral.objects.filter(status=Referral.Status.QUALIFIED, qualified_at__lt=now - REDRIVE_AFTER)
    for referral_id in qualified.order_by("pk").values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            task = enqueue_for_practice(
                "referrals.tasks.issue_rewards", referral_id, key=f"issue_rewards:{referral_id}", requeue_failed=False
            )
        queued += task is not None

    recorded = BackgroundTask.objects.filter(
        schema_name=connection.schema_name, key=Concat(Value("qualify:"), Cast(OuterRef("pk"), CharField()))
    )
    waiting = (
        Purchase.objects.filter(
            patient__referral__status=Referral.Status.PENDING,
            total_cents__gte=referral_settings().min_purchase_cents,
            purchased_at__gte=F("patient__referral__created_at") - PURCHASE_CLOCK_SKEW,
            created_at__range=(now - REDRIVE_WINDOW, now - REDRIVE_AFTER),
        )
        .exclude(Exists(recorded))
        .order_by("patient_id", "purchased_at", "pk")
        .distinct("patient_id")
        .values_list("pk", flat=True)
    )
    for purchase_id in list(waiting[:500]):
        with transaction.atomic():
            task = enqueue_for_practice(
                "referrals.tasks.qualify", purchase_id, key=f"qualify:{purchase_id}", requeue_failed=False
            )
        queued += task is not None
    return queued


def qualify(*, purchase_id: int) -> Referral | None:
    """The referred patient's first purchase at or above the minimum qualifies their referral; the
    rewards then go out in a task of their own. Any later purchase finds nothing pending."""
    purchase = Purchase.objects.filter(pk=purchase_id).first()
    if purchase is None:
        return None
    program = referral_settings()
    with transaction.atomic():
        referral = lock_one(Referral.objects.filter(referred_id=purchase.patient_id, status=Referral.Status.PENDING))
        if referral is None or purchase.total_cents < program.min_purchase_cents:
            return None
        if purchase.purchased_at < referral.created_at - PURCHASE_CLOCK_SKEW:
            # A back-dated purchase (e.g. imported) from before the sign-up is not a visit as a member.
            return None
        referral.status = Referral.Status.QUALIFIED
        referral.qualifying_purchase = purchase
        referral.qualified_at = timezone.now()
        referral.save(update_fields=["status", "qualifying_purchase", "qualified_at"])
        summary = f"Referral qualified: first purchase of {format_money(purchase.total_cents)}"
        data = {"referral_id": referral.pk, "purchase_id": purchase.pk}
        record_activity(patient=referral.referred, kind=Activity.Kind.REFERRAL, summary=summary, data=data)
        if referral.code.patient_id:
            record_activity(
                patient=referral.code.patient,
                kind=Activity.Kind.REFERRAL,
                summary=f"{short_name(referral.referred)}'s referral qualified (first purchase)",
                data=data,
            )
        enqueue_for_practice("referrals.tasks.issue_rewards", referral.pk, key=f"issue_rewards:{referral.pk}")
    return referral


@dataclass(frozen=True)
class RewardSpec:
    kind: str
    points: int = 0
    credit_cents: int = 0
    percent_off: int = 0

    @classmethod
    def from_fields(cls, row, prefix: str) -> RewardSpec:
        return cls(
            kind=getattr(row, f"{prefix}_reward_kind"),
            points=getattr(row, f"{prefix}_points"),
            credit_cents=getattr(row, f"{prefix}_credit_cents"),
            percent_off=getattr(row, f"{prefix}_percent_off"),
        )

    @property
    def gives_something(self) -> bool:
        return (
            (self.kind == RewardKind.POINTS and self.points > 0)
            or (self.kind == RewardKind.CREDIT and self.credit_cents > 0)
            or (self.kind == RewardKind.PERCENT and 1 <= self.percent_off <= 100)
        )

    @property
    def label(self) -> str:
        return ReferralReward(kind=self.kind, **self.values).label if self.gives_something else "Nothing"

    @property
    def values(self) -> dict:
        return {"points": self.points, "credit_cents": self.credit_cents, "percent_off": self.percent_off}


def referee_spec(code: ReferralCode, program: ReferralSettings) -> RewardSpec:
    if code.owner_kind == ReferralCode.OwnerKind.STAFF and not program.reward_staff_referrals:
        return RewardSpec(kind=RewardKind.NONE)
    if code.partner_id and code.partner.referee_reward_kind != "default":
        return RewardSpec.from_fields(code.partner, "referee")
    return RewardSpec.from_fields(program, "referee")


def referrer_spec(code: ReferralCode, program: ReferralSettings) -> RewardSpec:
    # Only patients hold points accounts: staff and partners are counted, not paid, by the program.
    if code.owner_kind != ReferralCode.OwnerKind.PATIENT:
        return RewardSpec(kind=RewardKind.NONE)
    if code.patient.status == Patient.Status.ARCHIVED:
        # A closed account is paid nothing more (a merged record's referrals moved to the kept patient's code).
        return RewardSpec(kind=RewardKind.NONE)
    return RewardSpec.from_fields(program, "referrer")


def _give(*, referral: Referral, role: str, patient: Patient, spec: RewardSpec, why: str, milestone: int | None = None):
    """One reward row and what it gives (ledger entry or gift voucher), in the caller's transaction."""
    reward = ReferralReward.objects.create(
        referral=referral, role=role, patient=patient, kind=spec.kind, milestone_count=milestone, **spec.values
    )
    if spec.kind == RewardKind.POINTS:
        reward.ledger_entry = post_points(
            account_id=ensure_account(patient=patient).pk,
            delta=spec.points,
            kind=LedgerEntry.Kind.REFERRAL,
            idempotency_key=f"referral:{referral.pk}:{role}",
            note=why,
            source_type=SOURCE_TYPE,
            source_id=referral.pk,
        )
    else:
        reward.voucher = grant_voucher(
            patient=patient,
            kind=Reward.Kind.CREDIT if spec.kind == RewardKind.CREDIT else Reward.Kind.PERCENT,
            credit_cents=spec.credit_cents,
            percent_off=spec.percent_off,
            name=f"Referral reward: {reward.label}",
        )
    reward.save(update_fields=["ledger_entry", "voucher"])
    record_activity(
        patient=patient,
        kind=Activity.Kind.REFERRAL_CREDITED,
        summary=f"{why}: {reward.label}",
        data={"referral_id": referral.pk, "reward_id": reward.pk, "role": role},
    )
    return reward


def issue_rewards(*, referral_id: int) -> list[ReferralReward]:
    """Give a qualified referral's rewards: the new patient's, the referrer's and a milestone bonus.

    Exactly once: the referral row is locked and leaves QUALIFIED in the same transaction, and each
    reward is unique per (referral, role)."""
    program = referral_settings()
    given: list[ReferralReward] = []
    # durable: the referral's lock is taken before the accounts' (the documented order), and the patients are
    # told when this transaction commits, not some caller's.
    with transaction.atomic(durable=True):
        locked = lock_one(Referral.objects.filter(pk=referral_id))
        if locked is None or locked.status != Referral.Status.QUALIFIED:
            return given
        # Read what it points to once the lock is ours, in a statement of its own: joined in the locking one,
        # a change committed while it waited (a merge moving the referral to the kept patient's new code)
        # would be joined with the rows as they were before it (no code at all).
        referral = Referral.objects.select_related("code__patient__user", "code__partner", "referred__user").get(
            pk=referral_id
        )
        code, friend = referral.code, referral.referred
        spec = referee_spec(code, program)
        if spec.gives_something:
            given.append(
                _give(
                    referral=referral,
                    role=ReferralReward.Role.REFEREE,
                    patient=friend,
                    spec=spec,
                    why=f"Welcome reward for joining with {code.owner_first_name}'s code",
                )
            )
        spec = referrer_spec(code, program)
        if spec.gives_something:
            given.append(
                _give(
                    referral=referral,
                    role=ReferralReward.Role.REFERRER,
                    patient=code.patient,
                    spec=spec,
                    why=f"Referral reward for {short_name(friend)}",
                )
            )
        if code.patient_id and code.patient.status != Patient.Status.ARCHIVED:
            given.extend(_milestone(referral=referral, code=code))
        referral.status = Referral.Status.REWARDED
        referral.rewarded_at = timezone.now()
        referral.save(update_fields=["status", "rewarded_at"])
        for reward in given:
            _tell(reward)
    return given


def _milestone(*, referral: Referral, code: ReferralCode) -> list[ReferralReward]:
    # This referral counts itself: it is still QUALIFIED until the caller marks it rewarded.
    count = code.referrals.filter(status__in=QUALIFIED_STATUSES).count()
    milestone = Milestone.objects.filter(count=count).first()
    if milestone is None:
        return []
    if ReferralReward.objects.filter(
        patient=code.patient, role=ReferralReward.Role.MILESTONE, milestone_count=count, reversed_at__isnull=True
    ).exists():
        return []
    spec = RewardSpec(kind=RewardKind.POINTS, points=milestone.points)
    return [
        _give(
            referral=referral,
            role=ReferralReward.Role.MILESTONE,
            patient=code.patient,
            spec=spec,
            why=f"Milestone bonus: {count} friends referred",
            milestone=count,
        )
    ]


def _tell(reward: ReferralReward) -> None:
    if reward.role == ReferralReward.Role.REFEREE:
        title = "Your welcome reward is here"
    elif reward.role == ReferralReward.Role.MILESTONE:
        title = f"Milestone reached: {reward.milestone_count} friends referred"
    else:
        title = "You earned a referral reward"
    url = "/points/" if reward.kind == RewardKind.POINTS else "/vouchers/"
    notify(patient=reward.patient, title=title, body=f"{reward.label}. Thank you!", url=url)


def claw_back(*, refund_id: int) -> Referral | None:
    """A refund of the qualifying purchase within the clawback window, leaving less than the minimum
    paid, takes the referral's rewards back: points (never below zero) and unused gift vouchers."""
    refund = Refund.objects.select_related("purchase").filter(pk=refund_id).first()
    if refund is None:
        return None
    program = referral_settings()
    purchase = refund.purchase
    with transaction.atomic():
        referral = lock_one(Referral.objects.filter(qualifying_purchase=purchase, status__in=QUALIFIED_STATUSES))
        if referral is None:
            return None
        if refund.created_at > purchase.purchased_at + timedelta(days=program.clawback_days):
            return None
        refunded = sum(purchase.refunds.values_list("amount_cents", flat=True))
        if purchase.total_cents - refunded >= program.min_purchase_cents:
            return None
        now = timezone.now()
        for reward in lock(referral.rewards.filter(reversed_at__isnull=True)):
            _take_back(reward=reward, referral=referral, now=now)
        referral.status = Referral.Status.REVERSED
        referral.reversed_at = now
        referral.save(update_fields=["status", "reversed_at"])
        record_activity(
            patient=referral.referred,
            kind=Activity.Kind.REFERRAL,
            summary="Referral reversed: the qualifying purchase was refunded",
            data={"referral_id": referral.pk, "refund_id": refund.pk},
        )
    return referral


def _take_back(*, reward: ReferralReward, referral: Referral, now: datetime) -> None:
    why = f"Referral reward taken back (purchase {referral.qualifying_purchase_id} refunded)"
    taken = 0
    if reward.kind == RewardKind.POINTS and reward.points:
        entry = post_points(
            account_id=ensure_account(patient=reward.patient).pk,
            delta=-reward.points,
            kind=LedgerEntry.Kind.REFERRAL,
            idempotency_key=f"referral-clawback:{reward.pk}",
            note=why,
            allow_partial_debit=True,
            source_type=SOURCE_TYPE,
            source_id=referral.pk,
        )
        taken = -entry.delta if entry is not None else 0
    elif reward.voucher_id:
        withdraw_gift_voucher(redemption_id=reward.voucher_id, why="its referral purchase was refunded")
    reward.reversed_at = now
    reward.points_taken_back = taken
    reward.save(update_fields=["reversed_at", "points_taken_back"])
    summary = why + (f": {format_number(taken)} points" if reward.kind == RewardKind.POINTS else f": {reward.label}")
    if reward.kind == RewardKind.POINTS and taken < reward.points:
        summary += f" ({format_number(reward.points - taken)} already spent)"
    record_activity(
        patient=reward.patient, kind=Activity.Kind.REFERRAL_CREDITED, summary=summary, data={"reward_id": reward.pk}
    )


# ---------------------------------------------------------------- text a friend


def _phone_hash(phone: str) -> str:
    return hashlib.sha256(f"{connection.schema_name}:{phone}".encode()).hexdigest()


def share_url(code: ReferralCode, *, source: str = "link", practice: Practice | None = None) -> str:
    """The code's share link (`/r/<code>?src=...`) on the practice's own host."""
    return practice_url(practice or current_practice(), f"/r/{code.code}?src={source}")


def join_url(practice: Practice | None = None, *, source: str = "qr") -> str:
    """The practice's own join link, with its invite code filled in (its poster's QR code)."""
    practice = practice or current_practice()
    return practice_url(practice, f"/join/?code={practice.invite_code or ''}&src={source}")


def text_a_friend(*, patient: Patient, code: ReferralCode, phone: str, friend_name: str = "") -> Message:
    """Text a friend the patient's share link, through the practice's SMS service. Rate-limited."""
    try:
        number = normalize_phone(phone)
    except InvalidPhone as exc:
        raise InvalidInvite(str(exc), field="phone") from None
    if patient.phone and number == patient.phone:
        raise InvalidInvite("That's your own number: send it to a friend's phone.", field="phone")
    if patient_by_phone(number) is not None:
        raise InvalidInvite("That number already belongs to a member of the practice.", field="phone")
    if not referral_settings().enabled:
        raise InvalidInvite("Referrals are turned off at the moment.")
    if not _code_is_active(code):
        raise InvalidInvite("Your referral code is paused at the moment. Please ask the front desk.")
    now = timezone.now()
    digest = _phone_hash(number)
    with transaction.atomic():
        lock_one(Patient.objects.filter(pk=patient.pk))  # one invite at a time per patient
        sent_today = TextInvite.objects.filter(patient=patient, created_at__gte=now - timedelta(days=1)).count()
        if sent_today >= TEXT_INVITES_PER_DAY:
            raise InviteRefused(f"You can text {TEXT_INVITES_PER_DAY} friends a day. Try again tomorrow.")
        if TextInvite.objects.filter(
            phone_hash=digest, created_at__gte=now - timedelta(days=SAME_NUMBER_DAYS)
        ).exists():
            raise InviteRefused("That number got an invitation recently. Share your link with them another way.")
        TextInvite.objects.create(patient=patient, phone_hash=digest)
        practice = current_practice()
        greeting = f"Hi {friend_name.strip()[:40]}! " if friend_name.strip() else ""
        body = (
            f"{greeting}{patient.user.first_name or 'Your friend'} invites you to join {practice.name} rewards "
            f"with their code {code.code}: {share_url(code, source='sms')} Reply STOP to opt out."
        )
        message = queue_sms(to=number, body=body, purpose=Message.Purpose.INVITE)
        record_activity(
            patient=patient,
            kind=Activity.Kind.REFERRAL,
            summary=f"Texted a friend an invitation{f' ({friend_name.strip()[:40]})' if friend_name.strip() else ''}",
            data={"message_id": message.pk},
        )
    return message


# ---------------------------------------------------------------- staff: partners and escalations


PARTNER_FIELDS = (
    "name",
    "kind",
    "contact_name",
    "email",
    "phone",
    "notes",
    "is_active",
    "referee_reward_kind",
    "referee_points",
    "referee_credit_cents",
    "referee_percent_off",
)


def save_partner(*, partner: Partner, actor: User) -> Partner:
    """Create or update a partner (a new one gets its code), recorded in the audit trail."""
    audit.require_actor(actor)
    with transaction.atomic():
        # The stored row, not the instance: the form (or the page's switch) has already changed it.
        was = audit.stored(partner, PARTNER_FIELDS)
        creating = partner.pk is None
        partner.save()
        code_for_partner(partner)
        if creating:
            audit.record(
                actor=actor, action="partner.created", target=partner, after=audit.snapshot(partner, PARTNER_FIELDS)
            )
        elif (diff := audit.changes(was, partner, PARTNER_FIELDS))["after"]:
            audit.record(actor=actor, action="partner.updated", target=partner, **diff)
    return partner


def set_code_active(*, code: ReferralCode, is_active: bool) -> ReferralCode:
    code.is_active = is_active
    code.save(update_fields=["is_active"])
    return code


@transaction.atomic
def escalate(*, patient: Patient, message: str, actor: User, referral: Referral | None = None) -> SupportEscalation:
    """Ask platform support to look at a patient's referral: a row in the platform's (public) schema, and an
    entry in the practice's audit trail."""
    audit.require_actor(actor)
    message = (message or "").strip()
    if not message:
        raise ReferralError("Describe what looks wrong.", field="message")
    referral_label = ""
    if referral is not None:
        referral_label = (
            f"#{referral.pk} code {referral.code_used} ({referral.get_status_display()}"
            f"{', ' + referral.get_reason_display() if referral.reason else ''}), {referral.created_at:%Y-%m-%d}"
        )
    practice = current_practice()
    escalation = SupportEscalation.objects.create(
        practice=practice,
        topic="referral",
        patient_id=patient.pk,
        patient_label=f"{patient.full_name} ({patient.phone})".strip(),
        referral_id=referral.pk if referral else None,
        referral_label=referral_label[:300],
        message=message[:4000],
        raised_by=f"{actor.get_full_name()} <{actor.email}>".strip(),
    )
    record_activity(
        patient=patient,
        kind=Activity.Kind.NOTE,
        summary=f"Escalated to platform support (#{escalation.pk}): {message[:200]}",
        actor=actor,
        data={"escalation_id": escalation.pk},
    )
    audit.record(
        actor=actor,
        action="escalation.raised",
        target=escalation,
        target_label=f"Support request #{escalation.pk} about {patient}",
        after={"topic": escalation.topic, "message": message[:500], "referral": referral_label[:300]},
    )
    return escalation


# ---------------------------------------------------------------- staff: program settings and milestones

SETTINGS_FIELDS = (
    "enabled",
    "referrer_reward_kind",
    "referrer_points",
    "referrer_credit_cents",
    "referrer_percent_off",
    "referee_reward_kind",
    "referee_points",
    "referee_credit_cents",
    "referee_percent_off",
    "min_purchase_cents",
    "yearly_limit",
    "reward_staff_referrals",
    "clawback_days",
)


def update_referral_settings(*, actor: User, **values) -> dict[str, tuple]:
    """Save the program settings (the fields of SETTINGS_FIELDS); returns what changed as
    {field: (before, after)} and writes it to the audit trail with who changed it."""
    audit.require_actor(actor)
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise TypeError(f"Not referral settings: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        ReferralSettings.objects.get_or_create(pk=1)
        row = lock_get(ReferralSettings.objects, pk=1)
        changes = {name: (getattr(row, name), value) for name, value in values.items() if getattr(row, name) != value}
        for name, (_, value) in changes.items():
            setattr(row, name, value)
        row.save()
        if changes:
            audit.record(
                actor=actor,
                action="referral_settings.updated",
                target=row,
                before={name: before for name, (before, _) in changes.items()},
                after={name: after for name, (_, after) in changes.items()},
            )
    return changes


@transaction.atomic
def save_milestone(*, milestone: Milestone | None, count: int, points: int, actor: User) -> Milestone:
    """Create or update a milestone bonus, recorded in the audit trail; a count another milestone has raises
    ReferralError."""
    audit.require_actor(actor)
    fields = ("count", "points")
    milestone = milestone or Milestone()
    was = audit.stored(milestone, fields)
    creating = milestone.pk is None
    milestone.count, milestone.points = count, points
    try:
        with transaction.atomic():
            milestone.save()
    except IntegrityError:
        raise ReferralError(f"There is already a milestone at {count} referrals.", field="count") from None
    if creating:
        audit.record(actor=actor, action="milestone.created", target=milestone, after=audit.snapshot(milestone, fields))
    elif (diff := audit.changes(was, milestone, fields))["after"]:
        audit.record(actor=actor, action="milestone.updated", target=milestone, **diff)
    return milestone


@transaction.atomic
def delete_milestone(*, milestone: Milestone, actor: User) -> None:
    """Remove a milestone, recorded in the audit trail; bonuses already given keep their count (they don't
    point at the row)."""
    audit.require_actor(actor)
    audit.record(
        actor=actor, action="milestone.deleted", target=milestone, before=audit.stored(milestone, ("count", "points"))
    )
    milestone.delete()
