from anyuan.core import views as generic
from anyuan.events import views
from anyuan.events.models import DeviceAlarm, Passage

app_name = "events"

urlpatterns = [
    *generic.object_urls(
        "passages", Passage, list_view=views.PassageListView, detail_view=views.EventDetailView
    ),
    *generic.object_urls(
        "alarms",
        DeviceAlarm,
        list_view=views.DeviceAlarmListView,
        detail_view=views.EventDetailView,
    ),
]
