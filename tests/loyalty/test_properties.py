"""Ledger properties under random histories: purchases, refunds, adjustments, actions, time passing and expiry.

A hypothesis state machine drives the real services inside the test's database transaction. Each
example starts from a fresh patient (made in the machine's __init__) with the clock frozen at a fixed
date; rules move the clock forward and run the daily job. After every step the ledger must hold.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from loyalty.errors import ActionLimitReached, InsufficientPoints, InvalidRefund
from loyalty.jobs import run_daily_jobs
from loyalty.ledger_check import check_ledger
from loyalty.models import ActionAward, CatalogItem, EarningAction, LedgerEntry, PointsAccount, Purchase
from loyalty.services import (
    LineIn,
    adjust_points,
    award_action,
    expire_points,
    record_purchase,
    refund_purchase,
)
from tests.factories import (
    CatalogItemFactory,
    EarningActionFactory,
    PatientFactory,
    StaffMemberFactory,
    TierFactory,
)

START = datetime(2026, 1, 5, 15, tzinfo=UTC)


@pytest.fixture
def world(alpha):
    """What every example shares: a catalog that earns in each way, actions with each limit, tiers."""
    items = [
        CatalogItemFactory(category="Injectables", price_cents=45_000),
        CatalogItemFactory(category="Facials", price_cents=1_099, points_per_dollar=3),
        CatalogItemFactory(category="Skincare", price_cents=333, earning=CatalogItem.Earning.FIXED, fixed_points=7),
        CatalogItemFactory(category="Skincare", price_cents=2_000, earning=CatalogItem.Earning.NONE),
    ]
    actions = [
        EarningActionFactory(kind=EarningAction.Kind.GOOGLE_REVIEW, points=50, limit=EarningAction.Limit.ONCE),
        EarningActionFactory(kind=EarningAction.Kind.OPEN_HOUSE, points=30, limit=EarningAction.Limit.YEARLY),
        EarningActionFactory(kind=EarningAction.Kind.CUSTOM, points=15, limit=EarningAction.Limit.UNLIMITED),
        EarningActionFactory(kind=EarningAction.Kind.CROSS_BOOKING, points=25, limit=EarningAction.Limit.UNLIMITED),
    ]
    TierFactory(name="Silver", threshold_points=300, multiplier_percent=125)
    TierFactory(name="Gold", threshold_points=1_000, multiplier_percent=150)
    return {"items": items, "actions": actions[:3], "manager": StaffMemberFactory(role="manager").user}


def test_the_ledger_holds_whatever_happens(world):
    items, actions, manager = world["items"], world["actions"], world["manager"]

    class LedgerMachine(RuleBasedStateMachine):
        purchases = Bundle("purchases")

        def __init__(self):
            super().__init__()
            self.clock = time_machine.travel(START, tick=False)
            self.traveller = self.clock.start()
            self.patient = PatientFactory()
            self.account_id = self.patient.points_account.pk

        def teardown(self):
            self.clock.stop()

        def balance(self) -> int:
            return PointsAccount.objects.get(pk=self.account_id).balance

        @rule(
            target=purchases,
            lines=st.lists(st.tuples(st.sampled_from(items), st.integers(1, 4)), min_size=1, max_size=3),
        )
        def buy(self, lines):
            purchase, created = record_purchase(
                patient=self.patient,
                lines=[LineIn(quantity=q, unit_price_cents=item.price_cents, item=item) for item, q in lines],
                source="desk",
            )
            assert created
            return purchase.pk

        @rule(purchase_id=purchases, data=st.data())
        def refund(self, purchase_id, data):
            purchase = Purchase.objects.get(pk=purchase_id)
            open_lines = [
                (line.pk, line.quantity - line.refunded_quantity)
                for line in purchase.lines.all()
                if line.quantity > line.refunded_quantity
            ]
            if not open_lines:
                with pytest.raises(InvalidRefund):
                    refund_purchase(purchase=purchase)
                return
            if data.draw(st.booleans(), label="full refund"):
                refund_purchase(purchase=purchase)
                return
            line_id, left = data.draw(st.sampled_from(open_lines), label="line")
            refund_purchase(purchase=purchase, lines=[(line_id, data.draw(st.integers(1, left), label="quantity"))])

        @rule(delta=st.integers(-400, 400).filter(bool))
        def adjust(self, delta):
            before = self.balance()
            try:
                adjust_points(patient=self.patient, delta=delta, reason="Correction", actor=manager)
            except InsufficientPoints:
                assert before + delta < 0
            else:
                assert self.balance() == before + delta

        @rule(action=st.sampled_from(actions))
        def award(self, action):
            try:
                award_action(patient=self.patient, action=action)
            except ActionLimitReached:
                assert action.limit != EarningAction.Limit.UNLIMITED
                assert ActionAward.objects.filter(patient=self.patient, action=action).exists()

        @rule(days=st.sampled_from([1, 30, 200, 366, 400]), runner=st.sampled_from(["job", "expire_points"]))
        def time_passes(self, days, runner):
            self.traveller.shift(timedelta(days=days))
            account = PointsAccount.objects.get(pk=self.account_id)
            expiries = LedgerEntry.objects.filter(account_id=self.account_id, kind=LedgerEntry.Kind.EXPIRY)
            before = expiries.count()
            # Due: a balance past its date that was not expired for that date yet (once per date).
            due = (
                account.balance > 0
                and account.expires_at is not None
                and account.expires_at <= datetime.now(UTC)
                and not expiries.filter(idempotency_key__endswith=account.expires_at.isoformat()).exists()
            )
            if runner == "job":
                run_daily_jobs()
            else:
                expire_points(account_id=self.account_id)
            assert expiries.count() == before + (1 if due else 0)
            if due:  # the whole balance goes
                assert expiries.latest("id").delta == -account.balance

        @invariant()
        def balance_is_the_sum_of_the_entries_and_never_negative(self):
            account = PointsAccount.objects.get(pk=self.account_id)
            entries = LedgerEntry.objects.filter(account_id=self.account_id)
            assert account.balance >= 0
            assert account.balance == (entries.aggregate(total=Sum("delta"))["total"] or 0)

        @invariant()
        def each_balance_after_follows_from_the_one_before(self):
            running = 0
            for delta, balance_after in (
                LedgerEntry.objects.filter(account_id=self.account_id)
                .order_by("id")
                .values_list("delta", "balance_after")
            ):
                running += delta
                assert balance_after == running >= 0

        @invariant()
        def check_ledger_finds_nothing(self):
            report = check_ledger()
            assert report.is_consistent, [str(d) for d in report.discrepancies]

        @invariant()
        def refunds_never_take_back_more_than_the_purchase_earned(self):
            for purchase in Purchase.objects.filter(patient=self.patient).prefetch_related("refunds"):
                refunds = list(purchase.refunds.all())
                assert sum(r.points for r in refunds) <= purchase.points
                assert all(r.points_taken + r.shortfall_points == r.points for r in refunds)

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            database=None,  # no .hypothesis folder in the repository; a failure prints its reproduction
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
