from anyuan.core import views as generic
from anyuan.registry import views
from anyuan.registry.catalog import FIELDS
from anyuan.registry.models import QualificationType

app_name = "registry"

urlpatterns = []
for model in FIELDS:
    editable = model is not QualificationType
    urlpatterns += generic.object_urls(
        model._meta.model_name,
        model,
        list_view=views.list_view(model),
        detail_view=generic.ObjectDetailView,
        edit_view=views.edit_view(model) if editable else None,
        delete_view=generic.ObjectDeleteView if editable else None,
        reveal_view=generic.ObjectRevealView,
    )
