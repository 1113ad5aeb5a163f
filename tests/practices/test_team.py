"""The owner's team: invitations by email (accepted once, expiring, replaced when sent again, withdrawn), role
changes that apply at once, deactivation that ends sessions at once, the last owner kept, and the audit trail."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from practices import team
from practices.errors import LastOwner, TeamError
from practices.models import StaffInvite, StaffMember
from referrals.models import ReferralCode
from tests.conftest import host_of
from tests.factories import STAFF_PASSWORD, PatientFactory, StaffMemberFactory, sign_in_staff

Role = StaffMember.Role
NEW_PASSWORD = "a-fresh-desk-pass-41"


@pytest.fixture
def owner_client(alpha):
    client = Client(HTTP_HOST=host_of("alpha"))
    client.owner = sign_in_staff(client, Role.OWNER, first_name="Olive", last_name="Owner")
    return client


def invite_link_path(message) -> str:
    match = re.search(r"https?://[^/\s]+(/staff/invite/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def invite(client, capture, **fields) -> object:
    data = {"email": "dana@alpha.test", "first_name": "Dana", "last_name": "Desk", "role": Role.FRONT_DESK}
    data.update(fields)
    with capture(execute=True):
        return client.post("/staff/team/invite/", {**data, "valid_days": data.pop("valid_days", 7)})


def accept(client, path, *, password=NEW_PASSWORD, first_name="Dana", last_name="Desk"):
    return client.post(
        path, {"first_name": first_name, "last_name": last_name, "password1": password, "password2": password}
    )


def sign_in(client, email, password=NEW_PASSWORD, **options):
    return client.post("/staff/login/", {"login": email, "password": password}, **options)


# ---------------------------------------------------------------- invitations


def test_an_invited_person_accepts_by_the_emailed_link_and_signs_in(
    alpha, owner_client, django_capture_on_commit_callbacks
):
    sent = invite(owner_client, django_capture_on_commit_callbacks)
    assert sent.status_code == 302 and sent["Location"] == "/staff/team/"
    assert "Invitation sent to dana@alpha.test" in owner_client.get("/staff/team/").content.decode()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dana@alpha.test"]
    assert message.subject == "Alpha Aesthetics: you're invited to the staff portal"
    assert "Olive Owner invited you to join the Alpha Aesthetics staff portal as front desk." in message.body
    html = message.alternatives[0]
    assert html[1] == "text/html" and "Accept and choose a password" in html[0] and "Alpha Aesthetics" in html[0]
    assert message.reply_to == [owner_client.owner.user.email]

    newcomer = Client(HTTP_HOST=host_of("alpha"))
    path = invite_link_path(message)
    page = newcomer.get(path)
    assert page.status_code == 200
    assert "Join Alpha Aesthetics" in page.content.decode() and "dana@alpha.test" in page.content.decode()

    done = accept(newcomer, path)
    assert done.status_code == 302 and done["Location"] == "/staff/login/"
    signed_in = sign_in(newcomer, "dana@alpha.test")
    assert signed_in["Location"] == "/staff/"
    home = newcomer.get("/staff/")
    assert home.status_code == 200 and "Front desk" in home.content.decode()
    member = StaffMember.objects.get(user__email="dana@alpha.test")
    assert (member.role, member.user.get_full_name(), member.is_active) == (Role.FRONT_DESK, "Dana Desk", True)


def test_the_staff_member_and_their_referral_code_exist_only_once_accepted(
    alpha, owner_client, django_capture_on_commit_callbacks
):
    invite(owner_client, django_capture_on_commit_callbacks)
    assert not User.objects.filter(email="dana@alpha.test").exists()
    staff_codes = ReferralCode.objects.filter(owner_kind=ReferralCode.OwnerKind.STAFF).count()

    accept(Client(HTTP_HOST=host_of("alpha")), invite_link_path(mail.outbox[0]))

    member = StaffMember.objects.get(user__email="dana@alpha.test")
    assert ReferralCode.objects.filter(staff=member).exists()
    assert ReferralCode.objects.filter(owner_kind=ReferralCode.OwnerKind.STAFF).count() == staff_codes + 1


def test_an_expired_link_is_refused_with_a_page_saying_so(alpha, owner_client, django_capture_on_commit_callbacks):
    invite(owner_client, django_capture_on_commit_callbacks, valid_days=3)
    path = invite_link_path(mail.outbox[0])

    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1)):
        page = Client(HTTP_HOST=host_of("alpha")).get(path)
        posted = accept(Client(HTTP_HOST=host_of("alpha")), path)

    assert page.status_code == 410
    assert "This invitation has expired" in page.content.decode()
    assert "Ask the practice&#x27;s owner to send it again" in page.content.decode()
    assert posted.status_code == 410
    assert not User.objects.filter(email="dana@alpha.test").exists()


def test_a_used_link_is_refused_with_a_page_saying_so(alpha, owner_client, django_capture_on_commit_callbacks):
    invite(owner_client, django_capture_on_commit_callbacks)
    path = invite_link_path(mail.outbox[0])
    accept(Client(HTTP_HOST=host_of("alpha")), path)

    again = Client(HTTP_HOST=host_of("alpha"))
    page = again.get(path)
    second = accept(again, path, password="another-pass-9876")

    assert page.status_code == 410
    assert "This invitation was already used" in page.content.decode()
    assert 'href="/staff/login/"' in page.content.decode()
    assert second.status_code == 410
    assert sign_in(Client(HTTP_HOST=host_of("alpha")), "dana@alpha.test", "another-pass-9876").status_code == 200


def test_sending_again_makes_the_old_link_stop_working(alpha, owner_client, django_capture_on_commit_callbacks):
    invite(owner_client, django_capture_on_commit_callbacks)
    old_path = invite_link_path(mail.outbox[0])
    pending = StaffInvite.objects.get(email="dana@alpha.test")

    confirm = owner_client.get(f"/staff/team/invites/{pending.pk}/resend/")
    assert "The link in the earlier email stops working" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/staff/team/invites/{pending.pk}/resend/", {"valid_days": "14"})

    assert len(mail.outbox) == 2
    new_path = invite_link_path(mail.outbox[1])
    assert new_path != old_path
    visitor = Client(HTTP_HOST=host_of("alpha"))
    old_page = visitor.get(old_path)
    assert old_page.status_code == 410 and "This link was replaced" in old_page.content.decode()
    assert accept(visitor, old_path).status_code == 410
    assert visitor.get(new_path).status_code == 200
    pending.refresh_from_db()
    assert timedelta(days=13, hours=23) < pending.expires_at - timezone.now() <= timedelta(days=14)
    assert accept(visitor, new_path).status_code == 302


def test_a_withdrawn_invitation_link_is_refused(alpha, owner_client, django_capture_on_commit_callbacks):
    invite(owner_client, django_capture_on_commit_callbacks)
    path = invite_link_path(mail.outbox[0])
    pending = StaffInvite.objects.get(email="dana@alpha.test")

    confirm = owner_client.get(f"/staff/team/invites/{pending.pk}/withdraw/").content.decode()
    owner_client.post(f"/staff/team/invites/{pending.pk}/withdraw/")

    assert "Withdraw the invitation to dana@alpha.test?" in confirm
    page = Client(HTTP_HOST=host_of("alpha")).get(path)
    assert page.status_code == 410 and "This invitation was withdrawn" in page.content.decode()
    assert "No invitations waiting" in owner_client.get("/staff/team/").content.decode()


@pytest.mark.parametrize("token", ["x1", "WzEsImFiYyJd:1vAbCd:forged", "a" * 300])
def test_a_wrong_link_is_a_clear_not_found_page(alpha_client, token):
    page = alpha_client.get(f"/staff/invite/{token}/")
    assert page.status_code == 404
    assert "This link does not work" in page.content.decode()


def test_a_link_of_another_practice_does_not_work_here(alpha, beta, owner_client, django_capture_on_commit_callbacks):
    invite(owner_client, django_capture_on_commit_callbacks)
    path = invite_link_path(mail.outbox[0])
    assert Client(HTTP_HOST=host_of("beta")).get(path).status_code == 404


def test_the_invitation_email_is_sent_once_per_link(alpha, owner_client, django_capture_on_commit_callbacks):
    invite(owner_client, django_capture_on_commit_callbacks)
    pending = StaffInvite.objects.get(email="dana@alpha.test")

    assert team.send_invite_email(pending.pk, pending.link_version) is False  # the task ran again
    assert team.send_invite_email(pending.pk, "an-older-version") is False
    assert len(mail.outbox) == 1


def test_nothing_is_emailed_when_the_invitation_is_not_committed(
    alpha, owner_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        owner_client.post(
            "/staff/team/invite/", {"email": "dana@alpha.test", "role": Role.FRONT_DESK, "valid_days": "7"}
        )
    assert len(callbacks) == 1 and mail.outbox == []  # handed to the worker only after commit


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        ("staff", "dana@alpha.test is already on your team."),
        ("deactivated", "belongs to a deactivated team member: reactivate them"),
        ("patient", "is used by a patient&#x27;s account at this practice"),
        ("invited", "dana@alpha.test has already been invited. Send the invitation again"),
    ],
)
def test_an_address_in_use_is_refused_with_what_to_do(
    alpha, owner_client, django_capture_on_commit_callbacks, existing, message
):
    if existing in ("staff", "deactivated"):
        StaffMemberFactory(user__email="dana@alpha.test", is_active=existing == "staff")
    elif existing == "patient":
        PatientFactory(user__email="dana@alpha.test")
    else:
        invite(owner_client, django_capture_on_commit_callbacks)
    mail.outbox.clear()

    refused = invite(owner_client, django_capture_on_commit_callbacks, email="Dana@alpha.test")

    assert refused.status_code == 400
    assert message.lower() in refused.content.decode().lower()
    assert mail.outbox == []


def test_the_invite_form_says_what_is_missing(alpha, owner_client):
    refused = owner_client.post("/staff/team/invite/", {"email": "not-an-address", "role": "boss", "valid_days": "99"})
    page = refused.content.decode()
    assert refused.status_code == 400
    assert "Enter a valid email address, e.g. dana@yourclinic.com." in page
    assert "Choose a role from the list." in page
    assert "Choose how long the link works from the list." in page
    assert not StaffInvite.objects.exists()


def test_accepting_needs_matching_passwords_that_pass_the_rules(
    alpha, owner_client, django_capture_on_commit_callbacks
):
    invite(owner_client, django_capture_on_commit_callbacks)
    path = invite_link_path(mail.outbox[0])
    newcomer = Client(HTTP_HOST=host_of("alpha"))

    mismatch = newcomer.post(
        path, {"first_name": "Dana", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}
    ).content.decode()
    weak = accept(newcomer, path, password="12345678").content.decode()
    no_name = accept(newcomer, path, first_name="").content.decode()

    assert "The two passwords are not the same" in mismatch
    assert "This password is too common." in weak and "This password is entirely numeric." in weak
    assert "Enter your first name" in no_name
    assert not User.objects.filter(email="dana@alpha.test").exists()
    assert newcomer.get(path).status_code == 200  # the link still works


def test_accepting_on_a_browser_signed_in_as_someone_else_signs_them_out(
    alpha, owner_client, django_capture_on_commit_callbacks
):
    invite(owner_client, django_capture_on_commit_callbacks)
    path = invite_link_path(mail.outbox[0])

    page = owner_client.get(path).content.decode()
    accept(owner_client, path)

    assert "joining signs that account out here" in page
    assert owner_client.get("/staff/team/")["Location"].startswith("/staff/login/")
    assert StaffMember.objects.filter(user__email="dana@alpha.test").exists()


def test_an_invited_owner_becomes_an_owner(alpha, owner_client, django_capture_on_commit_callbacks):
    invite(owner_client, django_capture_on_commit_callbacks, role=Role.OWNER, email="co@alpha.test")
    newcomer = Client(HTTP_HOST=host_of("alpha"))
    accept(newcomer, invite_link_path(mail.outbox[0]))
    sign_in(newcomer, "co@alpha.test")
    assert newcomer.get("/staff/team/").status_code == 200


# ---------------------------------------------------------------- members


def test_a_role_change_takes_effect_on_the_next_request(alpha, owner_client):
    desk_client = Client(HTTP_HOST=host_of("alpha"))
    desk = sign_in_staff(desk_client, Role.FRONT_DESK, first_name="Dana")
    manager_page = reverse("rewards:staff_reward_list")
    assert desk_client.get(manager_page).status_code == 403

    changed = owner_client.post(f"/staff/team/members/{desk.pk}/", {"role": Role.MANAGER})

    assert changed["Location"] == "/staff/team/"
    assert desk_client.get(manager_page).status_code == 200
    owner_client.post(f"/staff/team/members/{desk.pk}/", {"role": Role.FRONT_DESK})
    assert desk_client.get(manager_page).status_code == 403


def test_deactivation_ends_an_existing_session_at_once(alpha, owner_client):
    desk_client = Client(HTTP_HOST=host_of("alpha"))
    desk = sign_in_staff(desk_client, Role.FRONT_DESK, first_name="Dana")
    assert desk_client.get("/staff/").status_code == 200
    cookie = desk_client.cookies["sessionid"].value

    confirm = owner_client.get(f"/staff/team/members/{desk.pk}/deactivate/").content.decode()
    done = owner_client.post(f"/staff/team/members/{desk.pk}/deactivate/")

    assert "Deactivate Dana" in confirm and "signed out now, on every device" in confirm
    assert done["Location"] == "/staff/team/"
    assert not Session.objects.filter(session_key=cookie).exists()
    replay = Client(HTTP_HOST=host_of("alpha"))
    replay.cookies["sessionid"] = cookie  # the old session cookie, sent again
    assert replay.get("/staff/")["Location"].startswith("/staff/login/")
    assert desk_client.get("/staff/")["Location"].startswith("/staff/login/")
    refused = sign_in(Client(HTTP_HOST=host_of("alpha")), desk.user.email, STAFF_PASSWORD, follow=True)
    assert refused.redirect_chain == [("/staff/inactive/", 302)]
    assert "ask the practice's owner to reactivate it" in refused.content.decode()
    Client(HTTP_HOST=host_of("alpha")).post("/staff/password/reset/", {"email": desk.user.email})
    assert all(desk.user.email not in message.to for message in mail.outbox)


def test_deactivation_ends_the_apps_session_tokens_too(alpha, owner_client):
    desk = StaffMemberFactory(role=Role.FRONT_DESK)
    other = StaffMemberFactory(role=Role.FRONT_DESK)
    for member in (desk, desk, other):
        Client(HTTP_HOST=host_of("alpha")).force_login(member.user, backend="django.contrib.auth.backends.ModelBackend")
    sessions = Session.objects.count()

    ended = team.end_sessions(desk.user)

    assert ended == 2
    assert Session.objects.count() == sessions - 2


def test_a_reactivated_member_signs_in_again_with_their_role(alpha, owner_client):
    desk = StaffMemberFactory(role=Role.MANAGER, user__first_name="Dana")
    owner_client.post(f"/staff/team/members/{desk.pk}/deactivate/")
    page = owner_client.get(f"/staff/team/members/{desk.pk}/").content.decode()
    assert "Deactivated: cannot sign in" in page and "Reactivate" in page

    owner_client.post(f"/staff/team/members/{desk.pk}/reactivate/")

    client = Client(HTTP_HOST=host_of("alpha"))
    assert sign_in(client, desk.user.email, STAFF_PASSWORD)["Location"] == "/staff/"
    assert client.get(reverse("rewards:staff_reward_list")).status_code == 200


def test_a_reactivation_refused_at_the_last_moment_is_a_message_not_an_error(alpha, owner_client, monkeypatch):
    """The acting owner may lose the role between the page's check and the service's lock."""
    desk = StaffMemberFactory(role=Role.MANAGER)
    owner_client.post(f"/staff/team/members/{desk.pk}/deactivate/")

    def refused(**kwargs):
        raise TeamError("Only an owner can change the team.")

    monkeypatch.setattr(team, "reactivate_member", refused)
    response = owner_client.post(f"/staff/team/members/{desk.pk}/reactivate/", follow=True)

    assert response.status_code == 200
    assert "Only an owner can change the team." in response.content.decode()


def _only_owner(owner_client) -> StaffMember:
    """Leave the signed-in owner as the practice's only active owner."""
    for other in StaffMember.objects.filter(role=Role.OWNER, is_active=True).exclude(pk=owner_client.owner.pk):
        team.deactivate_member(actor=owner_client.owner.user, member=other)
    return owner_client.owner


def test_the_last_owner_can_be_neither_demoted_nor_deactivated(alpha, owner_client):
    me = _only_owner(owner_client)

    demoted = owner_client.post(f"/staff/team/members/{me.pk}/", {"role": Role.MANAGER})
    deactivated = owner_client.post(f"/staff/team/members/{me.pk}/deactivate/", follow=True)

    assert demoted.status_code == 400
    assert "is the practice&#x27;s only active owner and cannot be given another role" in demoted.content.decode()
    assert "cannot be deactivated. Make another team member an owner first." in deactivated.content.decode()
    me.refresh_from_db()
    assert (me.role, me.is_active) == (Role.OWNER, True)
    with pytest.raises(LastOwner):
        team.change_role(actor=me.user, member=me, role=Role.FRONT_DESK)


def test_an_owner_may_step_down_when_another_owner_remains(alpha, owner_client):
    me = _only_owner(owner_client)
    StaffMemberFactory(role=Role.OWNER)

    stepped_down = owner_client.post(f"/staff/team/members/{me.pk}/", {"role": Role.MANAGER})

    assert stepped_down["Location"] == "/staff/"
    assert owner_client.get("/staff/team/").status_code == 403


def test_a_demoted_owner_can_no_longer_change_the_team(alpha, owner_client):
    other_owner = StaffMemberFactory(role=Role.OWNER)
    team.change_role(actor=other_owner.user, member=owner_client.owner, role=Role.MANAGER)
    desk = StaffMemberFactory()

    with pytest.raises(TeamError, match="Only an owner"):
        team.deactivate_member(actor=owner_client.owner.user, member=desk)


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.MANAGER])
def test_the_team_pages_are_for_owners_only(alpha, alpha_client, role, django_capture_on_commit_callbacks):
    sign_in_staff(alpha_client, role)
    member = StaffMemberFactory()
    pending = StaffInvite.objects.create(
        email="x@alpha.test", expires_at=timezone.now() + timedelta(days=1), link_version="v", sent_at=timezone.now()
    )
    for path in (
        "/staff/team/",
        "/staff/team/invite/",
        f"/staff/team/invites/{pending.pk}/resend/",
        f"/staff/team/invites/{pending.pk}/withdraw/",
        f"/staff/team/members/{member.pk}/",
        f"/staff/team/members/{member.pk}/deactivate/",
        f"/staff/team/members/{member.pk}/reactivate/",
    ):
        assert alpha_client.get(path).status_code == 403, path
        assert alpha_client.post(path, {"role": Role.OWNER, "email": "y@alpha.test"}).status_code == 403, path
    member.refresh_from_db()
    assert (member.role, member.is_active) == (Role.FRONT_DESK, True)
    assert not StaffInvite.objects.filter(email="y@alpha.test").exists()


def test_the_team_page_lists_members_and_invitations(alpha, owner_client, django_capture_on_commit_callbacks):
    StaffMemberFactory(role=Role.MANAGER, user__first_name="Mona", user__last_name="Manager")
    invite(owner_client, django_capture_on_commit_callbacks)

    page = owner_client.get("/staff/team/").content.decode()

    assert '<a href="/staff/team/" aria-current="page">Team</a>' in page
    assert "Mona Manager" in page and "Manager" in page
    assert "Olive Owner" in page and "(you)" in page
    assert "dana@alpha.test" in page and "Waiting, link works until" in page
    assert "Send again…" in page and "Withdraw…" in page


def test_two_factor_is_reset_from_the_member_page_and_returns_there(alpha, owner_client):
    from tests.two_factor import give_two_factor

    desk = StaffMemberFactory(user__first_name="Dana")
    give_two_factor(desk.user)
    member_page = f"/staff/team/members/{desk.pk}/"
    page = owner_client.get(member_page).content.decode()
    reset_url = f"/staff/settings/security/staff/{desk.pk}/reset/?next={member_page}"
    assert f'href="{reset_url}"' in page

    confirm = owner_client.get(reset_url).content.decode()
    action = re.search(r'action="(/staff/settings/security/[^"]+)"', confirm).group(1)
    done = owner_client.post(action.replace("&amp;", "&"))

    assert done["Location"] == member_page
    assert AuditEvent.objects.filter(action="two_factor.reset", target_id=str(desk.user.pk)).exists()


def test_a_reset_never_returns_to_another_site(alpha, owner_client):
    desk = StaffMemberFactory()
    done = owner_client.post(f"/staff/settings/security/staff/{desk.pk}/reset/?next=//evil.test/staff/")
    assert done["Location"] == "/staff/settings/security/"


# ---------------------------------------------------------------- the audit trail


def test_every_team_change_is_in_the_audit_trail(alpha, owner_client, django_capture_on_commit_callbacks):
    me = owner_client.owner.user
    invite(owner_client, django_capture_on_commit_callbacks)
    pending = StaffInvite.objects.get(email="dana@alpha.test")
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/staff/team/invites/{pending.pk}/resend/", {"valid_days": "3"})
    accept(Client(HTTP_HOST=host_of("alpha")), invite_link_path(mail.outbox[-1]))
    dana = StaffMember.objects.get(user__email="dana@alpha.test")
    owner_client.post(f"/staff/team/members/{dana.pk}/", {"role": Role.MANAGER})
    owner_client.post(f"/staff/team/members/{dana.pk}/deactivate/")
    owner_client.post(f"/staff/team/members/{dana.pk}/reactivate/")
    invite(owner_client, django_capture_on_commit_callbacks, email="eve@alpha.test")
    owner_client.post(f"/staff/team/invites/{StaffInvite.objects.get(email='eve@alpha.test').pk}/withdraw/")

    events = list(AuditEvent.objects.filter(action__startswith="staff.").order_by("created_at", "id"))
    assert [(e.action, e.actor) for e in events] == [
        ("staff.invited", me),
        ("staff.invite_resent", me),
        ("staff.invite_accepted", dana.user),
        ("staff.role_changed", me),
        ("staff.deactivated", me),
        ("staff.reactivated", me),
        ("staff.invited", me),
        ("staff.invite_revoked", me),
    ]
    invited, resent, accepted, role, deactivated, reactivated = events[:6]
    assert invited.after["email"] == "dana@alpha.test" and invited.after["role"] == "front_desk"
    assert invited.target_type == "practices.staffinvite" and invited.target_id == str(pending.pk)
    assert resent.note == "earlier link no longer works" and "expires_at" in resent.after
    assert accepted.target_label == "Dana Desk <dana@alpha.test>"
    assert (role.before, role.after) == ({"role": "front_desk"}, {"role": "manager"})
    assert (deactivated.before, deactivated.after) == ({"is_active": True}, {"is_active": False})
    assert (reactivated.before, reactivated.after) == ({"is_active": False}, {"is_active": True})
    assert not any("link" in str(e.after) or pending.link_version in str(e.after) for e in events)


def test_a_refused_change_records_nothing(alpha, owner_client):
    me = _only_owner(owner_client)
    before = AuditEvent.objects.count()
    with pytest.raises(LastOwner):
        team.deactivate_member(actor=me.user, member=me)
    assert AuditEvent.objects.count() == before


def test_a_team_change_needs_an_actor(alpha):
    from practices.audit import ActorRequired

    desk = StaffMemberFactory()
    with pytest.raises(ActorRequired):
        team.deactivate_member(actor=None, member=desk)
    desk.refresh_from_db()
    assert desk.is_active


def test_an_owner_deactivating_themselves_is_signed_out(alpha, owner_client):
    me = _only_owner(owner_client)
    StaffMemberFactory(role=Role.OWNER)

    confirm = owner_client.get(f"/staff/team/members/{me.pk}/deactivate/").content.decode()
    done = owner_client.post(f"/staff/team/members/{me.pk}/deactivate/")

    assert "Deactivate your own account?" in confirm and "another owner can reactivate it later" in confirm
    assert done["Location"] == "/staff/login/"
    assert owner_client.get("/staff/")["Location"].startswith("/staff/login/")
    me.refresh_from_db()
    assert not me.is_active and not me.user.is_active
