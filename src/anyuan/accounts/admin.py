from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from anyuan.accounts.models import ApiToken, User
from anyuan.core.admin import ScopedAdmin


@admin.register(User)
class UserAdmin(ScopedAdmin, BaseUserAdmin):
    list_display = ["username", "role", "station", "enterprise", "is_active"]
    list_filter = ["role", "is_active"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("anyuan", {"fields": ["role", "station", "enterprise", "person", "language"]}),
    ]


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedAdmin):
    list_display = ["name", "user", "key_prefix", "created", "last_used", "expires", "revoked"]
    readonly_fields = ["key_prefix", "created", "last_used"]
