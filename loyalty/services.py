"""Every change to points goes through here. `post_points` is the only code that moves a balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import User
from patients.models import Activity, Patient
from patients.services import record_activity
from practices import audit
from practices.formatting import format_money, format_number, format_points
from practices.selectors import current_practice

from .errors import (
    ActionLimitReached,
    ActionNotAvailable,
    DuplicateRefund,
    InsufficientPoints,
    InvalidPurchase,
    InvalidRefund,
)
from .models import (
    ActionAward,
    Campaign,
    CatalogItem,
    EarningAction,
    LedgerEntry,
    PointsAccount,
    ProgramSettings,
    Purchase,
    PurchaseLine,
    Refund,
    RefundLine,
    Tier,
)
from .rows import fetch_rows, insert_rows, update_row
from .signals import purchase_recorded, purchase_refunded

TIER_WINDOW = timedelta(days=365)


def program_settings() -> ProgramSettings:
    """The practice's program settings (created with defaults the first time)."""
    settings_row, _ = ProgramSettings.objects.get_or_create(pk=1)
    return settings_row


def ensure_account(*, patient: Patient) -> PointsAccount:
    """The patient's points account, created if missing (every patient has exactly one)."""
    account, _ = PointsAccount.objects.get_or_create(patient=patient)
    return account


def lock_accounts(*account_ids: int) -> dict[int, PointsAccount]:
    """Lock accounts in primary-key order, so two writers that lock several never deadlock."""
    accounts = PointsAccount.objects.select_for_update(of=("self",)).filter(pk__in=account_ids).order_by("pk")
    return {account.pk: account for account in accounts}


@transaction.atomic
def post_points(
    *,
    account_id: int,
    delta: int,
    kind: str,
    idempotency_key: str | None = None,
    actor: User | None = None,
    note: str = "",
    allow_partial_debit: bool = False,
    purchase: Purchase | None = None,
    refund: Refund | None = None,
    award: ActionAward | None = None,
    source_type: str = "",
    source_id: int | None = None,
) -> LedgerEntry:
    """Append one ledger entry and move the balance with it, under the account's row lock.

    Never lets a balance go below zero (InsufficientPoints), or with `allow_partial_debit` takes only
    what is there (on an empty balance nothing is written and an unsaved entry with delta 0 comes back).
    The same idempotency key always returns the first entry.
    """
    if idempotency_key and (done := LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()):
        return done
    if delta == 0:
        raise ValueError("A ledger entry must change the balance.")
    account = lock_accounts(account_id)[account_id]
    if idempotency_key and (done := LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()):
        return done  # written by a concurrent caller while we waited for the lock
    return _post_to_locked_account(
        account=account,
        delta=delta,
        kind=kind,
        idempotency_key=idempotency_key,
        actor=actor,
        note=note,
        allow_partial_debit=allow_partial_debit,
        purchase=purchase,
        refund=refund,
        award=award,
        source_type=source_type,
        source_id=source_id,
    )


def _post_to_locked_account(
    *,
    account: PointsAccount,
    delta: int,
    kind: str,
    also_save: tuple[str, ...] = (),
    settings_row: ProgramSettings | None = None,
    **entry,
) -> LedgerEntry:
    """post_points for a caller that already holds the account's lock inside its transaction (and whose
    entry is new): the same rules, without locking and looking up again. `also_save` writes other fields
    the caller changed on the account in the same UPDATE."""
    if account.balance + delta < 0:
        if not entry.pop("allow_partial_debit", False):
            raise InsufficientPoints(needed=-delta, available=account.balance)
        delta = -account.balance
    entry.pop("allow_partial_debit", None)
    if delta == 0:
        if also_save:
            update_row(account, [*also_save, "updated_at"])
        return LedgerEntry(account=account, kind=kind, delta=0, balance_after=account.balance)
    account.balance += delta
    fields = ["balance", "lifetime_earned", "updated_at", *also_save]
    if kind in LedgerEntry.EARNING_KINDS and delta > 0:
        account.lifetime_earned += delta
        now = timezone.now()
        if account.expires_at is None or account.expires_at <= now:
            # Points earned with no purchase date running (none yet, or it already expired) get their
            # own date, or they would never expire; a purchase moves it as usual.
            expiry_days = (settings_row or program_settings()).expiry_days
            account.expires_at = now + timedelta(days=expiry_days)
            fields.append("expires_at")
    update_row(account, fields)
    entry["note"] = entry.get("note", "")[:300]
    ledger_entry = LedgerEntry(account=account, kind=kind, delta=delta, balance_after=account.balance, **entry)
    insert_rows([ledger_entry])
    return ledger_entry


# ---------------------------------------------------------------- tiers


def points_earned_recently(*, account: PointsAccount, now: datetime | None = None) -> int:
    """Points earned in the rolling last 12 months, net of refunds (what tiers are based on): on the account and
    on the accounts of records merged into the patient's (one person's earnings, whichever record they were on)."""
    since = (now or timezone.now()) - TIER_WINDOW
    kinds = [*LedgerEntry.EARNING_KINDS, LedgerEntry.Kind.REFUND]
    accounts = Q(account=account) | Q(account__patient__merged_into_id=account.patient_id)
    entries = LedgerEntry.objects.filter(accounts, kind__in=kinds, created_at__gte=since)
    return max(entries.aggregate(total=Sum("delta"))["total"] or 0, 0)


def tier_for(points: int, tiers: list[Tier] | None = None) -> Tier | None:
    """The highest tier `points` reach, or None; from `tiers` (highest threshold first) when already read."""
    if tiers is None:
        tiers = list(Tier.objects.order_by("-threshold_points"))
    return next((tier for tier in tiers if tier.threshold_points <= points), None)


@transaction.atomic
def evaluate_tier(*, account_id: int, now: datetime | None = None) -> PointsAccount:
    """Move the account to the tier its last-12-months earnings reach (up or down); notes changes on the timeline."""
    return _evaluate_locked_tier(account=lock_accounts(account_id)[account_id], now=now)


def _evaluate_locked_tier(
    *, account: PointsAccount, now: datetime | None = None, earned: int | None = None
) -> PointsAccount:
    tier = tier_for(points_earned_recently(account=account, now=now) if earned is None else earned)
    if (tier.pk if tier else None) != account.tier_id:
        previous = account.tier
        account.tier = tier
        account.save(update_fields=["tier", "updated_at"])
        _note_tier_change(patient=account.patient, tier=tier, previous=previous)
    return account


def _note_tier_change(*, patient: Patient, tier: Tier | None, previous: Tier | None) -> None:
    went_up = tier is not None and (previous is None or tier.threshold_points > previous.threshold_points)
    record_activity(
        patient=patient,
        kind=Activity.Kind.TIER_CHANGED,
        summary=f"{'Reached' if went_up else 'Moved to'} {tier.name if tier else 'no tier'}"
        + (f" (was {previous.name})" if previous else ""),
        data={"tier": tier.name if tier else None, "previous": previous.name if previous else None},
    )


# ---------------------------------------------------------------- purchases


@dataclass(frozen=True)
class LineIn:
    """One line of a purchase as the desk, the POS or an import gives it."""

    quantity: int
    unit_price_cents: int
    item: CatalogItem | None = None
    name: str = ""
    category: str = ""


def _line_base_points(line: LineIn, total_cents: int, default_rate: int) -> int:
    item = line.item
    if item is None or item.earning == CatalogItem.Earning.NONE:
        return 0
    if item.earning == CatalogItem.Earning.FIXED:
        return item.fixed_points * line.quantity
    rate = item.points_per_dollar if item.points_per_dollar is not None else default_rate
    return total_cents * rate // 100


def _best_campaign(campaigns: list[Campaign], category: str) -> Campaign | None:
    matching = [c for c in campaigns if not c.category or c.category.lower() == category.lower()]
    return max(matching, key=lambda c: c.multiplier_percent, default=None)


def quote_purchase(
    *,
    patient: Patient,
    lines: list[LineIn],
    at: datetime | None = None,
    account: PointsAccount | None = None,
    settings_row: ProgramSettings | None = None,
) -> dict:
    """The points a purchase would earn now (the checkout shows it before confirming)."""
    at = at or timezone.now()
    account = account or ensure_account(patient=patient)
    settings_row = settings_row or program_settings()
    return _price_lines(
        lines=lines,
        tier_percent=account.tier.multiplier_percent if account.tier_id else 100,
        default_rate=settings_row.points_per_dollar,
        campaigns=list(Campaign.objects.filter(is_active=True, starts_at__lte=at, ends_at__gt=at)),
    )


def _price_lines(*, lines: list[LineIn], tier_percent: int, default_rate: int, campaigns: list[Campaign]) -> dict:
    """The earning rules, for the quote and the purchase alike: each line's base points times the tier's
    multiplier and the best campaign running for its category; the purchase's total rounds down once."""
    priced = []
    weighted_total = 0
    for line in lines:
        total = line.quantity * line.unit_price_cents
        base = _line_base_points(line, total, default_rate)
        category = line.item.category if line.item else line.category
        campaign = _best_campaign(campaigns, category) if base else None
        weighted = base * tier_percent * (campaign.multiplier_percent if campaign else 100)
        weighted_total += weighted
        priced.append({"line": line, "total_cents": total, "base": base, "weighted": weighted, "campaign": campaign})
    return {
        "lines": priced,
        "total_cents": sum(p["total_cents"] for p in priced),
        "points": weighted_total // 10_000,
        "tier_multiplier_percent": tier_percent,
    }


def _validate_lines(lines: list[LineIn]) -> None:
    if not lines:
        raise InvalidPurchase("A purchase needs at least one line.", field="lines")
    for line in lines:
        if line.quantity < 1:
            raise InvalidPurchase("Each line needs a quantity of at least 1.", field="lines")
        if line.unit_price_cents < 0:
            raise InvalidPurchase("Prices can't be negative.", field="lines")
        if line.item is None and not line.name.strip():
            raise InvalidPurchase("Each line needs a catalog item or a name.", field="lines")


def record_purchase(
    *,
    patient: Patient,
    lines: list[LineIn],
    source: str,
    external_id: str | None = None,
    purchased_at: datetime | None = None,
    actor: User | None = None,
    payment_method: str = "",
    note: str = "",
) -> tuple[Purchase, bool]:
    """Record a purchase and pay its points in one `purchase` entry; returns (purchase, created).

    Idempotent on the POS transaction id (`external_id`): a repeat, even a concurrent one, returns the
    original. Resets the expiry clock, applies cross-booking and re-evaluates the tier. A new purchase comes
    back with `lines_written` (its PurchaseLine rows) and `balance_after` (the patient's balance with it).
    """
    _validate_lines(lines)
    external_id = (external_id or "").strip() or None
    try:
        with transaction.atomic():
            purchase, created = _record_purchase(
                patient=patient,
                lines=lines,
                source=source,
                external_id=external_id,
                purchased_at=purchased_at or timezone.now(),
                actor=actor,
                payment_method=payment_method,
                note=note,
            )
    except IntegrityError:
        # A concurrent request with the same transaction id won the unique constraint.
        if external_id and (existing := Purchase.objects.filter(external_id=external_id).first()):
            return existing, False
        raise
    return purchase, created


def _record_purchase(
    *, patient, lines, source, external_id, purchased_at, actor, payment_method, note
) -> tuple[Purchase, bool]:
    # The POS sends hundreds of these a second, so the reads are two statements: the account's lock
    # (which also tells whether the transaction id was recorded already), then everything the points
    # depend on. The writes are the models' own: the purchase, its lines, one UPDATE of the account
    # (balance, expiry date and tier together) with its ledger entry, and the timeline entry.
    account, existing_id = _lock_account_for_purchase(patient=patient, external_id=external_id)
    if existing_id is not None:
        return Purchase.objects.get(pk=existing_id), False
    context = _purchase_context(account=account, patient=patient, at=purchased_at)
    current_tier = next((tier for tier in context.tiers if tier.pk == account.tier_id), None)
    quote = _price_lines(
        lines=lines,
        tier_percent=current_tier.multiplier_percent if current_tier else 100,
        default_rate=context.settings.points_per_dollar,
        campaigns=context.campaigns,
    )
    purchase = Purchase(
        patient=patient,
        source=source,
        external_id=external_id,
        total_cents=quote["total_cents"],
        points=quote["points"],
        tier_multiplier_percent=quote["tier_multiplier_percent"],
        purchased_at=purchased_at,
        recorded_by=actor,
        payment_method=payment_method[:30],
        note=note[:300],
    )
    insert_rows([purchase])
    lines_written = [
        PurchaseLine(
            purchase=purchase,
            item=p["line"].item,
            name=(p["line"].item.name if p["line"].item else p["line"].name)[:120],
            category=(p["line"].item.category if p["line"].item else p["line"].category)[:60],
            quantity=p["line"].quantity,
            unit_price_cents=p["line"].unit_price_cents,
            total_cents=p["total_cents"],
            base_points=p["base"],
            weighted_points=p["weighted"],
            campaign=p["campaign"],
        )
        for p in quote["lines"]
    ]
    insert_rows(lines_written)
    moved: tuple[str, ...] = ()
    if account.last_purchase_at is None or purchased_at >= account.last_purchase_at:
        account.last_purchase_at = purchased_at
        account.expires_at = purchased_at + timedelta(days=context.settings.expiry_days)
        moved = ("last_purchase_at", "expires_at")
    new_categories = _new_categories(lines=lines, known=context.known_categories)
    tier = current_tier
    if not new_categories:
        # Decided before the account is written, so the tier goes out in the same UPDATE as the balance.
        # (A cross-booking bonus re-evaluates the tier itself once awarded: see below.)
        tier = tier_for(max(context.earned_recently + purchase.points, 0), context.tiers)
        if tier != current_tier:
            account.tier = tier
            moved = (*moved, "tier")
    if purchase.points:
        _post_to_locked_account(
            account=account,
            delta=purchase.points,
            kind=LedgerEntry.Kind.PURCHASE,
            also_save=moved,
            settings_row=context.settings,
            idempotency_key=f"purchase:{purchase.pk}",
            actor=actor,
            purchase=purchase,
            note=f"Purchase of {format_money(purchase.total_cents)}",
        )
    elif moved:
        update_row(account, [*moved, "updated_at"])
    record_activity(
        patient=patient,
        kind=Activity.Kind.PURCHASE,
        summary=f"Purchase of {format_money(purchase.total_cents)}: earned {format_points(purchase.points)}",
        actor=actor,
        data={"purchase_id": purchase.pk, "points": purchase.points, "source": source},
    )
    if tier != current_tier:
        _note_tier_change(patient=patient, tier=tier, previous=current_tier)
    if new_categories:
        if _award_cross_booking(patient=patient, categories=new_categories):
            account.refresh_from_db(fields=["balance"])  # the award posted its points through its own instance
        else:
            _evaluate_locked_tier(account=account)  # an award re-evaluates the tier itself; a refused one can't
    # What the POS answers with, so it need not be read back.
    purchase.lines_written, purchase.balance_after = lines_written, account.balance
    # In the transaction: what subscribers queue (a referral's qualification) commits with the purchase.
    purchase_recorded.send(sender=Purchase, purchase=purchase, schema_name=connection.schema_name)
    return purchase, True


def _lock_account_for_purchase(*, patient: Patient, external_id: str | None) -> tuple[PointsAccount, int | None]:
    """The patient's account, locked (opened first if missing), and the id of the purchase already recorded
    under `external_id`, if any. A repeat sent while the first is still being recorded is not seen here:
    the unique transaction id refuses its insert, and record_purchase returns the first."""
    accounts = fetch_rows(
        PointsAccount,
        "SELECT {columns}, (SELECT p.id FROM loyalty_purchase p WHERE p.external_id = %s)"
        " FROM loyalty_pointsaccount t WHERE t.patient_id = %s FOR UPDATE OF t",
        [external_id, patient.pk],
        extra=("existing_purchase_id",),
    )
    for account in accounts:
        return account, account.existing_purchase_id
    ensure_account(patient=patient)
    return _lock_account_for_purchase(patient=patient, external_id=external_id)


@dataclass(frozen=True)
class _PurchaseContext:
    """What a purchase's points, tier and bonus depend on."""

    settings: ProgramSettings
    tiers: list[Tier]  # highest threshold first
    campaigns: list[Campaign]  # running at the time of the purchase
    earned_recently: int  # the sum points_earned_recently() clamps at zero, before this purchase
    known_categories: set[str]  # lower-cased; left empty when no cross-booking bonus is on


# One statement for what _PurchaseContext holds, read under the account's lock (so the sum of recent
# earnings counts every entry committed before it). The same rules as the ORM reads they stand for:
# program_settings(), the tiers of tier_for(), the campaigns of quote_purchase(), points_earned_recently()
# and the categories of _new_categories(); tests/loyalty/test_purchase_path.py holds them to it.
_PURCHASE_CONTEXT_SQL = """
SELECT
    (SELECT json_build_object('id', s.id, 'points_per_dollar', s.points_per_dollar, 'expiry_days', s.expiry_days)
     FROM loyalty_programsettings s WHERE s.id = 1),
    (SELECT json_agg(json_build_object(
         'id', t.id, 'name', t.name, 'threshold_points', t.threshold_points,
         'multiplier_percent', t.multiplier_percent) ORDER BY t.threshold_points DESC)
     FROM loyalty_tier t),
    (SELECT json_agg(json_build_object('id', c.id, 'category', c.category, 'multiplier_percent', c.multiplier_percent))
     FROM loyalty_campaign c WHERE c.is_active AND c.starts_at <= %(at)s AND c.ends_at > %(at)s),
    (SELECT coalesce(sum(e.delta), 0) FROM loyalty_ledgerentry e
     WHERE e.account_id = %(account)s AND e.kind = ANY(%(kinds)s) AND e.created_at >= %(since)s)
    + (SELECT coalesce(sum(e.delta), 0) FROM loyalty_ledgerentry e
       JOIN loyalty_pointsaccount a ON a.id = e.account_id JOIN patients_patient m ON m.id = a.patient_id
       WHERE m.merged_into_id = %(patient)s AND e.kind = ANY(%(kinds)s) AND e.created_at >= %(since)s),
    CASE WHEN EXISTS (SELECT 1 FROM loyalty_earningaction a WHERE a.kind = %(cross_booking)s AND a.is_active)
        THEN ARRAY(SELECT DISTINCT l.category FROM loyalty_purchaseline l
                   JOIN loyalty_purchase p ON p.id = l.purchase_id WHERE p.patient_id = %(patient)s)
    END
"""


def _purchase_context(*, account: PointsAccount, patient: Patient, at: datetime) -> _PurchaseContext:
    with connection.cursor() as cursor:
        cursor.execute(
            _PURCHASE_CONTEXT_SQL,
            {
                "at": at,
                "account": account.pk,
                "kinds": [*LedgerEntry.EARNING_KINDS, LedgerEntry.Kind.REFUND],
                "since": timezone.now() - TIER_WINDOW,
                "cross_booking": EarningAction.Kind.CROSS_BOOKING,
                "patient": patient.pk,
            },
        )
        settings_row, tiers, campaigns, earned, categories = cursor.fetchone()
    return _PurchaseContext(
        # The row is created with its defaults the first time it is needed.
        settings=_from_json(ProgramSettings, settings_row) if settings_row else program_settings(),
        tiers=[_from_json(Tier, row) for row in tiers or ()],
        campaigns=[_from_json(Campaign, row) for row in campaigns or ()],
        earned_recently=earned,
        known_categories={category.lower() for category in categories or ()},
    )


def _from_json(model, row: dict):
    """A model instance from some of its columns (the others load on first use, as with .only())."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in row]
    return model.from_db(connection.alias, names, [row[name] for name in names])


def _new_categories(*, lines: list[LineIn], known: set[str]) -> list[str]:
    """Categories in this purchase the patient never bought before (none on a first purchase)."""
    if not known:
        return []
    seen: list[str] = []
    for line in lines:
        category = (line.item.category if line.item else line.category).strip()
        if category and category.lower() not in known and category.lower() not in {s.lower() for s in seen}:
            seen.append(category)
    return seen


def _award_cross_booking(*, patient: Patient, categories: list[str]) -> bool:
    """Award the cross-booking bonus if the practice has one; returns whether it was awarded."""
    action = EarningAction.objects.filter(kind=EarningAction.Kind.CROSS_BOOKING, is_active=True).first()
    if action is None:
        return False
    try:
        award_action(patient=patient, action=action, note=f"First {', '.join(categories)} purchase")
    except (ActionLimitReached, ActionNotAvailable):
        return False  # the limit set on the action decides; a refused bonus never blocks the purchase
    return True


# ---------------------------------------------------------------- refunds


def refund_purchase(
    *,
    purchase: Purchase,
    lines: list[tuple[int, int]] | None = None,
    external_id: str | None = None,
    actor: User | None = None,
    reason: str = "",
    refuse_repeat_within: timedelta | None = None,
) -> tuple[Refund, bool]:
    """Refund a whole purchase (`lines=None`) or some quantities of its lines; returns (refund, created).

    Takes back the refunded lines' points; if some were already spent, the balance stops at zero and
    the shortfall is recorded on the refund. Idempotent on `external_id`, also when repeats arrive at once.
    Without one, and given `refuse_repeat_within`, a refund identical to one recorded for the purchase within
    that time (the same lines and quantities, or the whole purchase again) raises DuplicateRefund.
    """
    external_id = (external_id or "").strip() or None
    if external_id and (existing := Refund.objects.filter(external_id=external_id).first()):
        return existing, False
    try:
        with transaction.atomic():
            return _refund(
                purchase=purchase,
                lines=lines,
                external_id=external_id,
                actor=actor,
                reason=reason,
                refuse_repeat_within=refuse_repeat_within,
            )
    except IntegrityError:
        if external_id and (existing := Refund.objects.filter(external_id=external_id).first()):
            return existing, False
        raise


def _refund(*, purchase, lines, external_id, actor, reason, refuse_repeat_within) -> tuple[Refund, bool]:
    account = ensure_account(patient=purchase.patient)
    lock_accounts(account.pk)
    purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
    # Read again under the locks: a repeat that arrived at the same time may have been recorded while this
    # one waited, and is answered with that refund (or refused) rather than applied twice.
    if external_id and (existing := Refund.objects.filter(external_id=external_id).first()):
        return existing, False
    if external_id is None and refuse_repeat_within is not None:
        _refuse_repeated_refund(purchase=purchase, lines=lines, since=timezone.now() - refuse_repeat_within)
    purchase_lines = {line.pk: line for line in purchase.lines.select_for_update().order_by("pk")}
    if lines is None:
        wanted = {pk: line.quantity - line.refunded_quantity for pk, line in purchase_lines.items()}
        wanted = {pk: qty for pk, qty in wanted.items() if qty > 0}
    else:
        wanted = {}
        for line_id, quantity in lines:
            line = purchase_lines.get(line_id)
            if line is None:
                raise InvalidRefund(f"Line {line_id} is not part of this purchase.", field="lines")
            if quantity < 1 or quantity > line.quantity - line.refunded_quantity - wanted.get(line_id, 0):
                raise InvalidRefund(
                    f"Line {line_id} has {line.quantity - line.refunded_quantity} left to refund.", field="lines"
                )
            wanted[line_id] = wanted.get(line_id, 0) + quantity
    if not wanted:
        raise InvalidRefund("This purchase has already been refunded in full.")

    already_taken = purchase.refunds.aggregate(total=Sum("points"))["total"] or 0
    remaining_points = purchase.points - already_taken
    amount = 0
    weighted = 0
    fully_refunded = True
    for pk, line in purchase_lines.items():
        quantity = wanted.get(pk, 0)
        amount += line.unit_price_cents * quantity
        weighted += line.weighted_points * quantity // line.quantity
        if line.refunded_quantity + quantity < line.quantity:
            fully_refunded = False
    # Whatever rounding left over goes back with the last refund, so a full refund returns every point.
    points = remaining_points if fully_refunded else min(weighted // 10_000, remaining_points)

    refund = Refund.objects.create(
        purchase=purchase,
        external_id=external_id,
        amount_cents=amount,
        points=points,
        points_taken=0,
        actor=actor,
        reason=reason[:300],
        is_whole=lines is None,
    )
    RefundLine.objects.bulk_create(RefundLine(refund=refund, line_id=pk, quantity=qty) for pk, qty in wanted.items())
    for pk, quantity in wanted.items():
        line = purchase_lines[pk]
        line.refunded_quantity += quantity
        line.save(update_fields=["refunded_quantity"])
    taken = 0
    if points:
        entry = post_points(
            account_id=account.pk,
            delta=-points,
            kind=LedgerEntry.Kind.REFUND,
            idempotency_key=f"refund:{refund.pk}",
            actor=actor,
            allow_partial_debit=True,
            purchase=purchase,
            refund=refund,
            note=reason or f"Refund on purchase {purchase.pk}",
        )
        taken = -entry.delta
    refund.points_taken = taken
    refund.shortfall_points = points - taken
    refund.save(update_fields=["points_taken", "shortfall_points"])
    record_activity(
        patient=purchase.patient,
        kind=Activity.Kind.REFUND,
        summary=f"Refund of {format_money(amount)}: {format_points(taken)} taken back"
        + (f" ({format_number(refund.shortfall_points)} already spent)" if refund.shortfall_points else ""),
        actor=actor,
        data={"refund_id": refund.pk, "purchase_id": purchase.pk},
    )
    evaluate_tier(account_id=account.pk)
    purchase_refunded.send(sender=Refund, refund=refund, schema_name=connection.schema_name)
    return refund, True


def _refuse_repeated_refund(*, purchase: Purchase, lines: list[tuple[int, int]] | None, since: datetime) -> None:
    """Raises DuplicateRefund when a refund like this one (same lines and quantities, or whole) is that recent."""
    recent = purchase.refunds.filter(created_at__gte=since).order_by("-created_at")
    if lines is None:
        same = recent.filter(is_whole=True).first()
    else:
        asked: dict[int, int] = {}
        for line_id, quantity in lines:
            asked[line_id] = asked.get(line_id, 0) + quantity
        same = next(
            (
                refund
                for refund in recent.filter(is_whole=False).prefetch_related("lines")
                if {line.line_id: line.quantity for line in refund.lines.all()} == asked
            ),
            None,
        )
    if same is not None:
        minutes = max(1, round((timezone.now() - same.created_at).total_seconds() / 60))
        raise DuplicateRefund(
            f"The same refund was recorded for this purchase {minutes} minute{'s' if minutes != 1 else ''} ago "
            f"(refund {same.pk}), so it was not applied again. To refund the same lines once more, send a "
            "refund_id: a new one for each refund.",
            field="refund_id",
        )


# ---------------------------------------------------------------- actions and adjustments


def _limit_key(action: EarningAction, at: datetime) -> str | None:
    if action.limit == EarningAction.Limit.ONCE:
        return "ever"
    if action.limit == EarningAction.Limit.YEARLY:
        # The practice's calendar year: 21:00 on 31 December in Los Angeles is still that year.
        return str(timezone.localtime(at, ZoneInfo(current_practice().time_zone)).year)
    return None


def award_action(
    *,
    patient: Patient,
    action: EarningAction,
    actor: User | None = None,
    note: str = "",
    at: datetime | None = None,
    occasion: str | None = None,
) -> ActionAward:
    """Give a patient an action's bonus points, within the action's limit (enforced by the database too).

    `occasion` names a once-only event (a birthday's year): an action with no limit is then still given
    once per occasion, by the same unique key, so a job that runs twice cannot award it twice.
    """
    if not action.is_active:
        raise ActionNotAvailable(f"“{action.name}” is switched off.")
    at = at or timezone.now()
    limit_key = _limit_key(action, at) or occasion
    if limit_key and ActionAward.objects.filter(action=action, patient=patient, limit_key=limit_key).exists():
        raise ActionLimitReached(_limit_message(action, patient))
    try:
        with transaction.atomic():
            account = ensure_account(patient=patient)
            award = ActionAward.objects.create(
                action=action, patient=patient, limit_key=limit_key, points=action.points, actor=actor, note=note
            )
            post_points(
                account_id=account.pk,
                delta=action.points,
                kind=LedgerEntry.Kind.BONUS,
                idempotency_key=f"award:{award.pk}",
                actor=actor,
                award=award,
                note=note or action.name,
            )
            record_activity(
                patient=patient,
                kind=Activity.Kind.BONUS,
                summary=f"{action.name}: {format_number(action.points)} bonus points" + (f" ({note})" if note else ""),
                actor=actor,
                data={"action_id": action.pk, "award_id": award.pk},
            )
            evaluate_tier(account_id=account.pk)
    except IntegrityError:
        raise ActionLimitReached(_limit_message(action, patient)) from None
    return award


def _limit_message(action: EarningAction, patient: Patient) -> str:
    when = "this year" if action.limit == EarningAction.Limit.YEARLY else "already"
    return f"{patient} has {when} received “{action.name}” ({action.get_limit_display().lower()})."


def adjust_points(*, patient: Patient, delta: int, reason: str, actor: User) -> LedgerEntry:
    """A manual correction by a manager or owner, with a required reason, on the timeline and in the audit
    trail (the balance before and after)."""
    audit.require_actor(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidPurchase("Give a reason for the adjustment.", field="reason")
    if delta == 0:
        raise InvalidPurchase("Enter a number of points to add or remove.", field="delta")
    with transaction.atomic():
        account = ensure_account(patient=patient)
        entry = post_points(
            account_id=account.pk, delta=delta, kind=LedgerEntry.Kind.ADJUSTMENT, actor=actor, note=reason
        )
        record_activity(
            patient=patient,
            kind=Activity.Kind.POINTS_ADJUSTED,
            summary=f"{'Added' if delta > 0 else 'Removed'} {format_number(abs(delta))} points: {reason}",
            actor=actor,
            data={"entry_id": entry.pk, "delta": delta},
        )
        audit.record(
            actor=actor,
            action="points.adjusted",
            target=patient,
            before={"balance": entry.balance_after - entry.delta},
            after={"balance": entry.balance_after},
            note=reason,
        )
    return entry


# ---------------------------------------------------------------- expiry


def expire_points(*, account_id: int, now: datetime | None = None) -> LedgerEntry | None:
    """Expire the whole balance of an account whose expiry date has passed (once per expiry date)."""
    now = now or timezone.now()
    with transaction.atomic():
        account = lock_accounts(account_id)[account_id]
        if account.expires_at is None or account.expires_at > now or account.balance == 0:
            return None
        key = f"expiry:{account.pk}:{account.expires_at.isoformat()}"
        if LedgerEntry.objects.filter(idempotency_key=key).exists():
            return None  # this expiry date was already applied; what came since has its own date
        points = account.balance
        entry = post_points(
            account_id=account.pk,
            delta=-points,
            kind=LedgerEntry.Kind.EXPIRY,
            idempotency_key=key,
            note=f"Points expired on {timezone.localtime(account.expires_at).date():%b %-d, %Y}",
        )
        record_activity(
            patient=account.patient,
            kind=Activity.Kind.POINTS_EXPIRED,
            summary=f"{format_number(points)} points expired",
            data={"entry_id": entry.pk},
        )
    return entry
