from django.urls import path

from anyuan.alerts import views
from anyuan.alerts.models import Alert, Rule
from anyuan.core import views as generic

app_name = "alerts"

urlpatterns = [
    path("", views.AlertListView.as_view(model=Alert), name="alert-list"),
    path("<int:pk>/", views.AlertDetailView.as_view(model=Alert), name="alert-detail"),
    *generic.object_urls(
        "rules",
        Rule,
        list_view=views.RuleListView,
        detail_view=views.RuleDetailView,
        edit_view=views.RuleEditView,
        delete_view=generic.ObjectDeleteView,
    ),
]
