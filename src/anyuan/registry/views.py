"""Pages of the park registry: list, detail, add/edit, delete and reveal for every kind."""

from anyuan.core import views as generic
from anyuan.registry.catalog import COLUMNS, DIGEST_SEARCH, FIELDS, LIST_FILTERS, SEARCH


def list_view(model):
    return type(
        f"{model.__name__}ListView",
        (generic.ObjectListView,),
        {
            "model": model,
            "columns": COLUMNS[model],
            "search_fields": SEARCH.get(model, ["name"] if hasattr(model, "name") else []),
            "search_digests": DIGEST_SEARCH.get(model, []),
            "filters": LIST_FILTERS.get(model, []),
        },
    )


def edit_view(model):
    return type(
        f"{model.__name__}EditView",
        (generic.ObjectEditView,),
        {"model": model, "fields": FIELDS[model]},
    )
