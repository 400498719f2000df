from django.contrib import admin
from django.urls import include, path, register_converter

from anyuan.api import api
from anyuan.core import views as core_views
from anyuan.core.api import not_found as api_not_found
from anyuan.dashboard.views import LandingView


class AnyPath:
    """Any rest of a path, line breaks included (``<path:…>`` stops at one)."""

    regex = r"[\s\S]*"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(AnyPath, "anypath")

admin.site.site_header = admin.site.site_title = "anyuan 安园"

urlpatterns = [
    path("", LandingView.as_view(), name="landing"),
    path("overview/", core_views.HomeView.as_view(), name="home"),
    path("dashboard/", include("anyuan.dashboard.urls")),
    path("accounts/", include("anyuan.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("registry/", include("anyuan.registry.urls")),
    path("events/", include("anyuan.events.urls")),
    path("tracing/", include("anyuan.tracing.urls")),
    path("alerts/", include("anyuan.alerts.urls")),
    path("disputes/", include("anyuan.disputes.urls")),
    path("incidents/", include("anyuan.incidents.urls")),
    path("audit/", include("anyuan.core.urls")),
    path("api/v1/", api.urls),
    path("api/<anypath:rest>", api_not_found, name="api-not-found"),
    path("admin/", admin.site.urls),
]
