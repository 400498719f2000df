"""Alerts in the Django admin (platform operators only): read-only; people handle alerts
through the pages and the API, where every step is audited."""

from django.contrib import admin

from anyuan.alerts.models import Alert, AlertNote
from anyuan.core.admin import ReadOnlyAdmin


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["last_seen", "severity", "type", "title", "state", "repeat_count", "station"]
    list_filter = ["state", "severity", "type"]
    search_fields = ["title", "source_key", "credential"]
    raw_id_fields = ["station", "enterprise", "zone", "device", "person", "vehicle"]


@admin.register(AlertNote)
class AlertNoteAdmin(ReadOnlyAdmin):
    list_display = ["at", "alert", "author_name"]
    raw_id_fields = ["alert", "author"]
