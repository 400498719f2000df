from django.urls import path

from anyuan.alerts import views
from anyuan.alerts.models import Alert

app_name = "alerts"

urlpatterns = [
    path("", views.AlertListView.as_view(model=Alert), name="alert-list"),
    path("<int:pk>/", views.AlertDetailView.as_view(model=Alert), name="alert-detail"),
]
