"""The owner's audit trail page (/staff/audit/): the trail newest first, its filters, pages and CSV export."""

import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import transaction

from accounts.models import AuditEvent
from loyalty.models import CatalogItem
from practices import audit
from practices.models import StaffMember
from tests.factories import CatalogItemFactory, StaffMemberFactory, sign_in_staff

URL = "/staff/audit/"
Role = StaffMember.Role
# 3:05 pm UTC is 10:05 am in New York (the practice's time zone) on March 3, 11:05 am on March 20 (summer time).
MARCH_3 = datetime(2025, 3, 3, 15, 5, tzinfo=UTC)
MARCH_20 = datetime(2025, 3, 20, 15, 5, tzinfo=UTC)


@pytest.fixture
def owner(alpha, alpha_client) -> StaffMember:
    return sign_in_staff(alpha_client, role=Role.OWNER, first_name="Olga", last_name="Owner")


def record(*, actor, at: datetime, **fields) -> AuditEvent:
    with time_machine.travel(at, tick=False), transaction.atomic():
        return audit.record(actor=actor, **fields)


@pytest.fixture
def history(owner):
    """Three changes: Mia (a manager) edits a catalog item on March 3, then deletes another; Olga (the owner)
    changes a setting on March 20."""
    mia = StaffMemberFactory(role=Role.MANAGER, user__first_name="Mia", user__last_name="Manager").user
    botox = CatalogItemFactory(name="Botox", price_cents=30_000)
    peel = CatalogItemFactory(name="Peel")
    record(
        actor=mia,
        at=MARCH_3,
        action="catalog_item.updated",
        target=botox,
        before={"price_cents": 30_000, "is_active": True},
        after={"price_cents": 32_500, "is_active": False},
    )
    record(actor=mia, at=MARCH_3, action="catalog_item.deleted", target=peel, before={"name": "Peel"})
    peel.delete()
    record(
        actor=owner.user,
        at=MARCH_20,
        action="reward_settings.updated",
        before={"voucher_valid_days": 90},
        after={"voucher_valid_days": 120},
        note="=SUM(A1)",
    )
    return {"mia": mia, "botox": botox, "peel": peel}


def table(response) -> str:
    """The page's table of changes (not the filters, whose options name every kind of change)."""
    return response.content.decode().split("<tbody>")[1].split("</tbody>")[0]


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_owner_sees_each_change_newest_first_with_who_what_and_before_after(history, alpha_client):
    response = alpha_client.get(URL)
    page, changes = response.content.decode(), table(response)

    assert changes.index("Reward settings updated") < changes.index("Catalog item updated")
    assert "Mia Manager" in changes and "Olga Owner" in changes
    assert "Mar 3, 2025, 10:05 a.m." in changes and "Mar 20, 2025, 11:05 a.m." in changes  # New York, not UTC
    assert "Price: $300.00 → $325.00" in page
    assert "Active: Yes → No" in page
    assert f'<a href="/staff/catalog/{history["botox"].pk}/">Botox</a>' in page
    assert "Peel" in page and f'href="/staff/catalog/{history["peel"].pk}/"' not in page  # deleted: no link
    assert "3 changes" in page


def test_the_owner_filters_by_who_kind_action_and_dates(history, alpha_client):
    by_mia = table(alpha_client.get(URL, {"actor": history["mia"].pk}))
    by_kind = table(alpha_client.get(URL, {"target_type": "loyalty.catalogitem"}))
    by_action = table(alpha_client.get(URL, {"action": "catalog_item.deleted"}))
    on_march_20 = table(alpha_client.get(URL, {"since": "2025-03-20", "until": "2025-03-20"}))
    in_early_march = table(alpha_client.get(URL, {"since": "2025-03-01", "until": "2025-03-03"}))

    assert by_mia.count("<tr") == 2 and "Reward settings updated" not in by_mia
    assert by_kind.count("<tr") == 2 and "Reward settings updated" not in by_kind
    assert by_action.count("<tr") == 1 and "Catalog item deleted" in by_action
    assert on_march_20.count("<tr") == 1 and "Reward settings updated" in on_march_20
    assert in_early_march.count("<tr") == 2 and "Olga Owner" not in in_early_march


def test_filters_that_make_no_sense_say_so_instead_of_failing(history, alpha_client):
    unknown = alpha_client.get(URL, {"actor": "99999", "action": "<script>"})
    backwards = alpha_client.get(URL, {"since": "2025-03-20", "until": "2025-03-01"})
    not_a_date = alpha_client.get(URL, {"since": "yesterday", "page": "last"})

    assert unknown.status_code == 200 and "choose from the list" in unknown.content.decode()
    assert backwards.status_code == 200 and "on or after the start date" in backwards.content.decode()
    assert not_a_date.status_code == 200 and "Enter a valid date" in not_a_date.content.decode()


def test_a_long_trail_comes_a_page_at_a_time(owner, alpha_client):
    item = CatalogItemFactory()
    with transaction.atomic():
        for number in range(51):
            audit.record(actor=owner.user, action="catalog_item.updated", target=item, after={"fixed_points": number})

    first = alpha_client.get(URL).content.decode()
    second = alpha_client.get(URL, {"page": 2}).content.decode()

    assert "Page 1 of 2" in first and "Fixed points: — → 50" in first
    assert "Fixed points: — → 0" in second and "Fixed points: — → 50" not in second


def test_the_csv_export_has_the_filtered_changes_in_words(history, alpha_client):
    response = alpha_client.get(URL, {"actor": history["mia"].pk, "format": "csv"})
    everything = rows(alpha_client.get(URL, {"format": "csv"}))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-trail-alpha-')
    header, deleted, updated = rows(response)  # newest first; at the same moment, the later first
    assert header == ["When", "Who", "What", "Kind of object", "Object", "Object id", "Changes", "Note"]
    assert updated[:6] == [
        "2025-03-03 10:05:00",
        "Mia Manager",
        "Catalog item updated",
        "Catalog item",
        "Botox",
        str(history["botox"].pk),
    ]
    assert "Price: $300.00 → $325.00" in updated[6]
    assert deleted[2:5] == ["Catalog item deleted", "Catalog item", "Peel"]
    assert everything[1][7] == "'=SUM(A1)"  # a note a spreadsheet would run as a formula stays text


@pytest.mark.parametrize("role", [Role.MANAGER, Role.FRONT_DESK])
def test_only_owners_see_the_trail(alpha, alpha_client, role):
    sign_in_staff(alpha_client, role=role)

    assert alpha_client.get(URL).status_code == 403
    assert alpha_client.get(URL, {"format": "csv"}).status_code == 403
    assert 'href="/staff/audit/"' not in alpha_client.get("/staff/").content.decode()


def test_the_owner_finds_the_trail_in_the_navigation(owner, alpha_client):
    assert 'href="/staff/audit/"' in alpha_client.get("/staff/").content.decode()


def test_a_change_made_through_a_page_appears_in_the_trail(owner, alpha_client):
    item = CatalogItemFactory(name="Hydrafacial", category="Facials", price_cents=20_000)
    data = {
        "name": "Hydrafacial",
        "category": "Facials",
        "kind": CatalogItem.Kind.SERVICE,
        "price": "225.00",
        "earning": CatalogItem.Earning.PER_DOLLAR,
        "points_per_dollar": "",
        "fixed_points": "0",
        "external_id": "",
        "is_active": "on",
    }
    alpha_client.post(f"/staff/catalog/{item.pk}/", data)

    event = AuditEvent.objects.get(action="catalog_item.updated")
    assert (event.actor, event.before, event.after) == (owner.user, {"price_cents": 20_000}, {"price_cents": 22_500})
    assert "Price: $200.00 → $225.00" in alpha_client.get(URL).content.decode()


def test_the_page_makes_the_same_queries_however_many_changes(owner, alpha_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add_changes(count: int) -> None:
        with transaction.atomic():
            for _ in range(count):
                item = CatalogItemFactory()
                audit.record(actor=owner.user, action="catalog_item.created", target=item, after={"name": item.name})
                audit.record(actor=StaffMemberFactory().user, action="reward_settings.updated", after={"x": 1})

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alpha_client.get(URL).status_code == 200
        return len(captured)

    add_changes(2)
    few = queries()
    add_changes(20)

    assert queries() == few


def test_a_date_at_the_end_of_the_calendar_is_a_filter_not_an_error(history, alpha_client):
    response = alpha_client.get(URL, {"until": "9999-12-31"})

    assert response.status_code == 200
    assert "Botox" in response.content.decode()
