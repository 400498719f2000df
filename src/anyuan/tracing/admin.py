"""Trace runs in the Django admin (platform operators only): read-only, they are records."""

from django.contrib import admin

from anyuan.core.admin import ReadOnlyAdmin
from anyuan.tracing.models import TraceRun


@admin.register(TraceRun)
class TraceRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "created", "user", "station", "enterprise", "hops", "contacts")
    exclude = ("result",)
