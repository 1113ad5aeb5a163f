"""A small, hand-countable history of practice alpha (America/New_York) around March 2026, and helpers.

The period under test is March 2026 (31 days; daylight saving starts on March 8); the previous period
is the 31 days before it, January 29 to February 28. Every figure the tests expect is counted by hand
from the events below.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from analytics import rollups
from analytics.periods import custom_period
from loyalty.models import LedgerEntry, PointsAccount, Purchase
from loyalty.services import LineIn, adjust_points, award_action, expire_points, post_points, record_purchase
from loyalty.services import refund_purchase as refund
from patients.models import Patient
from referrals.models import Partner, Referral, ReferralCode
from referrals.services import count_visit
from rewards.models import Redemption
from rewards.services import cancel_redemption, grant_voucher, redeem_reward, use_voucher
from tests.factories import (
    CatalogItemFactory,
    EarningActionFactory,
    PatientFactory,
    RewardFactory,
    StaffMemberFactory,
)

NY = ZoneInfo("America/New_York")
MARCH = custom_period(date(2026, 3, 1), date(2026, 3, 31), zone=NY)
# When the figures are read, and when the rollups are built in the "rolled" and "mixed" runs.
READ_AT = datetime(2026, 4, 2, 12, 0, tzinfo=NY)
BUILT_AFTER = datetime(2026, 4, 2, 3, 0, tzinfo=NY)  # rolls up through April 1
BUILT_MIDWAY = datetime(2026, 3, 16, 3, 0, tzinfo=NY)  # rolls up through March 15


def at(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def travel(moment: datetime):
    return time_machine.travel(moment, tick=False)


def patient(name: str, *, joined: datetime | None, status: str = "active") -> Patient:
    created = joined or at(1, 10)
    with travel(created):
        return PatientFactory(user__first_name=name, user__last_name="Test", joined_at=joined, status=status)


def buy(who: Patient, *, when: datetime, dollars: int, item=None) -> Purchase:
    """A purchase of `dollars` recorded at `when`; the item earns a point per dollar."""
    item = item or CatalogItemFactory(price_cents=dollars * 100)
    with travel(when):
        purchase, _ = record_purchase(
            patient=who, lines=[LineIn(item=item, quantity=1, unit_price_cents=dollars * 100)], source="desk"
        )
    return purchase


def balance(who: Patient) -> int:
    return PointsAccount.objects.get(patient=who).balance


def prepare(mode: str) -> None:
    """ "raw": no rollups; "rolled": built after the period; "mixed": built halfway through it."""
    if mode == "rolled":
        with travel(BUILT_AFTER):
            rollups.build()
    elif mode == "mixed":
        with travel(BUILT_MIDWAY):
            rollups.build()


@dataclass
class History:
    ada: Patient
    ben: Patient
    cleo: Patient
    dan: Patient
    hal: Patient
    ivy: Patient
    reward: object
    dear_reward: object
    cheap_reward: object


def build_history() -> History:
    """The events, in the order they happen (hand counts in the tests refer to these lines)."""
    ada = patient("Ada", joined=at(2, 1))  # a member before the period
    ben = patient("Ben", joined=at(3, 5, 10))  # joins in the period
    cleo = patient("Cleo", joined=at(3, 31, 23, 0))  # joins at 23:00 on the last day: in the period
    dan = patient("Dan", joined=at(4, 1, 0, 10))  # joins ten minutes after it: not in it
    patient("Eve", joined=None, status="pending")  # invited, never joined
    hal = patient("Hal", joined=at(6, 1, year=2025))  # bought last July, not since: no visit for 6 months
    ivy = patient("Ivy", joined=at(4, 1, year=2025))  # bought last April: points expire on April 10

    buy(ivy, when=at(4, 10, year=2025), dollars=60)  # 60 points, expire 2026-04-10
    buy(hal, when=at(7, 1, year=2025), dollars=100)  # 100 points

    buy(ada, when=at(2, 28, 23, 30), dollars=100)  # 23:30 on the previous period's last day: 100 points
    buy(ada, when=at(3, 1, 0, 10), dollars=200)  # ten minutes into March: 200 points
    cleo_refunded = buy(cleo, when=at(3, 5), dollars=80)  # before Cleo joined: 80 points
    with travel(at(3, 6)):
        refund(purchase=cleo_refunded)  # refunded: -80 points, $80 back
    buy(ben, when=at(3, 10), dollars=50)  # 50 points
    with travel(at(3, 12)):
        post_points(account_id=cleo.points_account.pk, delta=60, kind=LedgerEntry.Kind.REFERRAL)  # 60 points
    with travel(at(3, 15)):
        award_action(patient=ben, action=EarningActionFactory(points=25))  # 25 bonus points
    buy(ada, when=at(3, 18), dollars=20)  # Ada's second visit: 20 points
    staff = StaffMemberFactory(role="manager")
    with travel(at(3, 20)):
        adjust_points(patient=cleo, delta=40, reason="Goodwill", actor=staff.user)  # +40
        adjust_points(patient=ada, delta=-10, reason="Typo", actor=staff.user)  # -10
    reward = RewardFactory(name="Facial credit", points_cost=150)
    dear_reward = RewardFactory(name="Peel", points_cost=100)
    cheap_reward = RewardFactory(name="Sample", points_cost=10)
    with travel(at(3, 20, 13)):
        lapsed = redeem_reward(patient=ada, reward=cheap_reward)  # -10; never used, expires March 29
    Redemption.objects.filter(pk=lapsed.pk).update(expires_at=at(3, 29))
    with travel(at(3, 22)):
        used = redeem_reward(patient=ada, reward=reward)  # -150
    with travel(at(3, 23)):
        use_voucher(code=used.voucher_code)
    with travel(at(3, 25)):
        cancelled = redeem_reward(patient=ada, reward=dear_reward)  # -100
    with travel(at(3, 26)):
        cancel_redemption(redemption=cancelled)  # +100 back
    with travel(at(3, 18, 9)):
        grant_voucher(patient=ben, kind="credit", credit_cents=2_500, name="$25 referral credit")  # a gift
    # Ben's points (50 + 25) expire on March 28.
    PointsAccount.objects.filter(patient=ben).update(expires_at=at(3, 28, 0, 30))
    with travel(at(3, 28, 1)):
        expire_points(account_id=ben.points_account.pk)  # -75
    buy(cleo, when=at(3, 31, 23, 30), dollars=70)  # 23:30 on the last day, as a member: 70 points
    buy(cleo, when=at(4, 1, 0, 10), dollars=30)  # ten minutes after the period: 30 points
    return History(ada, ben, cleo, dan, hal, ivy, reward, dear_reward, cheap_reward)


@dataclass
class Funnel:
    ada_code: ReferralCode
    staff_code: ReferralCode
    partner_code: ReferralCode


def referral(*, code: ReferralCode, referred: Patient, source: str, status: str, when: datetime) -> Referral:
    with travel(when):
        made = Referral.objects.create(
            code=code, code_used=code.code, owner_kind=code.owner_kind, source=source, referred=referred, status=status
        )
    qualified = status in ("qualified", "rewarded", "reversed")
    Referral.objects.filter(pk=made.pk).update(
        qualified_at=when + timedelta(days=1) if qualified else None,
        rewarded_at=when + timedelta(days=1, minutes=1) if status in ("rewarded", "reversed") else None,
    )
    return made


def build_funnel(history: History) -> Funnel:
    """Codes, share-link visits and referrals around March (the history's patients are the friends)."""
    from referrals.codes import code_for_partner, code_for_patient, code_for_staff

    ada_code = code_for_patient(history.ada)
    staff_code = code_for_staff(StaffMemberFactory(role="front_desk"))
    partner_code = code_for_partner(Partner.objects.create(name="Yoga studio"))
    for _ in range(3):
        count_visit(code=ada_code, source="link", now=at(3, 4))  # 3 link visits
    for _ in range(2):
        count_visit(code=staff_code, source="qr", now=at(3, 31, 23, 30))  # 2 QR visits, the last evening
    count_visit(code=staff_code, source="qr", now=at(4, 1, 0, 10))  # after the period
    count_visit(code=partner_code, source="sms", now=at(2, 20))  # before it
    count_visit(code=partner_code, source="sms", now=at(3, 9))  # 1 SMS visit

    # Ben: referred by Ada through her link, rewarded; Cleo: by a staff member's QR code, still pending;
    # Dan: by the partner by text, qualified (but signed up after the period); Hal: an unknown code, rejected.
    referral(code=ada_code, referred=history.ben, source="link", status="rewarded", when=at(3, 5, 10))
    referral(code=staff_code, referred=history.cleo, source="qr", status="pending", when=at(3, 31, 23))
    referral(code=partner_code, referred=history.dan, source="sms", status="qualified", when=at(4, 1, 0, 10))
    referral(code=ada_code, referred=history.hal, source="code", status="rejected", when=at(3, 8))
    return Funnel(ada_code, staff_code, partner_code)
