"""Pages of the event log: passages and device alarms, newest event time first.

The log is read-only for everyone: rows come only from devices (see ``actions.py``).
"""

from anyuan.core import views as generic


class PassageListView(generic.ObjectListView):
    url_namespace = "events"
    columns = ["event_time", "device", "zone", "direction", "method", "credential", "received_time"]
    search_fields = ["credential", "device_event_id"]
    filters = ["device", "zone", "direction", "method"]


class DeviceAlarmListView(generic.ObjectListView):
    url_namespace = "events"
    columns = ["event_time", "device", "zone", "kind", "state", "received_time"]
    search_fields = ["device_event_id"]
    filters = ["device", "zone", "kind", "state"]


class EventDetailView(generic.ObjectDetailView):
    url_namespace = "events"
