"""Every change to points goes through here. `post_points` is the only code that moves a balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from patients.models import Activity, Patient
from patients.services import record_activity
from practices import audit, locking
from practices.formatting import format_money, format_number, format_points

from .errors import (
    ActionLimitReached,
    ActionNotAvailable,
    DuplicateRefund,
    IdempotencyConflict,
    InsufficientPoints,
    InvalidPurchase,
    InvalidRefund,
    LoyaltyError,
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
from .signals import purchase_refunded, purchases_recorded

TIER_WINDOW = timedelta(days=365)
# The most points an account can hold or have earned (its columns are 32-bit integers).
MAX_POINTS = 2**31 - 1


def program_settings() -> ProgramSettings:
    """The practice's program settings: the saved row, or the defaults (unsaved; saving it creates the row)."""
    return ProgramSettings.objects.filter(pk=1).first() or ProgramSettings(pk=1)


def ensure_account(*, patient: Patient) -> PointsAccount:
    """The patient's points account, created if missing (every patient has exactly one)."""
    account, _ = PointsAccount.objects.get_or_create(patient=patient)
    return account


def lock_accounts(*account_ids: int) -> dict[int, PointsAccount]:
    """Lock accounts in primary-key order, so two writers that lock several never deadlock."""
    return {account.pk: account for account in _locked(PointsAccount.objects.filter(pk__in=account_ids))}


def _locked(accounts) -> list[PointsAccount]:
    """Accounts locked the project's one way (practices.locking): FOR UPDATE of the accounts alone, pk order."""
    return locking.lock(accounts)


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
            account.save(update_fields=[*also_save, "updated_at"])
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
    account.save(update_fields=fields)
    entry["note"] = entry.get("note", "")[:300]
    return LedgerEntry.objects.create(account=account, kind=kind, delta=delta, balance_after=account.balance, **entry)


# ---------------------------------------------------------------- tiers


def points_earned_recently(*, account: PointsAccount, now: datetime | None = None) -> int:
    """Points earned in the rolling last 12 months, net of refunds (what tiers are based on): on the account and
    on the accounts of records merged into the patient's (one person's earnings, whichever record they were on)."""
    since = (now or timezone.now()) - TIER_WINDOW
    return max(_earned_recently([account], since=since)[account.patient_id], 0)


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
    _tier_change_activity(patient=patient, tier=tier, previous=previous).save()


def _tier_change_activity(*, patient: Patient, tier: Tier | None, previous: Tier | None) -> Activity:
    """The timeline line of a tier change (unsaved)."""
    went_up = tier is not None and (previous is None or tier.threshold_points > previous.threshold_points)
    summary = f"{'Reached' if went_up else 'Moved to'} {tier.name if tier else 'no tier'}" + (
        f" (was {previous.name})" if previous else ""
    )
    return Activity(
        patient=patient,
        kind=Activity.Kind.TIER_CHANGED,
        summary=summary[:300],
        data={"tier": tier.name if tier else None, "previous": previous.name if previous else None},
    )


# ---------------------------------------------------------------- purchases
#
# One path records every purchase, from the desk's checkout, the POS (one sale or a batch), the CSV import
# and the demo: record_purchases(). A single sale is a batch of one. Whatever the number of sales, the reads
# are one lock of the accounts involved (primary-key order) and one fetch_purchase_context(); the sales are
# then priced in order in memory, each seeing what the previous ones did to its account (balance, tier,
# categories bought), and written with one bulk insert per table and one update of the accounts. The quote
# the checkout shows reads the same context and prices with the same function.


@dataclass(frozen=True)
class LineIn:
    """One line of a purchase as the desk, the POS or an import gives it."""

    quantity: int
    unit_price_cents: int
    item: CatalogItem | None = None
    name: str = ""
    category: str = ""

    @property
    def bought_category(self) -> str:
        return (self.item.category if self.item else self.category)[:60]


@dataclass(frozen=True)
class Sale:
    """One purchase to record (record_purchases)."""

    patient: Patient
    lines: list[LineIn]
    source: str
    external_id: str | None = None
    # None: now, and a repeat of the transaction id is then not compared on its time.
    purchased_at: datetime | None = None
    actor: User | None = None
    payment_method: str = ""
    note: str = ""


@dataclass
class SaleResult:
    """What became of one sale: the purchase (new, or recorded before under its transaction id), or the error."""

    purchase: Purchase | None = None
    created: bool = False
    error: LoyaltyError | None = None


@dataclass(frozen=True)
class PurchaseContext:
    """What the points, tiers and bonuses of purchases depend on, for a set of accounts."""

    settings: ProgramSettings
    tiers: list[Tier]  # highest threshold first
    campaigns: list[Campaign]  # active, and running at some time of the purchases asked about
    earned_recently: dict[int, int]  # patient id -> points earned in the tier window (unclamped)
    cross_booking: EarningAction | None
    # patient id -> the categories they bought before (lower-cased); only read when a cross-booking bonus is on
    categories_bought: dict[int, set[str]]
    # patients who already reached the cross-booking bonus's limit (once, or this year)
    cross_booking_done: set[int]

    def campaigns_at(self, at: datetime) -> list[Campaign]:
        return [c for c in self.campaigns if c.starts_at <= at < c.ends_at]

    def tier(self, tier_id: int | None) -> Tier | None:
        return next((tier for tier in self.tiers if tier.pk == tier_id), None)


def fetch_purchase_context(
    *, accounts: list[PointsAccount], times: list[datetime], now: datetime | None = None
) -> PurchaseContext:
    """Everything pricing purchases of these accounts' patients at these times depends on, in a fixed number of
    queries whatever their number. Reads only (program settings missing in the database give the defaults)."""
    now = now or timezone.now()
    patient_ids = [account.patient_id for account in accounts]
    campaigns = Campaign.objects.none()
    if times:
        campaigns = Campaign.objects.filter(is_active=True, starts_at__lte=max(times), ends_at__gt=min(times))
    cross_booking = EarningAction.objects.filter(kind=EarningAction.Kind.CROSS_BOOKING, is_active=True).first()
    categories_bought: dict[int, set[str]] = {}
    done: set[int] = set()
    if cross_booking is not None and patient_ids:
        bought = (
            PurchaseLine.objects.filter(purchase__patient_id__in=patient_ids)
            .values_list("purchase__patient_id", "category")
            .order_by()  # without the model's ordering, which DISTINCT would add: one row per line
            .distinct()
        )
        for patient_id, category in bought:
            categories_bought.setdefault(patient_id, set()).add(category.lower())
        if limit_key := _limit_key(cross_booking, now):
            done = set(
                ActionAward.objects.filter(
                    action=cross_booking, patient_id__in=patient_ids, limit_key=limit_key
                ).values_list("patient_id", flat=True)
            )
    return PurchaseContext(
        settings=program_settings(),
        tiers=list(Tier.objects.order_by("-threshold_points")),
        campaigns=list(campaigns),
        earned_recently=_earned_recently(accounts, since=now - TIER_WINDOW),
        cross_booking=cross_booking,
        categories_bought=categories_bought,
        cross_booking_done=done,
    )


def _earned_recently(accounts: list[PointsAccount], *, since: datetime) -> dict[int, int]:
    """Points earned since `since` (net of refunds, unclamped) by each account's patient, on their own account and
    on the accounts of records merged into theirs: two indexed reads whatever the number of accounts (one OR of
    the two would scan the whole ledger). Read in statements of their own after the accounts are locked, never in
    the locking statement: a statement that waited for a lock still sees what was committed before it started,
    so a concurrent purchase's points would be missing from the sum (tests/loyalty/test_concurrency.py)."""
    earned = {account.patient_id: 0 for account in accounts}
    if not accounts:
        return earned
    kinds = [*LedgerEntry.EARNING_KINDS, LedgerEntry.Kind.REFUND]
    recent = LedgerEntry.objects.filter(kind__in=kinds, created_at__gte=since).order_by()
    patient_of = {account.pk: account.patient_id for account in accounts if account.pk}
    own = recent.filter(account_id__in=patient_of).values("account_id").annotate(total=Sum("delta"))
    for row in own:
        earned[patient_of[row["account_id"]]] += row["total"]
    merged = (
        recent.filter(account__patient__merged_into_id__in=earned)
        .values("account__patient__merged_into_id")
        .annotate(total=Sum("delta"))
    )
    for row in merged:
        earned[row["account__patient__merged_into_id"]] += row["total"]
    return earned


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


def quote_purchase(*, patient: Patient, lines: list[LineIn], at: datetime | None = None) -> dict:
    """The points a purchase would earn now (the checkout shows it before confirming). Reads only."""
    at = at or timezone.now()
    account = PointsAccount.objects.filter(patient=patient).first() or PointsAccount(patient=patient)
    context = fetch_purchase_context(accounts=[account], times=[at])
    tier = context.tier(account.tier_id)
    return _price_lines(
        lines=lines,
        tier_percent=tier.multiplier_percent if tier else 100,
        default_rate=context.settings.points_per_dollar,
        campaigns=context.campaigns_at(at),
    )


def _price_lines(*, lines: list[LineIn], tier_percent: int, default_rate: int, campaigns: list[Campaign]) -> dict:
    """The earning rules, for the quote and the purchase alike: each line's base points times the tier's
    multiplier and the best campaign running for its category; the purchase's total rounds down once."""
    priced = []
    weighted_total = 0
    for line in lines:
        total = line.quantity * line.unit_price_cents
        base = _line_base_points(line, total, default_rate)
        campaign = _best_campaign(campaigns, line.bought_category) if base else None
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
    """Record one purchase (record_purchases with one sale); returns (purchase, created) or raises its error."""
    sale = Sale(
        patient=patient,
        lines=lines,
        source=source,
        external_id=external_id,
        purchased_at=purchased_at,
        actor=actor,
        payment_method=payment_method,
        note=note,
    )
    (result,) = record_purchases([sale])
    if result.error is not None:
        raise result.error
    return result.purchase, result.created


def record_purchases(sales: list[Sale]) -> list[SaleResult]:
    """Record purchases and pay their points, one `purchase` ledger entry each; one result per sale, in order.

    Idempotent on the POS transaction id (`external_id`): a repeat (in the same batch, or recorded before,
    even concurrently) answers the purchase first recorded, and a repeat for another patient or with other
    lines or time is refused (IdempotencyConflict) rather than answered with a purchase it does not describe.
    Sales with an error are left out; the others are recorded together. Each purchase resets its account's
    expiry clock, applies campaigns, tiers and the cross-booking bonus, and lands on the timeline, exactly as
    if the sales had been recorded one after another. New purchases come back with `lines_written` (their
    PurchaseLine rows) and `balance_after` (the patient's balance with them).
    """
    results = [SaleResult() for _ in sales]
    for sale, result in zip(sales, results, strict=True):
        try:
            _validate_lines(sale.lines)
        except LoyaltyError as error:
            result.error = error
    for attempt in range(2):
        try:
            with transaction.atomic():
                _record_sales(sales, results)
            return results
        except IntegrityError:
            # A concurrent request recorded one of these transaction ids first (for a patient whose account
            # this batch did not lock): the next attempt finds it, and answers or refuses that sale.
            if attempt:
                raise
            for result in results:
                if result.error is None:
                    result.purchase, result.created = None, False
    return results


def _external_id(sale: Sale) -> str | None:
    return (sale.external_id or "").strip() or None


def _record_sales(sales: list[Sale], results: list[SaleResult]) -> None:
    todo = [(sale, result) for sale, result in zip(sales, results, strict=True) if result.error is None]
    if not todo:
        return
    accounts = lock_patient_accounts([sale.patient.pk for sale, _ in todo])
    recorded = _recorded_purchases({_external_id(sale) for sale, _ in todo} - {None})
    now = timezone.now()
    new: list[tuple[Sale, SaleResult]] = []
    first_in_batch: dict[str, Sale] = {}
    for sale, result in todo:
        external_id = _external_id(sale)
        earlier = recorded.get(external_id) if external_id else None
        if earlier is not None or (external_id and external_id in first_in_batch):
            if earlier is None:  # twice in this batch: the second answers the first once it is written
                result.purchase = first_in_batch[external_id]
            elif _same_sale(sale, earlier):
                result.purchase, result.created = earlier, False
            else:
                result.error = _reused_transaction_id(external_id)
            continue
        if external_id:
            first_in_batch[external_id] = sale
        new.append((sale, result))
    if not new:
        return
    context = fetch_purchase_context(
        accounts=list(accounts.values()), times=[sale.purchased_at or now for sale, _ in new], now=now
    )
    writes = _Writes(context=context, now=now)
    for sale, result in new:
        try:
            result.purchase = writes.add(sale, accounts[sale.patient.pk], purchased_at=sale.purchased_at or now)
        except LoyaltyError as error:
            result.error = error
        else:
            result.created = True
    writes.save()
    by_sale = {id(sale): result for sale, result in new}
    for sale, result in todo:
        if isinstance(result.purchase, Sale):
            first = by_sale[id(result.purchase)]
            if first.error is not None:
                result.purchase, result.error = None, first.error
            elif _same_sale(sale, first.purchase):
                result.purchase = first.purchase
            else:
                result.purchase, result.error = None, _reused_transaction_id(_external_id(sale))
    # In the transaction: what subscribers queue (a referral's qualification) commits with the purchases.
    purchases_recorded.send(sender=Purchase, purchases=writes.purchases, schema_name=connection.schema_name)


def _recorded_purchases(external_ids: set[str]) -> dict[str, Purchase]:
    if not external_ids:
        return {}
    found = Purchase.objects.filter(external_id__in=external_ids).prefetch_related("lines")
    return {purchase.external_id: purchase for purchase in found}


def _same_sale(sale: Sale, purchase: Purchase) -> bool:
    """Whether a repeat of a transaction id describes the purchase recorded under it: the same patient, lines
    (item or name, quantity, price) and, when the repeat gives one, the same time."""
    if sale.patient.pk != purchase.patient_id:
        return False
    if sale.purchased_at is not None and sale.purchased_at != purchase.purchased_at:
        return False
    lines = getattr(purchase, "lines_written", None)
    if lines is None:
        lines = purchase.lines.all()
    return [
        (line.item_id, line.quantity, line.unit_price_cents, line.name if line.item_id is None else "")
        for line in lines
    ] == [
        (
            line.item.pk if line.item else None,
            line.quantity,
            line.unit_price_cents,
            "" if line.item else line.name[:120],
        )
        for line in sale.lines
    ]


def _reused_transaction_id(external_id: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"The transaction id “{external_id}” was already used for a different purchase (another patient, "
        "other lines or another time). Send a new transaction id for a new sale.",
        field="transaction_id",
    )


class _Writes:
    """The rows a set of sales writes, built in the order single sales would write them, then saved with one
    statement per table. Holds each account's state as the sales change it."""

    def __init__(self, *, context: PurchaseContext, now: datetime):
        self.context = context
        self.now = now
        self.purchases: list[Purchase] = []
        self.lines: list[PurchaseLine] = []
        self.awards: list[ActionAward] = []
        # (entry, purchase or award it needs a key from), in order
        self.entries: list[tuple[LedgerEntry, Purchase | ActionAward]] = []
        self.activities: list[tuple[Activity, Purchase | ActionAward | None]] = []
        self.accounts: dict[int, PointsAccount] = {}

    def add(self, sale: Sale, account: PointsAccount, *, purchased_at: datetime) -> Purchase:
        context, patient = self.context, sale.patient
        self.accounts[account.pk] = account
        current_tier = context.tier(account.tier_id)
        quote = _price_lines(
            lines=sale.lines,
            tier_percent=current_tier.multiplier_percent if current_tier else 100,
            default_rate=context.settings.points_per_dollar,
            campaigns=context.campaigns_at(purchased_at),
        )
        bonus = context.cross_booking.points if context.cross_booking else 0
        if account.lifetime_earned + quote["points"] + bonus > MAX_POINTS:
            # Refused before anything of it is written: the account's totals are 32-bit integers.
            raise InvalidPurchase(
                f"This purchase would take the patient's points beyond {format_number(MAX_POINTS)}; "
                "check the amounts and the item's earning rate.",
                field="lines",
            )
        purchase = Purchase(
            patient=patient,
            source=sale.source,
            external_id=_external_id(sale),
            total_cents=quote["total_cents"],
            points=quote["points"],
            tier_multiplier_percent=quote["tier_multiplier_percent"],
            purchased_at=purchased_at,
            recorded_by=sale.actor,
            payment_method=sale.payment_method[:30],
            note=sale.note[:300],
        )
        purchase.lines_written = [
            PurchaseLine(
                purchase=purchase,
                item=p["line"].item,
                name=(p["line"].item.name if p["line"].item else p["line"].name)[:120],
                category=p["line"].bought_category,
                quantity=p["line"].quantity,
                unit_price_cents=p["line"].unit_price_cents,
                total_cents=p["total_cents"],
                base_points=p["base"],
                weighted_points=p["weighted"],
                campaign=p["campaign"],
            )
            for p in quote["lines"]
        ]
        self.purchases.append(purchase)
        self.lines.extend(purchase.lines_written)

        if account.last_purchase_at is None or purchased_at >= account.last_purchase_at:
            account.last_purchase_at = purchased_at
            account.expires_at = purchased_at + timedelta(days=context.settings.expiry_days)
        known = context.categories_bought.get(patient.pk, set())
        new_categories = _new_categories(lines=sale.lines, known=known) if context.cross_booking else []
        known.update(line.category.lower() for line in purchase.lines_written)
        if context.cross_booking:
            context.categories_bought[patient.pk] = known
        if purchase.points:
            self._post(
                account,
                purchase.points,
                LedgerEntry.Kind.PURCHASE,
                source=purchase,
                actor=sale.actor,
                note=f"Purchase of {format_money(purchase.total_cents)}",
                purchase=purchase,
            )
        self._activity(
            patient,
            Activity.Kind.PURCHASE,
            f"Purchase of {format_money(purchase.total_cents)}: earned {format_points(purchase.points)}",
            actor=sale.actor,
            data={"purchase_id": None, "points": purchase.points, "source": sale.source},
            source=purchase,
        )
        if new_categories and patient.pk not in context.cross_booking_done:
            self._award_cross_booking(account, patient, new_categories)
        self._evaluate_tier(account, patient)
        purchase.balance_after = account.balance
        return purchase

    def _post(self, account: PointsAccount, delta: int, kind: str, *, source, **entry) -> None:
        """_post_to_locked_account's rules for an earning, on the account's state in memory."""
        account.balance += delta
        account.lifetime_earned += delta
        if account.expires_at is None or account.expires_at <= self.now:
            account.expires_at = self.now + timedelta(days=self.context.settings.expiry_days)
        self.context.earned_recently[account.patient_id] = (
            self.context.earned_recently.get(account.patient_id, 0) + delta
        )
        ledger_entry = LedgerEntry(account=account, kind=kind, delta=delta, balance_after=account.balance, **entry)
        self.entries.append((ledger_entry, source))

    def _activity(self, patient, kind, summary, *, source=None, actor=None, data=None) -> None:
        activity = Activity(patient=patient, kind=kind, summary=summary[:300], actor=actor, data=data or {})
        self.activities.append((activity, source))

    def _award_cross_booking(self, account: PointsAccount, patient: Patient, categories: list[str]) -> None:
        action = self.context.cross_booking
        note = f"First {', '.join(categories)} purchase"
        limit_key = _limit_key(action, self.now)
        award = ActionAward(action=action, patient=patient, limit_key=limit_key, points=action.points, note=note)
        self.awards.append(award)
        if limit_key:
            self.context.cross_booking_done.add(patient.pk)
        if action.points:
            self._post(account, action.points, LedgerEntry.Kind.BONUS, source=award, award=award, note=note)
        self._activity(
            patient,
            Activity.Kind.BONUS,
            f"{action.name}: {format_number(action.points)} bonus points ({note})",
            data={"action_id": action.pk, "award_id": None},
            source=award,
        )

    def _evaluate_tier(self, account: PointsAccount, patient: Patient) -> None:
        previous = self.context.tier(account.tier_id)
        tier = tier_for(max(self.context.earned_recently.get(patient.pk, 0), 0), self.context.tiers)
        if tier != previous:
            account.tier = tier
            self.activities.append((_tier_change_activity(patient=patient, tier=tier, previous=previous), None))

    def save(self) -> None:
        Purchase.objects.bulk_create(self.purchases)
        PurchaseLine.objects.bulk_create(self.lines)
        ActionAward.objects.bulk_create(self.awards)
        for entry, source in self.entries:
            if entry.kind == LedgerEntry.Kind.PURCHASE:
                entry.idempotency_key = f"purchase:{source.pk}"
            else:
                entry.idempotency_key = f"award:{source.pk}"
            entry.note = entry.note[:300]
        LedgerEntry.objects.bulk_create([entry for entry, _ in self.entries])
        for activity, source in self.activities:
            if isinstance(source, Purchase):
                activity.data["purchase_id"] = source.pk
            elif isinstance(source, ActionAward):
                activity.data["award_id"] = source.pk
        Activity.objects.bulk_create([activity for activity, _ in self.activities])
        for account in self.accounts.values():
            account.updated_at = self.now
        # The accounts' new state in one statement: an upsert on the primary key of rows that exist and are locked
        # (INSERT ... ON CONFLICT (id) DO UPDATE), which PostgreSQL runs as an update from a list of values.
        # (bulk_update writes the same with a CASE per account and field, which costs 40 times more to build
        # at 500 accounts: bench/README.md.)
        PointsAccount.objects.bulk_create(
            self.accounts.values(),
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=["balance", "lifetime_earned", "last_purchase_at", "expires_at", "tier", "updated_at"],
        )


def lock_patient_accounts(patient_ids: list[int]) -> dict[int, PointsAccount]:
    """The points accounts of these patients, locked in primary-key order (opened first where missing), by
    patient id. New accounts get higher keys than every existing one, so locking them second keeps the order."""
    wanted = set(patient_ids)
    accounts = {account.patient_id: account for account in _locked(PointsAccount.objects.filter(patient_id__in=wanted))}
    if missing := wanted - accounts.keys():
        PointsAccount.objects.bulk_create(
            [PointsAccount(patient_id=patient_id) for patient_id in sorted(missing)], ignore_conflicts=True
        )
        created = _locked(PointsAccount.objects.filter(patient_id__in=missing))
        accounts.update({account.patient_id: account for account in created})
    return accounts


def _new_categories(*, lines: list[LineIn], known: set[str]) -> list[str]:
    """Categories in this purchase the patient never bought before (none on a first purchase)."""
    if not known:
        return []
    seen: list[str] = []
    for line in lines:
        category = line.bought_category.strip()
        if category and category.lower() not in known and category.lower() not in {s.lower() for s in seen}:
            seen.append(category)
    return seen


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
    purchase = locking.lock_get(Purchase.objects, pk=purchase.pk)
    # Read again under the locks: a repeat that arrived at the same time may have been recorded while this
    # one waited, and is answered with that refund (or refused) rather than applied twice.
    if external_id and (existing := Refund.objects.filter(external_id=external_id).first()):
        return existing, False
    if external_id is None and refuse_repeat_within is not None:
        _refuse_repeated_refund(purchase=purchase, lines=lines, since=timezone.now() - refuse_repeat_within)
    purchase_lines = {line.pk: line for line in locking.lock(purchase.lines.all())}
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
        return str(timezone.localtime(at).year)
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
