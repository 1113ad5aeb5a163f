"""Every staff write of the referral program is in the audit trail: settings, milestones, partners, escalations."""

import pytest

from accounts.models import AuditEvent
from practices import audit
from practices.models import SupportEscalation
from referrals import services
from referrals.models import Milestone, Partner
from tests.factories import PatientFactory, StaffMemberFactory


@pytest.fixture
def owner(alpha):
    return StaffMemberFactory(role="owner").user


def entry(action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=action)


def test_referral_settings_are_recorded_and_refused_without_an_actor(owner):
    limit = services.referral_settings().yearly_limit

    with pytest.raises(audit.ActorRequired):
        services.update_referral_settings(actor=None, yearly_limit=7)
    services.update_referral_settings(actor=owner, yearly_limit=7)

    event = entry("referral_settings.updated")
    assert (event.actor, event.before, event.after) == (owner, {"yearly_limit": limit}, {"yearly_limit": 7})


def test_a_milestone_is_recorded_when_added_changed_and_deleted(owner):
    milestone = services.save_milestone(milestone=None, count=3, points=1_000, actor=owner)
    services.save_milestone(milestone=Milestone.objects.get(pk=milestone.pk), count=3, points=1_500, actor=owner)
    services.delete_milestone(milestone=milestone, actor=owner)

    assert entry("milestone.created").after == {"count": 3, "points": 1_000}
    updated = entry("milestone.updated")
    assert (updated.before, updated.after) == ({"points": 1_000}, {"points": 1_500})
    assert entry("milestone.deleted").before == {"count": 3, "points": 1_500}


def test_a_partner_is_recorded_when_added_and_switched_off(owner):
    partner = services.save_partner(partner=Partner(name="Glow Studio"), actor=owner)
    partner.is_active = False  # what the page's switch does before saving

    services.save_partner(partner=partner, actor=owner)

    assert entry("partner.created").target_label == "Glow Studio"
    updated = entry("partner.updated")
    assert (updated.target_id, updated.before, updated.after) == (
        str(partner.pk),
        {"is_active": True},
        {"is_active": False},
    )


def test_an_escalation_is_recorded_in_the_practices_trail(owner):
    patient = PatientFactory(user__first_name="Jane", user__last_name="Doe")

    escalation = services.escalate(patient=patient, message="Her friend's referral is missing.", actor=owner)

    event = entry("escalation.raised")
    assert (event.target_type, event.target_id) == ("practices.supportescalation", str(escalation.pk))
    assert event.target_label == f"Support request #{escalation.pk} about Jane Doe"
    assert event.after["message"] == "Her friend's referral is missing."


def test_an_escalation_without_an_actor_is_refused_and_nothing_is_sent(alpha):
    with pytest.raises(audit.ActorRequired):
        services.escalate(patient=PatientFactory(), message="Missing referral.", actor=None)

    assert not SupportEscalation.objects.exists()
