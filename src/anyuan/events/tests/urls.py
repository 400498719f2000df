"""The project's URLs, plus the event endpoints and pages if the project does not mount
them yet, so these tests run before and after the wiring."""

from django.urls import NoReverseMatch, include, path, reverse
from ninja import NinjaAPI

from anyuan.api import api
from anyuan.core.api import USER_AUTH, install_error_handlers
from anyuan.events.api import router
from anyuan.urls import urlpatterns as project

urlpatterns = list(project)

if not any(registration[1] is router for registration in api._router_registrations):
    test_api = NinjaAPI(
        title="events (tests)",
        urls_namespace="events-test-api",
        auth=USER_AUTH,
        docs_url=None,
        openapi_url=None,
    )
    install_error_handlers(test_api)
    test_api.add_router("/events", router)
    urlpatterns.insert(0, path("api/v1/", test_api.urls))

try:
    reverse("events:passage-list", urlconf="anyuan.urls")
except NoReverseMatch:
    urlpatterns.append(path("events/", include("anyuan.events.urls")))
