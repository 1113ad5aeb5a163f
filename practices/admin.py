from django.contrib import admin
from django.db import connection
from django_tenants.utils import get_public_schema_name

from .models import Domain, Practice, StaffMember


class PublicOnlyAdmin(admin.ModelAdmin):
    """Practices and domains are managed from the platform host only."""

    def has_module_permission(self, request) -> bool:
        return connection.schema_name == get_public_schema_name() and super().has_module_permission(request)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Practice)
class PracticeAdmin(PublicOnlyAdmin):
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
