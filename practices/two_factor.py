"""Two-factor authentication for staff and platform operators: allauth's MFA (an authenticator app and
recovery codes), with the rules of this platform.

Who must use it: platform operators always; a practice's staff once the owner requires it (the practice's
`staff_two_factor_required`). Only they use it: patients sign in with a code texted to their phone.
Everything that changes it is written to the audit trail (practices.audit): turning it on or off and new
recovery codes (from allauth's signals), a reset by someone else, and the owner's requirement.
"""

from __future__ import annotations

import re

from allauth.mfa import signals as mfa_signals
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.base import forms as mfa_forms
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.forms import ActivateTOTPForm
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.dispatch import receiver
from django_tenants.utils import get_public_schema_name

from accounts.models import AuditEvent, User

from . import audit
from .audit_selectors import describe
from .errors import PracticeError
from .locking import lock_get
from .models import Practice, StaffMember
from .selectors import current_practice


def on_platform() -> bool:
    """Whether the connection is in the platform's own (public) schema, where the accounts are operators."""
    return connection.schema_name == get_public_schema_name()


# ---------------------------------------------------------------- reads


def has_two_factor(user) -> bool:
    """Whether the account signs in with an authenticator app (recovery codes alone are not a second factor)."""
    return bool(
        user.is_authenticated and Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()
    )


def two_factor_required(user) -> bool:
    """Whether the account must use two-factor: platform operators always; staff when their practice requires it."""
    if on_platform():
        return bool(user.is_staff)
    return (
        current_practice().staff_two_factor_required
        and StaffMember.objects.filter(user_id=user.pk, is_active=True).exists()
    )


def staff_two_factor_overview() -> QuerySet[StaffMember]:
    """The practice's active staff, each with `has_two_factor`, for the owner's security page."""
    totp = Authenticator.objects.filter(user_id=OuterRef("user_id"), type=Authenticator.Type.TOTP)
    return (
        StaffMember.objects.filter(is_active=True)
        .select_related("user")
        .annotate(has_two_factor=Exists(totp))
        .order_by("user__first_name", "user__last_name", "user__email")
    )


def recent_security_events(*, limit: int = 20) -> list[AuditEvent]:
    """The latest two-factor entries of the audit trail, newest first, described for the page."""
    events = AuditEvent.objects.filter(
        Q(action__startswith="two_factor.") | Q(action="practice.two_factor_requirement_changed")
    )
    return [describe(event) for event in events[:limit]]


# ---------------------------------------------------------------- writes


@transaction.atomic
def set_staff_two_factor_required(*, required: bool, actor: User) -> Practice:
    """Require two-factor of every staff member of the current practice, or stop requiring it.

    Recorded with who did it; changes nothing (and records nothing) when it is already so.
    """
    audit.require_actor(actor)
    practice = current_practice()
    before = lock_get(Practice.objects.values_list("staff_two_factor_required", flat=True), pk=practice.pk)
    if before != required:
        Practice.objects.filter(pk=practice.pk).update(staff_two_factor_required=required)
        audit.record(
            actor=actor,
            action="practice.two_factor_requirement_changed",
            target=practice,
            before={"staff_two_factor_required": before},
            after={"staff_two_factor_required": required},
        )
    practice.staff_two_factor_required = required  # the copy this request routes with
    return practice


@transaction.atomic
def reset_two_factor(*, user: User, actor: User | audit.System, note: str = "") -> bool:
    """Remove the account's authenticator app and recovery codes (a lost phone), recorded with who did it.

    The account then signs in with its password alone and, where two-factor is required, sets it up again
    before anything else. False (and nothing recorded) when it had none. A command passes an audit.System.
    """
    audit.require_actor(actor)
    deleted, _ = Authenticator.objects.filter(user_id=user.pk).delete()
    if not deleted:
        return False
    audit.record(
        actor=actor,
        action="two_factor.reset",
        target=user,
        target_label=audit.actor_label(user),
        before={"two_factor": "on"},
        after={"two_factor": "off"},
        note=note,
    )
    return True


def reset_staff_two_factor(*, member: StaffMember, actor: User) -> bool:
    """The owner resets a staff member's two-factor (not their own: they turn it off on their own page)."""
    if member.user_id == actor.pk:
        raise PracticeError("Turn your own two-factor authentication off or on from your Two-factor page.")
    return reset_two_factor(user=member.user, actor=actor, note="reset by the practice's owner")


# ---------------------------------------------------------------- allauth


class TwoFactorAdapter(DefaultMFAAdapter):
    """allauth's MFA with this platform's wording, names and rules (settings.MFA_ADAPTER)."""

    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "incorrect_code": "That code isn't right. Enter the 6-digit code your authenticator app shows now.",
        "cannot_delete_authenticator": "Two-factor authentication is required for your account, so it stays on.",
    }

    def get_totp_issuer(self) -> str:
        # What the authenticator app shows next to the code.
        if on_platform():
            return f"{settings.BASE_DOMAIN} platform"
        return f"{current_practice().name} staff"

    def get_totp_label(self, user) -> str:
        return user.email or str(user)

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        if authenticator.type == Authenticator.Type.RECOVERY_CODES:
            return True
        return not two_factor_required(authenticator.user)


def too_many_codes_message() -> str:
    """What a person sees after too many wrong codes, with the wait from ACCOUNT_RATE_LIMITS["login_failed"]."""
    match = re.search(r"\d+/(\d*)([smhd])/key", settings.ACCOUNT_RATE_LIMITS.get("login_failed", ""))
    wait = "a few minutes"
    if match:
        amount = int(match.group(1) or 1)
        unit = {"s": "second", "m": "minute", "h": "hour", "d": "day"}[match.group(2)]
        wait = f"{amount} {unit}{'s' if amount != 1 else ''}"
    return f"Too many wrong codes. Please wait {wait}, then try again."


class _OwnWordingWhenThrottled:
    """allauth's code forms, saying how long to wait after too many wrong codes (its wording is the patients'
    sign-in's, about texted codes)."""

    def clean_code(self) -> str:
        try:
            return super().clean_code()
        except ValidationError as error:
            if error.code in ("too_many_login_attempts", "rate_limited"):
                raise ValidationError(too_many_codes_message(), code="too_many_codes") from None
            raise


class AuthenticateForm(_OwnWordingWhenThrottled, mfa_forms.AuthenticateForm):
    pass


class ReauthenticateForm(_OwnWordingWhenThrottled, mfa_forms.ReauthenticateForm):
    pass


class ActivateForm(_OwnWordingWhenThrottled, ActivateTOTPForm):
    pass


def _record(request, user: User, action: str, **values) -> None:
    # allauth's own pages make these changes and send these signals inside their request; the person is
    # the one signed in (the account itself while it sets up two-factor at sign-in).
    acting = getattr(request, "user", None)
    actor = acting if acting is not None and acting.is_authenticated else user
    with transaction.atomic():
        audit.record(actor=actor, action=action, target=user, target_label=audit.actor_label(user), **values)


@receiver(mfa_signals.authenticator_added)
def _record_added(sender, request, user, authenticator, **kwargs) -> None:
    # Recovery codes made along with the authenticator app are part of turning it on.
    if authenticator.type == Authenticator.Type.TOTP:
        _record(request, user, "two_factor.turned_on", before={"two_factor": "off"}, after={"two_factor": "on"})


@receiver(mfa_signals.authenticator_removed)
def _record_removed(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.TOTP:
        _record(request, user, "two_factor.turned_off", before={"two_factor": "on"}, after={"two_factor": "off"})


@receiver(mfa_signals.authenticator_reset)
def _record_reset(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        _record(request, user, "two_factor.recovery_codes_created")
