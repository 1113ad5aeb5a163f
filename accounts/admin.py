from django.contrib import admin

from .models import User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "phone", "first_name", "last_name", "is_active", "date_joined"]
    search_fields = ["email", "phone", "first_name", "last_name"]
    exclude = ["password"]
