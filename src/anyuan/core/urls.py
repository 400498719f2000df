from anyuan.core import views
from anyuan.core.models import AuditEntry

app_name = "core"

urlpatterns = views.object_urls(
    "log", AuditEntry, list_view=views.AuditListView, detail_view=views.AuditDetailView
)
