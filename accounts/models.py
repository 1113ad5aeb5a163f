from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str | None = None, password: str | None = None, **fields):
        email = self.normalize_email(email) if email else None
        user = self.model(email=email, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in to one practice: a staff member (email) or a patient (phone).

    Users live in the practice's schema, so the same email or phone at two practices is
    two separate accounts. In the public schema, users are the platform's operators.
    """

    email = models.EmailField(blank=True, null=True)
    phone = models.CharField(max_length=20, blank=True, null=True, help_text="E.164, e.g. +15551234567")
    phone_verified = models.BooleanField(default=False, help_text="The holder entered a code sent to this phone.")
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can use the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(
                models.functions.Lower("email"),
                condition=Q(email__isnull=False),
                name="accounts_user_email_unique",
            ),
            models.UniqueConstraint(
                fields=["phone"], condition=Q(phone__isnull=False), name="accounts_user_phone_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email or self.phone or f"User {self.pk}"

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email or ""


class AuditEvent(models.Model):
    """One entry of the audit trail: who changed what, when, and the values before and after.

    Every staff write in a practice records one (settings, catalog, rewards, staff, API keys, patient edits,
    two-factor changes ...), always through `practices.audit.record()` and in the same transaction as the
    change it describes, so there is never a change without its entry. Lives wherever the accounts do (a
    practice's schema for its staff, the public schema for platform operators' two-factor). Rows are only
    ever added.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Who made the change, in words: kept when the account is deleted, and the only record for a command.
    actor_label = models.CharField(max_length=200, blank=True)
    # "<kind of object>.<what happened>", e.g. "reward.updated", "api_key.revoked", "two_factor.reset".
    action = models.CharField(max_length=80)
    # The object changed: "<app_label>.<model_name>" and its primary key, and what it was called at the time
    # (kept when the object is deleted). Empty for a change that concerns no one object.
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    # Only the fields that changed: {"points_cost": 500} before and {"points_cost": 450} after.
    before = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="accounts_audit_target"),
            models.Index(fields=["action"], name="accounts_audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} ({self.created_at:%Y-%m-%d %H:%M})"
