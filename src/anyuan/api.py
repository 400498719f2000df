"""The versioned REST API, /api/v1/ (OpenAPI schema at /api/v1/openapi.json, docs at /api/v1/docs)."""

from anyuan.core.api import USER_AUTH, Api, LocalDocs, install_error_handlers

api = Api(
    title="anyuan 安园 API",
    version="1",
    urls_namespace="api-v1",
    auth=USER_AUTH,
    docs=LocalDocs(),
    description="Park registry, events and co-governance. Session auth for people, bearer tokens for integrations.",
)
install_error_handlers(api)

from anyuan.accounts.api import router as accounts_router  # noqa: E402
from anyuan.alerts.api import router as alerts_router  # noqa: E402
from anyuan.core.audit_api import router as audit_router  # noqa: E402
from anyuan.dashboard.api import router as dashboard_router  # noqa: E402
from anyuan.disputes.api import router as disputes_router  # noqa: E402
from anyuan.events.api import router as events_router  # noqa: E402
from anyuan.incidents.api import router as incidents_router  # noqa: E402
from anyuan.registry.api import router as registry_router  # noqa: E402
from anyuan.registry.api_io import router as registry_io_router  # noqa: E402
from anyuan.tracing.api import router as tracing_router  # noqa: E402

api.add_router("/registry", registry_router)
api.add_router("/registry", registry_io_router)
api.add_router("/accounts", accounts_router)
api.add_router("/audit", audit_router)
api.add_router("/events", events_router)
api.add_router("/alerts", alerts_router)
api.add_router("/dashboard", dashboard_router)
api.add_router("/disputes", disputes_router)
api.add_router("/incidents", incidents_router)
api.add_router("/tracing", tracing_router)
