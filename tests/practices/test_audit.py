"""The audit trail's API (practices.audit): no change without its actor, and its entry lives and dies with it."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from accounts.models import AuditEvent, User
from loyalty.models import CatalogItem
from practices import audit
from practices.api_keys import create_api_key, revoke_api_key
from practices.models import ApiKey
from tests.factories import StaffMemberFactory


@pytest.fixture
def owner(alpha):
    return StaffMemberFactory(role="owner").user


def item(**values) -> CatalogItem:
    return CatalogItem.objects.create(name="Botox", category="Injectables", price_cents=30_000, **values)


@pytest.mark.parametrize("actor", [None, AnonymousUser(), User(email="unsaved@alpha.test"), "jane", audit.System(" ")])
def test_recording_without_a_real_actor_is_refused(alpha, actor):
    with pytest.raises(audit.ActorRequired), transaction.atomic():
        audit.record(actor=actor, action="catalog_item.updated", target=item())

    assert not AuditEvent.objects.exists()


def test_an_entry_keeps_who_what_the_target_and_only_what_changed(owner):
    botox = item()
    was = audit.snapshot(botox, ["name", "price_cents", "is_active"])
    botox.price_cents = 32_500
    botox.save()

    with transaction.atomic():
        audit.record(
            actor=owner,
            action="catalog_item.updated",
            target=botox,
            note="new price list",
            **audit.changes(was, botox, ["name", "price_cents", "is_active"]),
        )

    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_label) == (owner, audit.actor_label(owner))
    assert (event.action, event.target_type, event.target_id, event.target_label) == (
        "catalog_item.updated",
        "loyalty.catalogitem",
        str(botox.pk),
        "Botox",
    )
    assert (event.before, event.after) == ({"price_cents": 30_000}, {"price_cents": 32_500})
    assert event.note == "new price list"


def test_rolling_the_change_back_takes_its_entry_with_it(owner):
    botox = item()

    with pytest.raises(RuntimeError), transaction.atomic():
        CatalogItem.objects.filter(pk=botox.pk).update(price_cents=1)
        audit.record(actor=owner, action="catalog_item.updated", target=botox, before={"price_cents": 30_000})
        raise RuntimeError("the change failed after its entry was written")

    botox.refresh_from_db()
    assert botox.price_cents == 30_000
    assert not AuditEvent.objects.exists()


def test_an_entry_outside_a_transaction_is_refused(owner, monkeypatch):
    botox = item()

    # pytest-django runs each test in a transaction; pretend the caller forgot its own.
    with monkeypatch.context() as patch, pytest.raises(audit.AuditOutsideTransaction):
        patch.setattr(transaction.get_connection(), "in_atomic_block", False)
        audit.record(actor=owner, action="catalog_item.updated", target=botox)


def test_a_command_records_under_its_own_name(alpha):
    with transaction.atomic():
        audit.record(actor=audit.System("Dana Ops (manage.py import)"), action="catalog_item.imported")

    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_label, event.target_type) == (None, "Dana Ops (manage.py import)", "")


def test_changes_keeps_related_objects_by_name_and_dates_as_text(owner):
    import datetime

    member = StaffMemberFactory()
    before = {"owner": None, "starts_on": None}
    after = {"owner": member.user, "starts_on": datetime.date(2025, 3, 1)}

    assert audit.changes(before, after, ["owner", "starts_on"]) == {
        "before": {"owner": None, "starts_on": None},
        "after": {"owner": str(member.user), "starts_on": "2025-03-01"},
    }
    assert audit.changes(after, after, ["owner", "starts_on"]) == {"before": {}, "after": {}}


def test_actions_read_as_words():
    assert audit.action_label("catalog_item.imported") == "Catalog item imported"
    assert audit.action_label("api_key.revoked") == "API key revoked"


# ---------------------------------------------------------------- API keys


def test_creating_and_revoking_an_api_key_is_recorded_without_the_key(owner):
    key, raw_key = create_api_key(name="Front desk POS", actor=owner)
    revoke_api_key(key=key, actor=owner)
    revoke_api_key(key=key, actor=owner)  # already revoked: nothing new

    created, revoked = AuditEvent.objects.order_by("id")
    assert (created.action, created.target_id, created.after) == (
        "api_key.created",
        str(key.pk),
        {"name": "Front desk POS", "prefix": key.prefix, "require_signature": False},
    )
    assert raw_key not in str(created.after) and key.signing_secret not in str(created.after)
    assert (revoked.action, revoked.before, revoked.after) == (
        "api_key.revoked",
        {"revoked_at": None},
        {"revoked_at": key.revoked_at.isoformat()},
    )


def test_an_api_key_is_not_made_without_an_actor(alpha):
    with pytest.raises(audit.ActorRequired):
        create_api_key(name="POS", actor=None)

    assert not ApiKey.objects.exists()


# ---------------------------------------------------------------- a closed account


def test_closing_an_account_erases_the_persons_details_but_keeps_what_happened(owner):
    from tests.factories import PatientFactory

    patient = PatientFactory(user__first_name="Jane", user__last_name="Doe", user__email="jane@example.test")
    other = PatientFactory(user__first_name="Sam")
    with transaction.atomic():
        audit.record(
            actor=owner,
            action="patient.updated",
            target=patient,
            before={"email": "", "last_name": "Do", "status": "active"},
            after={"email": "jane@example.test", "last_name": "Doe", "status": "active"},
        )
        audit.record(actor=patient.user, action="patient.phone_changed", target=patient, after={"phone": "+1202"})
        audit.record(actor=owner, action="patient.updated", target=other, after={"first_name": "Sam"})

    audit.erase_personal_data(target=patient, user=patient.user, label=f"Patient #{patient.pk} (closed account)")

    edited, changed_phone = AuditEvent.objects.filter(target_id=str(patient.pk)).order_by("id")
    assert edited.target_label == f"Patient #{patient.pk} (closed account)"
    assert edited.before == {"email": "", "last_name": "(erased)", "status": "active"}
    assert edited.after == {"email": "(erased)", "last_name": "(erased)", "status": "active"}
    assert (edited.action, edited.actor) == ("patient.updated", owner)
    assert changed_phone.after == {"phone": "(erased)"}
    assert changed_phone.actor_label == f"Patient #{patient.pk} (closed account)"
    assert AuditEvent.objects.get(target_id=str(other.pk)).after == {"first_name": "Sam"}
