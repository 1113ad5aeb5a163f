"""The owner's team: invite staff by email, send an invitation again or withdraw it, change a member's role,
deactivate and reactivate members. Every change takes the acting owner and writes its audit entry
(practices.audit) in its own transaction.

Rules kept here, for every entry point:
- The practice always keeps an active owner: the last one can be neither demoted nor deactivated. The active
  owners' rows are locked (in primary-key order) by each change that could remove one, so two owners demoting
  each other at the same moment cannot both succeed.
- An invitation link is signed (SECRET_KEY) with the invitation's id and its `link_version`, so only what the
  server sent can be used, sending it again (a new version) makes the earlier link stop working, and a copy of
  the database is not enough to forge one. It works once, until it expires. The staff member, and with it their
  referral code (referrals subscribes to StaffMember creation), exists only once the link is accepted.
- Deactivating ends the member's sessions at once (pages and the app's session tokens) and stops them signing in:
  the account is kept, inactive, until an owner reactivates it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, password_validation
from django.contrib.sessions.models import Session
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import User

from . import audit, locking
from .errors import InviteLinkUnusable, LastOwner, TeamError
from .models import StaffInvite, StaffMember
from .selectors import branding, current_practice, practice_url
from .tasks import enqueue_for_practice

Role = StaffMember.Role
Reason = InviteLinkUnusable

# How long an invitation link works unless the owner chooses otherwise, and the choices offered.
INVITE_VALID_DAYS = 7
INVITE_VALID_DAYS_CHOICES = (1, 3, 7, 14, 30)
_LINK_SALT = "practices.team.invite"
MEMBER_FIELDS = ("role", "is_active")


# ---------------------------------------------------------------- reads


def team_members() -> QuerySet[StaffMember]:
    """Every staff member, active first, each with `has_two_factor`, for the owner's team page."""
    from allauth.mfa.models import Authenticator

    totp = Authenticator.objects.filter(user_id=OuterRef("user_id"), type=Authenticator.Type.TOTP)
    return (
        StaffMember.objects.select_related("user")
        .annotate(has_two_factor=Exists(totp))
        .order_by("-is_active", "user__first_name", "user__last_name", "user__email")
    )


def open_invites() -> QuerySet[StaffInvite]:
    """Invitations not accepted or withdrawn yet (expired ones too: they can be sent again)."""
    return StaffInvite.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True).select_related("invited_by")


def invite_link(invite: StaffInvite) -> str:
    """The absolute link emailed to the invited person (it changes when the invitation is sent again)."""
    token = signing.dumps([invite.pk, invite.link_version], salt=_LINK_SALT, compress=True)
    return practice_url(current_practice(), reverse("practices:invite_accept", args=[token]))


def invite_for_link(token: str, *, lock: bool = False) -> StaffInvite:
    """The invitation an emailed link opens, if it can still be used; InviteLinkUnusable saying why otherwise.

    With `lock`, its row stays locked until the caller's transaction ends.
    """
    try:
        invite_id, version = signing.loads(token, salt=_LINK_SALT)
        invites = StaffInvite.objects.filter(pk=int(invite_id))
        invite = locking.lock_get(invites) if lock else invites.get()
    except (signing.BadSignature, ValueError, TypeError, StaffInvite.DoesNotExist):
        raise InviteLinkUnusable(
            "This invitation link is not valid. Check that you opened the whole link from the email, or ask the "
            "practice's owner to invite you again.",
            reason=Reason.UNKNOWN,
        ) from None
    _check_usable(invite, str(version))
    return invite


def _check_usable(invite: StaffInvite, version: str) -> None:
    status = invite.status_at(timezone.now())
    if status == StaffInvite.Status.ACCEPTED:
        raise InviteLinkUnusable(
            "This invitation was already accepted. Sign in with your email address and the password you chose "
            "(or reset the password if you forgot it).",
            reason=Reason.ACCEPTED,
            invite=invite,
        )
    if status == StaffInvite.Status.REVOKED:
        raise InviteLinkUnusable(
            "This invitation was withdrawn by the practice. If you think that is a mistake, ask the practice's owner.",
            reason=Reason.REVOKED,
            invite=invite,
        )
    if version != invite.link_version:
        raise InviteLinkUnusable(
            "This link was replaced by a newer one: use the link in the latest invitation email, or ask the "
            "practice's owner to send it again.",
            reason=Reason.REPLACED,
            invite=invite,
        )
    if status == StaffInvite.Status.EXPIRED:
        raise InviteLinkUnusable(
            "This invitation has expired. Ask the practice's owner to send it again: you will get a new link.",
            reason=Reason.EXPIRED,
            invite=invite,
        )


# ---------------------------------------------------------------- invitations


def _require_owner(actor: User) -> StaffMember:
    member = StaffMember.objects.filter(user_id=actor.pk, is_active=True, role=Role.OWNER).first()
    if member is None:
        raise TeamError("Only an owner of the practice can change its team.")
    return member


def _check_role(role: str) -> str:
    if role not in Role.values:
        raise TeamError("Choose a role: owner, manager or front desk.", field="role")
    return role


def _check_days(valid_days: int) -> int:
    if valid_days not in INVITE_VALID_DAYS_CHOICES:
        days = ", ".join(str(days) for days in INVITE_VALID_DAYS_CHOICES)
        raise TeamError(f"Choose how many days the link works: {days}.", field="valid_days")
    return valid_days


def _check_address_free(email: str) -> None:
    user = User.objects.filter(email__iexact=email).select_related("staff_member").first()
    if user is not None:
        member = getattr(user, "staff_member", None)
        if member is not None and member.is_active:
            raise TeamError(f"{email} is already on your team.", field="email")
        if member is not None:
            raise TeamError(
                f"{email} belongs to a deactivated team member: reactivate them from the team page instead.",
                field="email",
            )
        raise TeamError(
            f"{email} is used by a patient's account at this practice. Invite the staff member with another "
            "address (for example their work email).",
            field="email",
        )
    if StaffInvite.objects.filter(email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True).exists():
        raise TeamError(
            f"{email} has already been invited. Send the invitation again from the team page if it was lost or "
            "has expired.",
            field="email",
        )


def _send_link(invite: StaffInvite) -> None:
    """Queue the email with the invitation's current link, in the caller's transaction (the outbox)."""
    enqueue_for_practice(
        "practices.team.send_invite_email",
        invite.pk,
        invite.link_version,
        key=f"staff_invite_email:{invite.pk}:{invite.link_version}",
        once=True,
    )


def invite_staff(
    *,
    actor: User,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    valid_days: int = INVITE_VALID_DAYS,
) -> StaffInvite:
    """Invite someone to the staff by email; the link is emailed once the invitation is committed.

    Refused for an address already on the team, used by a patient, or invited and not yet answered.
    """
    audit.require_actor(actor)
    email = User.objects.normalize_email((email or "").strip())
    try:
        validate_email(email)
    except ValidationError:
        raise TeamError("Enter a valid email address, e.g. dana@yourclinic.com.", field="email") from None
    _check_role(role)
    _check_days(valid_days)
    now = timezone.now()
    try:
        with transaction.atomic():
            _require_owner(actor)
            _check_address_free(email)
            invite = StaffInvite.objects.create(
                email=email,
                first_name=(first_name or "").strip()[:150],
                last_name=(last_name or "").strip()[:150],
                role=role,
                expires_at=now + timedelta(days=valid_days),
                link_version=secrets.token_hex(8),
                invited_by=actor,
                sent_at=now,
            )
            audit.record(
                actor=actor,
                action="staff.invited",
                target=invite,
                after={"email": email, "role": role, "expires_at": invite.expires_at},
            )
            _send_link(invite)
    except IntegrityError:
        # Another owner invited the same address at the same moment.
        raise TeamError(f"{email} has already been invited.", field="email") from None
    return invite


@transaction.atomic
def resend_invite(*, actor: User, invite: StaffInvite, valid_days: int = INVITE_VALID_DAYS) -> StaffInvite:
    """Email the invitation again with a new link, valid `valid_days` from now; the earlier link stops working."""
    audit.require_actor(actor)
    _check_days(valid_days)
    _require_owner(actor)
    invite = locking.lock_get(StaffInvite.objects, pk=invite.pk)
    if not invite.is_open:
        raise TeamError(f"The invitation to {invite.email} was already {invite.get_status_display()}.")
    was = audit.snapshot(invite, ["expires_at"])
    now = timezone.now()
    invite.link_version = secrets.token_hex(8)
    invite.expires_at = now + timedelta(days=valid_days)
    invite.sent_at = now
    invite.save(update_fields=["link_version", "expires_at", "sent_at"])
    audit.record(
        actor=actor,
        action="staff.invite_resent",
        target=invite,
        note="earlier link no longer works",
        **audit.changes(was, invite, ["expires_at"]),
    )
    _send_link(invite)
    return invite


@transaction.atomic
def revoke_invite(*, actor: User, invite: StaffInvite) -> StaffInvite:
    """Withdraw an invitation that was not accepted: its link stops working. Withdrawing twice changes nothing."""
    audit.require_actor(actor)
    _require_owner(actor)
    invite = locking.lock_get(StaffInvite.objects, pk=invite.pk)
    if invite.accepted_at is not None:
        raise TeamError(f"{invite.email} already accepted: deactivate them from the team page instead.")
    if invite.revoked_at is None:
        invite.revoked_at, invite.revoked_by = timezone.now(), actor
        invite.save(update_fields=["revoked_at", "revoked_by"])
        audit.record(
            actor=actor,
            action="staff.invite_revoked",
            target=invite,
            before={"status": "pending"},
            after={"status": "withdrawn"},
        )
    return invite


@transaction.atomic
def accept_invite(*, token: str, password: str, first_name: str, last_name: str) -> StaffMember:
    """The invited person accepts with their password: their account and staff membership are created now.

    The link works once: accepting locks the invitation, and a second acceptance finds it accepted. The password
    must pass the password validators (AUTH_PASSWORD_VALIDATORS).
    """
    invite = invite_for_link(token, lock=True)
    if User.objects.filter(email__iexact=invite.email).exists():
        raise TeamError(
            f"An account with {invite.email} exists already at this practice. Ask the practice's owner for help."
        )
    user = User(
        email=invite.email,
        first_name=(first_name or invite.first_name).strip()[:150],
        last_name=(last_name or invite.last_name).strip()[:150],
    )
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise TeamError(" ".join(error.messages), field="password1") from None
    user.set_password(password)
    user.save()
    member = StaffMember.objects.create(user=user, role=invite.role)
    invite.accepted_at, invite.member = timezone.now(), member
    invite.save(update_fields=["accepted_at", "member"])
    audit.record(
        actor=user,
        action="staff.invite_accepted",
        target=member,
        target_label=audit.actor_label(user),
        after={"role": member.role, "is_active": True},
    )
    return member


# ---------------------------------------------------------------- members


def _lock_owners_and(actor: User, member: StaffMember) -> tuple[StaffMember, set[int]]:
    """Lock the active owners and `member` (primary-key order); the member re-read, and the active owners' ids.

    Refuses unless the actor is still an active owner once the locks are held.
    """
    rows = locking.lock(
        StaffMember.objects.filter(Q(role=Role.OWNER, is_active=True) | Q(pk=member.pk)).select_related("user")
    )
    owners = {row.pk for row in rows if row.role == Role.OWNER and row.is_active}
    if not any(row.user_id == actor.pk for row in rows if row.pk in owners):
        raise TeamError("Only an owner of the practice can change its team.")
    locked = next((row for row in rows if row.pk == member.pk), None)
    if locked is None:
        raise TeamError("This staff member no longer exists.")
    return locked, owners


def _refuse_last_owner(member: StaffMember, owners: set[int], what: str) -> None:
    if member.pk in owners and len(owners) == 1:
        raise LastOwner(
            f"{_name(member)} is the practice's only active owner and cannot be {what}. Make another team member "
            "an owner first."
        )


def _name(member: StaffMember) -> str:
    return member.user.get_full_name() or member.user.email


@transaction.atomic
def change_role(*, actor: User, member: StaffMember, role: str) -> StaffMember:
    """Give an active member another role, effective on their next request. The last active owner keeps theirs."""
    audit.require_actor(actor)
    _check_role(role)
    member, owners = _lock_owners_and(actor, member)
    if not member.is_active:
        raise TeamError(f"{_name(member)} is deactivated: reactivate them first.")
    if member.role == role:
        return member
    if role != Role.OWNER:
        _refuse_last_owner(member, owners, "given another role")
    was = audit.snapshot(member, MEMBER_FIELDS)
    member.role = role
    member.save(update_fields=["role"])
    audit.record(
        actor=actor,
        action="staff.role_changed",
        target=member,
        target_label=audit.actor_label(member.user),
        **audit.changes(was, member, MEMBER_FIELDS),
    )
    return member


@transaction.atomic
def deactivate_member(*, actor: User, member: StaffMember) -> StaffMember:
    """Stop a member signing in and end their sessions now; the account is kept for reactivation.

    The last active owner cannot be deactivated. Deactivating a deactivated member changes nothing.
    """
    audit.require_actor(actor)
    member, owners = _lock_owners_and(actor, member)
    if not member.is_active:
        return member
    _refuse_last_owner(member, owners, "deactivated")
    was = audit.snapshot(member, MEMBER_FIELDS)
    member.is_active = False
    member.save(update_fields=["is_active"])
    # An inactive account is refused by the authentication backends, at sign-in and on every request.
    User.objects.filter(pk=member.user_id).update(is_active=False)
    ended = end_sessions(member.user)
    audit.record(
        actor=actor,
        action="staff.deactivated",
        target=member,
        target_label=audit.actor_label(member.user),
        note=f"{ended} session{'s' if ended != 1 else ''} ended",
        **audit.changes(was, member, MEMBER_FIELDS),
    )
    return member


@transaction.atomic
def reactivate_member(*, actor: User, member: StaffMember) -> StaffMember:
    """Let a deactivated member sign in again, with their role and password as they were."""
    audit.require_actor(actor)
    member, _ = _lock_owners_and(actor, member)
    if member.is_active:
        return member
    was = audit.snapshot(member, MEMBER_FIELDS)
    member.is_active = True
    member.save(update_fields=["is_active"])
    User.objects.filter(pk=member.user_id).update(is_active=True)
    audit.record(
        actor=actor,
        action="staff.reactivated",
        target=member,
        target_label=audit.actor_label(member.user),
        **audit.changes(was, member, MEMBER_FIELDS),
    )
    return member


def end_sessions(user: User) -> int:
    """Delete every session of `user` in the practice's schema (staff pages and the app's session tokens alike).

    Sessions are only addressable by key, so the unexpired ones are read to find the user's.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    owner = str(user.pk)
    keys = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=500)
        if session.get_decoded().get(SESSION_KEY) == owner
    ]
    for key in keys:
        store(session_key=key).delete()
    return len(keys)


# ---------------------------------------------------------------- the email


@dataclass(frozen=True)
class InviteEmail:
    subject: str
    text: str
    html: str


def render_invite_email(invite: StaffInvite) -> InviteEmail:
    practice = current_practice()
    context = {
        "invite": invite,
        "practice": practice,
        "brand": branding(practice, absolute=True),
        "link": invite_link(invite),
        "inviter": (invite.invited_by.get_full_name() or invite.invited_by.email) if invite.invited_by else "",
        "two_factor_required": practice.staff_two_factor_required,
    }
    subject = " ".join(render_to_string("practices/email/staff_invite_subject.txt", context).split())
    return InviteEmail(
        subject=subject,
        text=render_to_string("practices/email/staff_invite_message.txt", context).strip(),
        html=render_to_string("practices/email/staff_invite_message.html", context),
    )


def send_invite_email(invite_id: int, link_version: str) -> bool:
    """Task: email the invitation's link of this version, once; nothing when it was sent again or answered since."""
    invite = StaffInvite.objects.select_related("invited_by").filter(pk=invite_id).first()
    if invite is None or not invite.is_open or invite.link_version != link_version:
        return False
    if invite.emailed_version == link_version:
        return False
    mail = render_invite_email(invite)
    message = EmailMultiAlternatives(mail.subject, mail.text, settings.DEFAULT_FROM_EMAIL, [invite.email])
    if invite.invited_by and invite.invited_by.email:
        message.reply_to = [invite.invited_by.email]
    message.attach_alternative(mail.html, "text/html")
    message.send()
    StaffInvite.objects.filter(pk=invite.pk, link_version=link_version).update(emailed_version=link_version)
    return True
