"""Trace runs in the Django admin (platform operators only): read-only, they are records."""

from django.contrib import admin

from anyuan.core.admin import ScopedAdmin
from anyuan.tracing.models import TraceRun


@admin.register(TraceRun)
class TraceRunAdmin(ScopedAdmin):
    list_display = ("id", "created", "user", "station", "enterprise", "hops", "contacts")
    exclude = ("result",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
