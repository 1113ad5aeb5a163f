"""Top earners: a stored ranking of past days plus today's entries gives the exact order."""

import pytest

from analytics import rollups, selectors, services
from analytics.models import EarnerRanking
from loyalty.models import LedgerEntry
from loyalty.services import post_points
from tests.analytics.history import BUILT_MIDWAY, MARCH, READ_AT, at, patient, travel


def earn(who, points, when, kind=LedgerEntry.Kind.BONUS):
    with travel(when):
        post_points(account_id=who.points_account.pk, delta=points, kind=kind)


@pytest.fixture
def four(alpha):
    people = [patient(name, joined=at(2, 1)) for name in ["Pia", "Quinn", "Rae", "Sol"]]
    for person, points in zip(people, [300, 200, 150, 100], strict=True):
        earn(person, points, at(3, 5))
    return people


def names(rows):
    return [(row["name"], row["points"]) for row in rows]


def test_someone_outside_the_stored_ranking_who_earns_now_is_placed_exactly(four, monkeypatch):
    pia, quinn, rae, sol = four
    monkeypatch.setattr(selectors, "RANKING_DEPTH", 2)
    with travel(BUILT_MIDWAY):
        rollups.build()  # through March 15
    earn(rae, 100, at(3, 20))  # 150 + 100: past Quinn
    earn(sol, 10, at(3, 21), kind=LedgerEntry.Kind.REFERRAL)
    earn(quinn, 500, at(3, 22), kind=LedgerEntry.Kind.ADJUSTMENT)  # adjustments are not earnings

    with travel(READ_AT):
        computed = selectors.top_earners(MARCH, limit=2)
        assert not EarnerRanking.objects.exists()  # a read stores nothing
        services.keep_period_ranking(MARCH)  # what the dashboard does first
        top = selectors.top_earners(MARCH, limit=2)

    assert names(top) == names(computed) == [("Pia Test", 300), ("Rae Test", 250)]
    stored = EarnerRanking.objects.get(first_day=MARCH.first_day)
    assert stored.rows == [[pia.points_account.pk, 300], [quinn.points_account.pk, 200]]


def test_the_same_order_from_the_raw_rows(four):
    rae, sol = four[2:]
    earn(rae, 100, at(3, 20))
    earn(sol, 10, at(3, 21))

    with travel(READ_AT):
        top = selectors.top_earners(MARCH)

    assert names(top) == [("Pia Test", 300), ("Rae Test", 250), ("Quinn Test", 200), ("Sol Test", 110)]


def test_negative_entries_do_not_count_against_earnings(four):
    pia = four[0]
    earn(pia, -250, at(3, 20), kind=LedgerEntry.Kind.REDEMPTION)

    with travel(READ_AT):
        top = selectors.top_earners(MARCH, limit=1)

    assert names(top) == [("Pia Test", 300)]
