"""The referral panel of the staff patient page, and escalating to platform support from it."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.models import User
from loyalty.services import LineIn, record_purchase
from patients.models import Activity
from practices.models import SupportEscalation
from referrals import services
from referrals.codes import code_for_patient, code_for_staff
from tests.factories import PatientFactory, StaffMemberFactory, sign_in_staff
from tests.two_factor import give_two_factor


@pytest.fixture
def manager(alpha, alpha_client):
    return sign_in_staff(alpha_client, role="manager", first_name="Mia", last_name="Manager")


@pytest.fixture
def jane(alpha):
    return PatientFactory(user__first_name="Jane", user__last_name="Referrer")


def page_of(client, patient) -> str:
    response = client.get(f"/staff/patients/{patient.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def panel(page: str) -> str:
    start = page.index('id="referrals-heading"')
    return page[start : page.index("</section>", start)]


def qualify_and_reward(referral):
    purchase, _ = record_purchase(
        patient=referral.referred,
        lines=[LineIn(quantity=1, unit_price_cents=12_000, name="Facial", category="Skin")],
        source="desk",
    )
    services.qualify(purchase_id=purchase.pk)
    services.issue_rewards(referral_id=referral.pk)
    referral.refresh_from_db()
    return referral


def test_the_panel_shows_the_code_and_the_friends_referred(manager, alpha_client, jane):
    code = code_for_patient(jane)
    fred = PatientFactory(user__first_name="Fred", user__last_name="Friend")
    qualify_and_reward(services.record_signup(patient=fred, code=code.code, source="qr"))
    services.record_signup(patient=PatientFactory(user__first_name="Gail", user__last_name="Pending"), code=code.code)

    html = panel(page_of(alpha_client, jane))

    assert f'<span class="code-text">{code.code}</span>' in html
    assert f'href="/staff/referrals/qr/{code.code}.png"' in html
    assert f'href="/staff/patients/{fred.pk}/">Fred Friend</a>' in html
    assert "Rewarded" in html and "Referrer: 500 points" in html
    assert "Gail Pending" in html and "Waiting for a first purchase" in html
    assert "Joined without a referral code: a referral can't be added afterwards." in html


def test_the_panel_shows_how_the_friend_joined(manager, alpha_client, jane):
    code = code_for_patient(jane)
    fred = PatientFactory(user__first_name="Fred")
    referral = qualify_and_reward(services.record_signup(patient=fred, code=code.code, source="link"))

    html = panel(page_of(alpha_client, fred))

    assert f'<span class="code-text">{code.code}</span> <span class="muted">· Link</span>' in html
    assert f'href="/staff/patients/{jane.pk}/">Jane Referrer</a>' in html
    assert "Qualified" in html and "Rewarded" in html
    assert f'href="/staff/purchases/{referral.qualifying_purchase_id}/">purchase</a>' in html
    assert "New patient: 250 points" in html
    assert "a referral can't be added afterwards" not in html


def test_a_rejected_code_shows_why(manager, alpha_client):
    friend = PatientFactory()
    services.record_signup(patient=friend, code="NOPE777", source="code")

    html = panel(page_of(alpha_client, friend))

    assert "NOPE777" in html
    assert "Not counted" in html and "The code is unknown" in html
    assert "Nobody: the code was unknown" in html


def test_a_manager_gets_the_add_points_link_and_the_escalation_form(manager, alpha_client, jane):
    page = page_of(alpha_client, jane)
    html = panel(page)

    assert 'href="#adjust-heading"' in html and 'id="adjust-heading"' in page
    assert "not a retroactive referral" in html
    assert f'action="/staff/referrals/patients/{jane.pk}/escalate/"' in html


def test_the_front_desk_sees_the_panel_read_only(alpha, alpha_client, jane):
    code = code_for_patient(jane)
    sign_in_staff(alpha_client, role="front_desk")

    html = panel(page_of(alpha_client, jane))

    assert code.code in html
    assert "escalate" not in html.lower()
    assert "#adjust-heading" not in html


def test_a_manager_escalates_with_a_message_and_a_referral(manager, alpha, alpha_client, jane):
    code = code_for_patient(jane)
    referral = services.record_signup(patient=PatientFactory(), code=code.code, source="qr")

    response = alpha_client.post(
        f"/staff/referrals/patients/{jane.pk}/escalate/",
        {"message": "Friend used the code but nothing was recorded.", "referral": referral.pk},
        follow=True,
    )

    with schema_context("public"):
        escalation = SupportEscalation.objects.get()
        assert escalation.practice_id == alpha.pk
    assert escalation.patient_id == jane.pk
    assert escalation.referral_id == referral.pk
    assert escalation.message == "Friend used the code but nothing was recorded."
    assert "Mia Manager" in escalation.raised_by
    assert escalation.status == SupportEscalation.Status.OPEN
    page = response.content.decode()
    assert f"Escalated to platform support (#{escalation.pk})." in page
    html = panel(page)
    assert f"#{escalation.pk} Open" in html
    assert "Friend used the code but nothing was recorded." in html
    assert Activity.objects.filter(patient=jane, summary__startswith="Escalated to platform support").exists()


def test_the_escalation_lives_in_the_public_schema(manager, alpha, alpha_client, jane):
    alpha_client.post(f"/staff/referrals/patients/{jane.pk}/escalate/", {"message": "Looks odd."})

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = %s",
            [SupportEscalation._meta.db_table],
        )
        assert [row[0] for row in cursor.fetchall()] == ["public"]
        cursor.execute(f"SELECT practice_id, patient_id FROM public.{SupportEscalation._meta.db_table}")  # noqa: S608
        assert cursor.fetchall() == [(alpha.pk, jane.pk)]


def test_an_escalation_needs_a_message(manager, alpha_client, jane):
    response = alpha_client.post(f"/staff/referrals/patients/{jane.pk}/escalate/", {"message": "  "})

    assert response.status_code == 200
    assert "Describe what looks wrong." in response.content.decode()
    assert not SupportEscalation.objects.exists()


def test_a_referral_of_another_patient_cannot_be_attached(manager, alpha_client, jane):
    other = services.record_signup(patient=PatientFactory(), code=code_for_staff(StaffMemberFactory()).code)

    response = alpha_client.post(
        f"/staff/referrals/patients/{jane.pk}/escalate/", {"message": "Hm.", "referral": other.pk}
    )

    assert "Choose one of this patient&#x27;s referrals." in response.content.decode()
    assert not SupportEscalation.objects.exists()


def test_the_front_desk_cannot_escalate(alpha, alpha_client, jane):
    sign_in_staff(alpha_client, role="front_desk")

    response = alpha_client.post(f"/staff/referrals/patients/{jane.pk}/escalate/", {"message": "Please check."})

    assert response.status_code == 403
    assert not SupportEscalation.objects.exists()


def test_past_escalations_of_other_patients_and_practices_are_not_shown(manager, alpha, beta, alpha_client, jane):
    other = PatientFactory()
    services.escalate(patient=other, message="About someone else.", actor=manager.user)
    SupportEscalation.objects.create(practice=beta, patient_id=jane.pk, message="Beta's own patient.", raised_by="b")

    html = panel(page_of(alpha_client, jane))

    assert "About someone else." not in html
    assert "Beta&#x27;s own patient." not in html


def test_platform_operators_see_the_escalation_in_the_admin(manager, alpha, alpha_client, jane, public_client):
    alpha_client.post(f"/staff/referrals/patients/{jane.pk}/escalate/", {"message": "Reward never arrived."})
    with schema_context("public"):
        operator = User.objects.create_superuser("ops@platform.test", "ops-pass-1234")
        give_two_factor(operator)  # operators use the admin with two-factor only
        escalation = SupportEscalation.objects.get()
        public_client.force_login(operator)  # the platform's sessions are in the public schema

    try:
        changelist = public_client.get("/admin/practices/supportescalation/").content.decode()
        detail = public_client.get(f"/admin/practices/supportescalation/{escalation.pk}/change/").content.decode()
    finally:
        connection.set_tenant(alpha)

    assert "Alpha Aesthetics" in changelist
    assert "Jane Referrer" in changelist
    assert "Open" in changelist
    assert "Reward never arrived." in detail
    assert settings.BASE_DOMAIN  # served on the platform host


def test_the_panel_makes_the_same_queries_however_many_friends(manager, alpha_client, jane):
    code = code_for_patient(jane)
    qualify_and_reward(services.record_signup(patient=PatientFactory(), code=code.code))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page_of(alpha_client, jane)
        return len(captured)

    few = queries()
    for _ in range(3):
        qualify_and_reward(services.record_signup(patient=PatientFactory(), code=code.code))
        services.record_signup(patient=PatientFactory(), code=code.code)
    services.escalate(patient=jane, message="Once.", actor=manager.user)
    services.escalate(patient=jane, message="Twice.", actor=manager.user)

    assert queries() == few
