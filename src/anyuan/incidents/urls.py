from django.urls import path

from anyuan.incidents import views
from anyuan.incidents.models import Incident

app_name = "incidents"

urlpatterns = [
    path("", views.IncidentListView.as_view(model=Incident), name="incident-list"),
    path("<int:pk>/", views.IncidentDetailView.as_view(model=Incident), name="incident-detail"),
    path("add/", views.IncidentEditView.as_view(model=Incident), name="incident-add"),
    path("<int:pk>/edit/", views.IncidentEditView.as_view(model=Incident), name="incident-edit"),
    path("import/", views.ImportView.as_view(), name="import"),
    path("stats/", views.StatsView.as_view(), name="stats"),
]
