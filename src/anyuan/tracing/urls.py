from django.urls import path

from anyuan.tracing import views
from anyuan.tracing.models import TraceRun

app_name = "tracing"

urlpatterns = [
    path("", views.TraceIndexView.as_view(), name="index"),
    path("runs/<int:pk>/", views.TraceRunView.as_view(model=TraceRun), name="run"),
    path("runs/<int:pk>/report/", views.TraceReportView.as_view(model=TraceRun), name="report"),
    path("runs/<int:pk>/xlsx/", views.TraceXlsxView.as_view(model=TraceRun), name="xlsx"),
]
