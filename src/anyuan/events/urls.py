from django.urls import path

from anyuan.core import views as generic
from anyuan.events import views
from anyuan.events.models import DeviceAlarm, Passage
from anyuan.registry.models import Person, Vehicle, Zone

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
    # who is inside now (occupancy, muster lists) and where someone has been
    path("occupancy/", views.OccupancyView.as_view(), name="occupancy"),
    path("muster/<int:pk>/", views.MusterView.as_view(model=Zone), name="muster"),
    path("muster/<int:pk>/csv/", views.MusterCsvView.as_view(model=Zone), name="muster-csv"),
    path(
        "muster/<int:pk>/xlsx/",
        views.MusterCsvView.as_view(model=Zone, fmt="xlsx"),
        name="muster-xlsx",
    ),
    path("devices/", views.DeviceStatusView.as_view(), name="device-status"),
    # events the processor could not place: replay or dismiss (police only)
    path("quarantine/", views.QuarantineView.as_view(), name="quarantine"),
    path("quarantine/<int:pk>/", views.QuarantineStepView.as_view(), name="quarantine-step"),
    path("trajectory/", views.TrajectorySearchView.as_view(), name="trajectory"),
    path(
        "trajectory/person/<int:pk>/",
        views.TrajectoryView.as_view(model=Person, kind="person"),
        name="trajectory-person",
    ),
    path(
        "trajectory/vehicle/<int:pk>/",
        views.TrajectoryView.as_view(model=Vehicle, kind="vehicle"),
        name="trajectory-vehicle",
    ),
]
