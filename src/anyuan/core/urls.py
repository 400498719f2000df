from anyuan.core import views as generic
from anyuan.core.models import AuditEntry

app_name = "core"


class AuditListView(generic.ObjectListView):
    model = AuditEntry
    url_namespace = "core"
    columns = ["at", "actor_name", "action", "object_type", "object_repr", "reason"]
    search_fields = ["actor_name", "object_repr", "reason"]
    filters = ["action", "object_type", "object_id", "actor"]


class AuditDetailView(generic.ObjectDetailView):
    url_namespace = "core"


urlpatterns = generic.object_urls(
    "log", AuditEntry, list_view=AuditListView, detail_view=AuditDetailView
)
