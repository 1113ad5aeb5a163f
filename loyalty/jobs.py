"""The points engine's daily work for one practice: expiry, birthdays, expiry reminders and tiers.

`run_daily_jobs` runs inside the practice's schema (the fan-out in practices.tasks enters it). Every
part is keyed by the database (ledger idempotency keys, award limits, reminder rows), so running it
twice on a day changes nothing, and each part looks back far enough to catch up after missed days.
"""

from __future__ import annotations

import calendar
import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient
from patients.notifications import notify
from practices.formatting import format_number

from .errors import ActionLimitReached, ActionNotAvailable
from .models import ActionAward, EarningAction, ExpiryReminder, LedgerEntry, PointsAccount, Tier
from .services import TIER_WINDOW, award_action, evaluate_tier, expire_points, program_settings

logger = logging.getLogger(__name__)

# A birthday missed because the job did not run is still celebrated this many days later.
BIRTHDAY_CATCH_UP_DAYS = 7


def run_daily_jobs(now: datetime | None = None) -> dict[str, int]:
    """Expire due points, award today's birthdays, send due expiry reminders and move tiers, once each.

    Safe to run twice on the same day; catches up after missed days. Returns how many of each it did.
    """
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    counts = {
        # Expiry first: a birthday gift given today must not be swept away by today's expiry.
        "expired": expire_due_points(now=now, zone=zone),
        "birthdays": award_birthdays(now=now, zone=zone),
        "reminders": send_expiry_reminders(now=now, zone=zone),
        "tiers": reevaluate_tiers(now=now),
    }
    logger.info("Daily loyalty jobs for %s: %s", connection.schema_name, counts)
    return counts


# ---------------------------------------------------------------- expiry


def _expiry_key(account_id: int, expires_at: datetime) -> str:
    # The key loyalty.services.expire_points posts under: one expiry per account and expiry date.
    return f"expiry:{account_id}:{expires_at.isoformat()}"


def expire_due_points(*, now: datetime, zone: ZoneInfo) -> int:
    """Expire the balance of every account whose expiry date has passed, once per expiry date; notify the patient."""
    due = list(
        PointsAccount.objects.filter(expires_at__lte=now, balance__gt=0).select_related("patient__user").order_by("pk")
    )
    # Points that arrived after an expiry without a new purchase (a bonus) keep the old, already
    # expired date; expire_points would only return the old entry for them, so they are skipped here.
    already = set(
        LedgerEntry.objects.filter(idempotency_key__in=[_expiry_key(a.pk, a.expires_at) for a in due]).values_list(
            "idempotency_key", flat=True
        )
    )
    expired = 0
    for account in due:
        if _expiry_key(account.pk, account.expires_at) in already:
            continue
        with transaction.atomic():
            entry = expire_points(account_id=account.pk, now=now)
            if entry is None or entry.idempotency_key != _expiry_key(account.pk, account.expires_at):
                continue  # a purchase moved the date, or another run expired it, while we were looking
            expired += 1
            if account.patient.status == Patient.Status.ACTIVE:
                points = -entry.delta
                on = timezone.localtime(account.expires_at, zone).date()
                notify(
                    patient=account.patient,
                    title=f"{format_number(points)} points expired",
                    body=f"Your {format_number(points)} points expired on {_day(on)}. Every visit earns new points.",
                    url=reverse("loyalty:history"),
                )
    return expired


# ---------------------------------------------------------------- birthdays


def _birthday_in(year: int, birthday: date) -> date:
    """The day a birthday is celebrated in `year` (29 February falls on 28 February in other years)."""
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, birthday.month, birthday.day)


def award_birthdays(*, now: datetime, zone: ZoneInfo) -> int:
    """Give the birthday action to active patients whose birthday is today (or was, in missed days), once a year."""
    action = EarningAction.objects.filter(kind=EarningAction.Kind.BIRTHDAY, is_active=True).first()
    if action is None:
        return 0
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=back) for back in range(BIRTHDAY_CATCH_UP_DAYS)]
    matches = Q()
    for day in days:
        # Someone who joined after their birthday has passed waits for next year's.
        joined_in_time = Q(created_at__lt=_start_of(day + timedelta(days=1), zone))
        matches |= Q(birthday__month=day.month, birthday__day=day.day) & joined_in_time
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            matches |= Q(birthday__month=2, birthday__day=29) & joined_in_time
    candidates = list(
        Patient.objects.filter(matches, status=Patient.Status.ACTIVE, birthday__isnull=False)
        .select_related("user")
        .order_by("pk")
    )
    if not candidates:
        return 0

    # Who already had this birthday: a yearly action's limit key is the birthday's year, a once-ever
    # action's is "ever"; for an unlimited one, any award since this birthday began counts.
    given: dict[int, list[tuple[str | None, datetime]]] = {}
    earliest = _start_of(days[-1], zone)
    for patient_id, limit_key, awarded_at in ActionAward.objects.filter(
        Q(limit_key__isnull=False) | Q(awarded_at__gte=earliest), action=action, patient__in=candidates
    ).values_list("patient_id", "limit_key", "awarded_at"):
        given.setdefault(patient_id, []).append((limit_key, awarded_at))

    awarded = 0
    for patient in candidates:
        celebrated_on = next((day for day in days if _birthday_in(day.year, patient.birthday) == day), None)
        if celebrated_on is None:
            continue
        if _already_celebrated(action, given.get(patient.pk, []), celebrated_on=celebrated_on, zone=zone):
            continue
        try:
            # award_action reads the year for the yearly limit in the current time zone at `at`: the
            # practice's, at midday on the birthday, so a birthday caught up in January counts for
            # the year it fell in.
            with transaction.atomic(), timezone.override(zone):
                award_action(
                    patient=patient,
                    action=action,
                    note=f"Birthday {celebrated_on:%Y}",
                    at=datetime.combine(celebrated_on, time(12), tzinfo=zone),
                    # Once per birthday whatever the action's limit: the database refuses a second award.
                    occasion=str(celebrated_on.year),
                )
                notify(
                    patient=patient,
                    title="Happy birthday!",
                    body=(
                        f"Happy birthday from all of us! We added {format_number(action.points)} points "
                        "to your account."
                    ),
                    url=reverse("loyalty:history"),
                )
        except (ActionLimitReached, ActionNotAvailable):
            continue  # given by a concurrent run, or a once-ever action already used
        awarded += 1
    return awarded


def _already_celebrated(
    action: EarningAction, awards: list[tuple[str | None, datetime]], *, celebrated_on: date, zone: ZoneInfo
) -> bool:
    if action.limit == EarningAction.Limit.YEARLY:
        return any(key == str(celebrated_on.year) for key, _ in awards)
    if action.limit == EarningAction.Limit.ONCE:
        return any(key == "ever" for key, _ in awards)
    started = _start_of(celebrated_on, zone)
    return any(awarded_at >= started for _, awarded_at in awards)


# ---------------------------------------------------------------- expiry reminders


def send_expiry_reminders(*, now: datetime, zone: ZoneInfo) -> int:
    """Remind active patients N days before their points expire, once per N and expiry date; returns messages sent.

    After missed days only the most urgent due reminder goes out; the earlier ones are recorded as
    sent so they never arrive late. Reminders belong to an expiry date: a purchase that moves the
    date starts a fresh series.
    """
    reminder_days = sorted(set(program_settings().reminder_days))
    if not reminder_days:
        return 0
    today = now.astimezone(zone).date()
    # Days are counted on the practice's calendar: "7 days before" is the date a week before the
    # expiry date there, whatever the hour the job runs at. Reminder N is due once the expiry date is
    # at most N days away (expires_at before the start of today + N + 1) and not recorded yet.
    due = Q()
    for days in reminder_days:
        recorded = ExpiryReminder.objects.filter(
            account=OuterRef("pk"), expires_at=OuterRef("expires_at"), days_before=days
        )
        due |= Q(expires_at__lt=_start_of(today + timedelta(days=days + 1), zone)) & ~Exists(recorded)
    accounts = list(
        PointsAccount.objects.filter(due, balance__gt=0, expires_at__gt=now, patient__status=Patient.Status.ACTIVE)
        .select_related("patient__user")
        .order_by("pk")
    )
    sent: dict[tuple[int, datetime], set[int]] = {}
    for account_id, expires_at, days_before in ExpiryReminder.objects.filter(account__in=accounts).values_list(
        "account_id", "expires_at", "days_before"
    ):
        sent.setdefault((account_id, expires_at), set()).add(days_before)

    reminded = 0
    for account in accounts:
        expires_on = timezone.localtime(account.expires_at, zone).date()
        due = [n for n in reminder_days if today >= expires_on - timedelta(days=n)]
        already = sent.get((account.pk, account.expires_at), set())
        unsent = [n for n in due if n not in already]
        if not unsent:
            continue
        most_urgent = unsent[0]
        points = account.balance
        try:
            with transaction.atomic():
                ExpiryReminder.objects.bulk_create(
                    ExpiryReminder(account=account, expires_at=account.expires_at, days_before=days, points=points)
                    for days in unsent
                )
                if already and min(already) < most_urgent:
                    continue  # a more urgent reminder already went out for this date
                notify(
                    patient=account.patient,
                    title=f"Your {format_number(points)} points expire on {_day(expires_on)}",
                    body=f"Visit us or redeem a reward before {_day(expires_on)}, {expires_on.year} to keep them.",
                    url=reverse("loyalty:history"),
                )
        except IntegrityError:
            continue  # a concurrent run recorded (and sent) this reminder
        reminded += 1
    return reminded


# ---------------------------------------------------------------- tiers


def reevaluate_tiers(*, now: datetime) -> int:
    """Move every account whose last-12-months earnings now reach a different tier (up or down); returns how many."""
    tiers = list(Tier.objects.order_by("-threshold_points"))
    since = now - TIER_WINDOW
    # The same sum as loyalty.services.points_earned_recently, for every account in one query.
    earned = Coalesce(
        Sum(
            "entries__delta",
            filter=Q(
                entries__kind__in=[*LedgerEntry.EARNING_KINDS, LedgerEntry.Kind.REFUND],
                entries__created_at__gte=since,
            ),
        ),
        0,
    )
    accounts = PointsAccount.objects.all()
    if not tiers:
        accounts = accounts.filter(tier__isnull=False)  # only losing a deleted ladder's tier can change
    # What records merged into a patient's earned counts for that patient (as in points_earned_recently).
    merged_earned = dict(
        PointsAccount.objects.filter(patient__merged_into__isnull=False)
        .values("patient__merged_into_id")
        .annotate(earned=earned)
        .values_list("patient__merged_into_id", "earned")
    )
    changed = 0
    rows = accounts.annotate(earned=earned).values_list("pk", "patient_id", "tier_id", "earned")
    for account_id, patient_id, tier_id, points in rows:
        points += merged_earned.get(patient_id, 0)
        target = next((t.pk for t in tiers if t.threshold_points <= max(points, 0)), None)
        if target != tier_id:
            evaluate_tier(account_id=account_id, now=now)
            changed += 1
    return changed


# ---------------------------------------------------------------- helpers


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _day(day: date) -> str:
    return f"{day:%B} {day.day}"
