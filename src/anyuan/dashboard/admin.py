"""The dashboard's rollups in the Django admin (platform operators only): read-only, they
are derived from the event log (``anyuan rollups rebuild`` recomputes them)."""

from django.contrib import admin

from anyuan.core.admin import ReadOnlyAdmin
from anyuan.dashboard.models import PassageHour


@admin.register(PassageHour)
class PassageHourAdmin(ReadOnlyAdmin):
    list_display = ["hour", "zone", "direction", "count"]
    list_filter = ["direction"]
    raw_id_fields = ["zone"]
    date_hierarchy = "hour"
    show_full_result_count = False
