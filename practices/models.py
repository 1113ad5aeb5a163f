import os
import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from .formatting import CURRENCY_CHOICES, DEFAULT_CURRENCY
from .media import practice_media_storage

# Codes read aloud or typed from a poster: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as #RRGGBB, for example #0f766e.")


def new_invite_code(length: int = 8) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def logo_path(instance: "Practice", filename: str) -> str:
    # In the practice's own media folder wherever it is uploaded (the platform admin works in the public
    # schema), under a new name each time; the suffix is the one PictureField gave for the format.
    from .services import schema_name_for

    folder = instance.schema_name or schema_name_for(instance.slug)
    suffix = os.path.splitext(filename)[1].lower()
    return f"{folder}/branding/{secrets.token_hex(8)}{suffix}"


class Practice(TenantMixin):
    """A practice (the tenant): its own schema, domain, branding and program."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=40, unique=True)
    time_zone = models.CharField(max_length=64, default="America/New_York")
    country = models.CharField(max_length=2, default="US", help_text="Default region for phone numbers.")
    currency = models.CharField(
        max_length=3, choices=CURRENCY_CHOICES, default=DEFAULT_CURRENCY, help_text="Prices and amounts on pages."
    )
    # What the home screen and the app's icons show under the icon (cut at about 12 characters).
    short_name = models.CharField(
        max_length=30, blank=True, help_text="Shown under the app's icon; empty: the first words of the name."
    )
    # How texts to patients name the practice ("Alpha: your code is ..."); empty: the short name, else the name.
    sms_sender_name = models.CharField(max_length=30, blank=True)
    logo = models.ImageField(upload_to=logo_path, storage=practice_media_storage, max_length=255, blank=True)
    primary_color = models.CharField(max_length=7, default="#0f766e", validators=[hex_colour])
    accent_color = models.CharField(max_length=7, default="#f59e0b", validators=[hex_colour])
    invite_code = models.CharField(max_length=12, unique=True, null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # Set by the owner (practices.two_factor): staff without two-factor are sent to set it up first.
    staff_two_factor_required = models.BooleanField(
        default=False, help_text="Every staff member must sign in with a second factor (an authenticator app)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_platform(self) -> bool:
        return self.schema_name == settings.PUBLIC_SCHEMA_NAME

    @property
    def sms_name(self) -> str:
        """The name texts to patients begin with."""
        return self.sms_sender_name or self.short_name or self.name


class Domain(DomainMixin):
    """A host name routed to a practice (`<slug>.<BASE_DOMAIN>`)."""


class StaffMember(models.Model):
    """A user of the practice's staff portal and the role that decides what they may do.

    Lives in the practice's schema (see practices.routers): staff belong to one practice.
    """

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MANAGER = "manager", "Manager"
        FRONT_DESK = "front_desk", "Front desk"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_member")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.FRONT_DESK)
    is_active = models.BooleanField(default=True)
    must_change_password = models.BooleanField(
        default=False, help_text="Set when the password was issued by someone else (a one-time password)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__first_name", "user__last_name"]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"

    def has_role(self, role: str) -> bool:
        """True when this member's role is `role` or above (owner > manager > front desk)."""
        return self.is_active and ROLE_RANK[self.role] >= ROLE_RANK[role]


ROLE_RANK = {
    StaffMember.Role.FRONT_DESK: 1,
    StaffMember.Role.MANAGER: 2,
    StaffMember.Role.OWNER: 3,
}


class StaffInvite(models.Model):
    """An owner's invitation to join the practice's staff, sent by email (practices.team).

    The emailed link is signed with `link_version`, which changes each time the invitation is sent again: the
    earlier link then stops working. It works once, until `expires_at`. The staff member (with their referral
    code) is created only when the invitation is accepted. Lives in the practice's schema.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        EXPIRED = "expired", "Expired"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Withdrawn"

    email = models.EmailField()
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=StaffMember.Role.choices, default=StaffMember.Role.FRONT_DESK)
    expires_at = models.DateTimeField()
    link_version = models.CharField(max_length=32)
    # The link version of the last email sent: the email task sends each version once.
    emailed_version = models.CharField(max_length=32, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(help_text="When the invitation was last sent.")
    accepted_at = models.DateTimeField(null=True, blank=True)
    member = models.OneToOneField(StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="invite")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open invitation per address: inviting again means sending the open one again.
            models.UniqueConstraint(
                models.functions.Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="practices_invite_open_email",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_open(self) -> bool:
        """Neither accepted nor withdrawn (it may have expired: sending it again renews it)."""
        return self.accepted_at is None and self.revoked_at is None

    def status_at(self, now) -> str:
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        return self.Status.EXPIRED if self.expires_at <= now else self.Status.PENDING


class ApiKey(models.Model):
    """A key a point-of-sale system uses to call the practice's POS API.

    Lives in the practice's schema (see practices.routers), so a key only ever opens its own practice.
    Only the SHA-256 of the key is stored; the key itself is shown once, when it is created.
    """

    name = models.CharField(max_length=80, help_text="Which system uses it, e.g. “Front desk POS”.")
    # The key's first characters, shown so staff can tell keys apart; not enough to use it.
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    require_signature = models.BooleanField(
        default=False, help_text="Refuse requests that are not signed with an X-Signature header."
    )
    # The secret a POS signs requests with (see practices.api_keys for why it is kept as it is). Empty for keys
    # created before signing secrets existed: those keep the older body-only signature until rotated.
    signing_secret = models.CharField(max_length=64, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ProgramTexts(models.Model):
    """The practice's program terms and privacy notice, as the owner wrote them (one row per practice schema).

    Empty means the default text (practices.program_texts), which names the practice; the public /terms/ and
    /privacy/ pages show whichever applies. Kept in the practice's schema with the rest of its program.
    """

    terms = models.TextField(blank=True)
    terms_updated_at = models.DateTimeField(null=True, blank=True)
    privacy = models.TextField(blank=True)
    privacy_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "program texts"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="practices_programtexts_singleton")]

    def __str__(self) -> str:
        return "Program terms and privacy notice"


class SupportEscalation(models.Model):
    """Something a practice's staff asked platform support to look into (e.g. a referral that looks
    wrong). Lives in the public schema so platform operators see every practice's in one place;
    patients and referrals are referenced by id and a short description, never by foreign key."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        INVESTIGATING = "investigating", "Investigating"
        RESOLVED = "resolved", "Resolved"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="escalations")
    topic = models.CharField(max_length=40, default="referral")
    patient_id = models.BigIntegerField(null=True, blank=True)
    patient_label = models.CharField(max_length=200, blank=True)
    referral_id = models.BigIntegerField(null=True, blank=True)
    referral_label = models.CharField(max_length=300, blank=True)
    message = models.TextField()
    raised_by = models.CharField(max_length=200, help_text="The staff member who raised it (name and email).")
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.OPEN)
    operator_notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.practice}: {self.topic} #{self.pk}"


class CodeDirectory(models.Model):
    """Every referral code of every practice, in the public schema: what makes codes unique across
    the platform, and lets the mobile client find the practice behind a code before it knows the host."""

    code = models.CharField(max_length=16, unique=True)
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "code directory"

    def __str__(self) -> str:
        return f"{self.code} → {self.practice_id}"


class BackgroundTask(models.Model):
    """Work that a change causes, written in the same transaction as the change (a transactional outbox).

    Lives in the public schema so one worker query finds every practice's due work. After commit the
    task is handed to the queue at once; if that hand-over is lost (broker down, worker killed), the
    sweep in practices.tasks hands it over again. What the task does is idempotent by the database, so
    running it twice changes nothing the second time.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    schema_name = models.CharField(max_length=63)
    func = models.CharField(max_length=200, help_text="Dotted path of the function, run in the practice's schema.")
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    # At most one unfinished task per key and practice; a key whose task finished may be queued again.
    key = models.CharField(max_length=200, null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Set while it runs when the same key is queued again: the run finishes as PENDING, to run once more.
    run_again = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    # When the sweep may hand it to the queue (again): after a grace period, or the back-off after a failure.
    run_after = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schema_name", "key"], condition=models.Q(key__isnull=False), name="practices_task_key"
            ),
        ]
        indexes = [
            # The sweep's scan: unfinished tasks by when they are due.
            models.Index(
                fields=["run_after"],
                condition=models.Q(status__in=["pending", "running"]),
                name="practices_task_due",
            ),
            models.Index(fields=["status", "finished_at"], name="practices_task_status"),
        ]

    def __str__(self) -> str:
        return f"{self.func} [{self.schema_name}] #{self.pk}"
