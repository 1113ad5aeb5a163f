"""Every staff write of the points program is in the audit trail: who, what, and the values before → after."""

from datetime import UTC, datetime

import pytest

from accounts.models import AuditEvent
from loyalty import staff_services
from loyalty.catalog_import import import_catalog
from loyalty.models import CatalogItem, LedgerEntry
from loyalty.services import LineIn, adjust_points, post_points, program_settings, record_purchase
from practices import audit
from practices.models import StaffMember
from tests.factories import CatalogItemFactory, EarningActionFactory, PatientFactory, StaffMemberFactory, TierFactory

Role = StaffMember.Role


@pytest.fixture
def manager(alpha):
    return StaffMemberFactory(role=Role.MANAGER).user


def entry(action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=action)


def item_values(**changes) -> dict:
    values = {
        "name": "Botox",
        "category": "Injectables",
        "kind": CatalogItem.Kind.SERVICE,
        "price_cents": 30_000,
        "earning": CatalogItem.Earning.PER_DOLLAR,
        "points_per_dollar": None,
        "fixed_points": 0,
        "external_id": None,
        "is_active": True,
    }
    return {**values, **changes}


def test_program_settings_changes_are_recorded_with_the_values_before_and_after(alpha, manager):
    row = program_settings()
    old_rate, old_zone = row.points_per_dollar, alpha.time_zone

    staff_services.update_program(
        points_per_dollar=old_rate + 1,
        point_value_cents=row.point_value_cents,
        expiry_days=row.expiry_days,
        reminder_days=row.reminder_days,
        invite_unknown_pos_patients=row.invite_unknown_pos_patients,
        time_zone="America/Denver",
        actor=manager,
    )

    event = entry("program_settings.updated")
    assert event.actor == manager
    assert event.before == {"points_per_dollar": old_rate, "time_zone": old_zone}
    assert event.after == {"points_per_dollar": old_rate + 1, "time_zone": "America/Denver"}


def test_saving_program_settings_unchanged_records_nothing(alpha, manager):
    row = program_settings()
    fields = ("points_per_dollar", "point_value_cents", "expiry_days", "reminder_days", "invite_unknown_pos_patients")

    staff_services.update_program(
        **{name: getattr(row, name) for name in fields}, time_zone=alpha.time_zone, actor=manager
    )

    assert not AuditEvent.objects.exists()


def test_program_settings_refuse_to_change_without_an_actor(alpha):
    row = program_settings()

    with pytest.raises(audit.ActorRequired):
        staff_services.update_program(
            points_per_dollar=row.points_per_dollar + 5,
            point_value_cents=row.point_value_cents,
            expiry_days=row.expiry_days,
            reminder_days=row.reminder_days,
            invite_unknown_pos_patients=row.invite_unknown_pos_patients,
            time_zone=alpha.time_zone,
            actor=None,
        )

    assert program_settings().points_per_dollar == row.points_per_dollar


def test_a_program_change_rolled_back_takes_its_entry_with_it(alpha, manager, monkeypatch):
    row = program_settings()

    def fail(**kwargs):
        raise RuntimeError("the audit table is unavailable")

    monkeypatch.setattr(audit, "record", fail)
    with pytest.raises(RuntimeError):
        staff_services.update_program(
            points_per_dollar=row.points_per_dollar + 5,
            point_value_cents=row.point_value_cents,
            expiry_days=row.expiry_days,
            reminder_days=row.reminder_days,
            invite_unknown_pos_patients=row.invite_unknown_pos_patients,
            time_zone=alpha.time_zone,
            actor=manager,
        )

    assert program_settings().points_per_dollar == row.points_per_dollar


def test_a_catalog_item_is_recorded_when_added_edited_and_deleted(manager):
    item = staff_services.save_catalog_item(item=None, actor=manager, **item_values())
    edited = CatalogItem.objects.get(pk=item.pk)
    edited.price_cents = 99  # what a form bound to the item does before the service runs
    staff_services.save_catalog_item(item=edited, actor=manager, **item_values(price_cents=32_500))
    staff_services.remove_catalog_item(item=edited, actor=manager)

    created, updated, deleted = AuditEvent.objects.order_by("id")
    assert (created.action, created.after["price_cents"], created.target_label) == (
        "catalog_item.created",
        30_000,
        "Botox",
    )
    assert (updated.action, updated.before, updated.after) == (
        "catalog_item.updated",
        {"price_cents": 30_000},
        {"price_cents": 32_500},
    )
    assert (deleted.action, deleted.target_id, deleted.before["name"]) == (
        "catalog_item.deleted",
        str(item.pk),
        "Botox",
    )


def test_a_catalog_item_on_past_purchases_is_recorded_as_deactivated(manager):
    item = CatalogItemFactory()
    record_purchase(
        patient=PatientFactory(), lines=[LineIn(quantity=1, unit_price_cents=100, item=item)], source="desk"
    )

    staff_services.remove_catalog_item(item=item, actor=manager)

    event = entry("catalog_item.deactivated")
    assert (event.before, event.after) == ({"is_active": True}, {"is_active": False})


def test_a_catalog_import_records_each_item_with_who_imported_it(manager):
    CatalogItemFactory(name="Facial", category="Facials", price_cents=10_000, external_id="F-1")
    content = b"name,category,price,external_id\nFacial,Facials,120.00,F-1\nPeel,Facials,80,\n"

    report = import_catalog(content=content, actor=manager)

    assert (report.created, report.updated) == (1, 1)
    updated, created = entry("catalog_item.updated"), entry("catalog_item.created")
    assert (updated.before["price_cents"], updated.after["price_cents"]) == (10_000, 12_000)
    assert created.target_label == "Peel" and created.actor == manager
    assert {updated.note, created.note} == {"Imported from a CSV file"}


def test_a_tier_is_recorded_when_changed_and_deleted(manager):
    tier = TierFactory(name="Gold", threshold_points=1_000, multiplier_percent=100)

    staff_services.save_tier(
        tier=tier, name="Gold", threshold_points=1_500, multiplier_percent=125, perks="", sort_order=0, actor=manager
    )
    staff_services.delete_tier(tier=tier, actor=manager)

    updated, deleted = entry("tier.updated"), entry("tier.deleted")
    assert (updated.before, updated.after) == (
        {"threshold_points": 1_000, "multiplier_percent": 100},
        {"threshold_points": 1_500, "multiplier_percent": 125},
    )
    assert deleted.before["name"] == "Gold"


def test_a_campaign_is_recorded_when_created_and_ended(manager):
    campaign = staff_services.save_campaign(
        campaign=None,
        name="Double points",
        multiplier_percent=200,
        starts_at=datetime(2020, 1, 1, tzinfo=UTC),
        ends_at=datetime(2099, 1, 1, tzinfo=UTC),
        category="",
        is_active=True,
        actor=manager,
    )
    now = datetime(2030, 6, 1, tzinfo=UTC)

    staff_services.end_campaign(campaign=campaign, actor=manager, now=now)

    assert entry("campaign.created").after["name"] == "Double points"
    ended = entry("campaign.ended")
    assert (ended.before, ended.after) == ({"ends_at": "2099-01-01T00:00:00+00:00"}, {"ends_at": now.isoformat()})


def test_an_action_is_recorded_when_changed_and_when_awarded(manager):
    action = EarningActionFactory(name="Google review", points=50)
    patient = PatientFactory()

    staff_services.save_action(
        action=action,
        kind=action.kind,
        name="Google review",
        points=75,
        limit=action.limit,
        is_active=True,
        actor=manager,
    )
    staff_services.award_action_by_staff(patient=patient, action=action, actor=manager, note="5 stars")

    assert (entry("earning_action.updated").before, entry("earning_action.updated").after) == (
        {"points": 50},
        {"points": 75},
    )
    awarded = entry("earning_action.awarded")
    assert (awarded.target_id, awarded.after, awarded.note) == (
        str(patient.pk),
        {"action": "Google review", "points": 75},
        "5 stars",
    )


def test_awarding_to_many_records_one_entry_per_patient_awarded(manager):
    action = EarningActionFactory(points=10)
    patients = [PatientFactory(), PatientFactory()]

    staff_services.award_action_to_many(action=action, patients=patients, actor=manager)

    assert AuditEvent.objects.filter(action="earning_action.awarded").count() == 2


def test_an_adjustment_is_recorded_with_the_balance_before_and_after(manager):
    patient = PatientFactory()
    post_points(account_id=patient.points_account.pk, delta=100, kind=LedgerEntry.Kind.BONUS)

    adjust_points(patient=patient, delta=-30, reason="Duplicate visit", actor=manager)

    event = entry("points.adjusted")
    assert (event.before, event.after, event.note, event.actor) == (
        {"balance": 100},
        {"balance": 70},
        "Duplicate visit",
        manager,
    )


def test_an_adjustment_without_an_actor_is_refused_and_moves_no_points(alpha):
    patient = PatientFactory()

    with pytest.raises(audit.ActorRequired):
        adjust_points(patient=patient, delta=50, reason="Goodwill", actor=None)

    assert not LedgerEntry.objects.filter(account__patient=patient).exists()
