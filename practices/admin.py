from django.contrib import admin
from django.db import connection, models
from django_tenants.utils import get_public_schema_name

from .brand_images import LogoField
from .models import BackgroundTask, Domain, Practice, StaffMember, SupportEscalation
from .tasks import retry_failed


class PublicOnlyAdmin(admin.ModelAdmin):
    """Practices and domains are managed from the platform host only."""

    def has_module_permission(self, request) -> bool:
        return connection.schema_name == get_public_schema_name() and super().has_module_permission(request)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Practice)
class PracticeAdmin(PublicOnlyAdmin):
    # The logo is refused from its header when too large in pixels, before anything decodes it, and kept as the
    # square in its centre, as the owner's branding page keeps it.
    formfield_overrides = {models.ImageField: {"form_class": LogoField}}
    list_display = ["name", "slug", "schema_name", "invite_code", "is_active", "created_at"]
    search_fields = ["name", "slug", "invite_code"]
    readonly_fields = ["schema_name", "invite_code", "created_at"]
    inlines = [DomainInline]


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "is_active", "created_at"]
    list_filter = ["role", "is_active"]

    def has_module_permission(self, request) -> bool:
        return connection.schema_name != get_public_schema_name() and super().has_module_permission(request)


@admin.register(SupportEscalation)
class SupportEscalationAdmin(PublicOnlyAdmin):
    """Platform operators work through what practices escalated to support."""

    list_display = ["created_at", "practice", "topic", "patient_label", "status", "raised_by"]
    list_filter = ["status", "topic", "practice"]
    search_fields = ["patient_label", "referral_label", "message", "raised_by", "practice__name"]
    readonly_fields = [
        "practice",
        "topic",
        "patient_id",
        "patient_label",
        "referral_id",
        "referral_label",
        "message",
        "raised_by",
        "created_at",
        "updated_at",
    ]
    fields = [*readonly_fields, "status", "operator_notes", "resolved_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        if obj.status == SupportEscalation.Status.RESOLVED and obj.resolved_at is None:
            from django.utils import timezone

            obj.resolved_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(BackgroundTask)
class BackgroundTaskAdmin(PublicOnlyAdmin):
    """What the worker did, is doing and gave up on: operators retry failed tasks from here."""

    list_display = ["id", "func", "schema_name", "status", "attempts", "created_at", "run_after", "finished_at"]
    list_filter = ["status", "func"]
    search_fields = ["func", "schema_name", "key", "last_error"]
    readonly_fields = [field.name for field in BackgroundTask._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Retry the selected failed tasks")
    def retry(self, request, queryset):
        count = retry_failed(task_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} failed task(s) queued again.")
