"""The event log in the Django admin (platform operators only): read-only."""

from django.contrib import admin

from anyuan.core.admin import ReadOnlyAdmin
from anyuan.events.models import DeviceAlarm, DeviceLink, Passage, Quarantine


@admin.register(Passage)
class PassageAdmin(ReadOnlyAdmin):
    list_display = ["event_time", "device", "direction", "method", "credential", "received_time"]
    list_filter = ["direction", "method"]
    search_fields = ["credential", "device_event_id", "device__serial"]
    raw_id_fields = ["device", "zone"]
    show_full_result_count = False


@admin.register(DeviceAlarm)
class DeviceAlarmAdmin(ReadOnlyAdmin):
    list_display = ["event_time", "device", "kind", "state", "received_time"]
    list_filter = ["kind", "state"]
    search_fields = ["device_event_id", "device__serial"]
    raw_id_fields = ["device", "zone"]


@admin.register(DeviceLink)
class DeviceLinkAdmin(ReadOnlyAdmin):
    list_display = ["device", "last_seen", "last_heartbeat", "clock_offset_s", "clock_skew"]
    list_filter = ["clock_skew"]
    search_fields = ["device__serial", "device__name"]


@admin.register(Quarantine)
class QuarantineAdmin(ReadOnlyAdmin):
    """Replay and dismiss are the police's steps (``/events/quarantine/``, audited)."""

    list_display = ["created", "processor", "passage", "alarm", "reason", "state", "attempts"]
    list_filter = ["reason", "state", "processor"]
    raw_id_fields = ["passage", "alarm", "zone"]
