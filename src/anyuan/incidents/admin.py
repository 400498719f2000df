"""Police incidents in the Django admin (platform operators only): read-only; the police
add, change and import incidents through the pages and the API, where every change is
audited (:mod:`anyuan.incidents.actions`, :mod:`anyuan.incidents.importing`)."""

from django.contrib import admin

from anyuan.core.admin import ReadOnlyAdmin
from anyuan.incidents.models import Incident


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "number", "category", "enterprise", "grid", "solved", "station"]
    list_filter = ["category", "solved"]
    search_fields = ["number", "place"]
    raw_id_fields = ["station", "enterprise", "grid"]
    date_hierarchy = "occurred_at"
