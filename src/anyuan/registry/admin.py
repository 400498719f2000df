from django.contrib import admin

from anyuan.core.admin import ScopedAdmin
from anyuan.registry.catalog import COLUMNS, SEARCH

for _model, _columns in COLUMNS.items():
    admin.site.register(
        _model,
        type(
            f"{_model.__name__}Admin",
            (ScopedAdmin,),
            {
                "list_display": [c for c in _columns if c not in ("id_number", "phone")],
                "search_fields": SEARCH.get(_model, ["name"] if hasattr(_model, "name") else []),
            },
        ),
    )
