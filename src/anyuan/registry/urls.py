from django.urls import path

from anyuan.core import views as generic
from anyuan.registry import views
from anyuan.registry.catalog import FIELDS
from anyuan.registry.importing import BY_MODEL
from anyuan.registry.models import ImportJob, QualificationType

app_name = "registry"

urlpatterns = [
    path(
        "import-jobs/<int:pk>/",
        views.ImportJobView.as_view(model=ImportJob),
        name="importjob-detail",
    ),
    path(
        "import-jobs/<int:pk>/problems.csv",
        views.ImportJobProblemsView.as_view(model=ImportJob),
        name="importjob-problems",
    ),
]
for model in FIELDS:
    name = model._meta.model_name
    if model in BY_MODEL:
        # bulk import and export (before the generic set; none of them takes an id)
        urlpatterns += [
            path(f"{name}/import/", views.ImportView.as_view(model=model), name=f"{name}-import"),
            path(f"{name}/export/", views.ExportView.as_view(model=model), name=f"{name}-export"),
        ]
    editable = model is not QualificationType
    urlpatterns += generic.object_urls(
        name,
        model,
        list_view=views.list_view(model),
        detail_view=generic.ObjectDetailView,
        edit_view=views.edit_view(model) if editable else None,
        delete_view=generic.ObjectDeleteView if editable else None,
        reveal_view=generic.ObjectRevealView,
    )
