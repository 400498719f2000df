"""The dashboard's module tiles: each app that has something to show adds its own.

An app adds tiles by having a ``tiles.py`` module with a function ``tiles(user, place)``
that returns a list of :class:`Tile` — only what the user may see (read through
``restrict()``), narrowed by the police's ``place`` filter (:class:`~anyuan.dashboard.api.
Place`; ``place.q("enterprise")`` on a model whose enterprise is at ``enterprise``). The
dashboard finds these modules among the installed apps (:func:`collect`), in the order of
``INSTALLED_APPS``; a module with nothing for the user returns ``[]``. A tile is a figure,
not a report: one number (with a few words of detail) and the page that explains it.
"""

from dataclasses import asdict, dataclass, field
from importlib import import_module

from django.apps import apps


@dataclass
class Tile:
    key: str  # stable name, e.g. "disputes.open"; the page's element id
    title: str  # translated
    value: int | float | str
    unit: str = ""  # translated, e.g. "件"
    detail: str = ""  # one line under the figure, translated
    url: str = ""  # the page behind the figure ("" — none the user may open)
    level: str = "normal"  # normal | warning | danger: colours the figure
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def providers():
    """The ``tiles(user, place)`` functions of the installed apps, in their order."""
    found = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.tiles")
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.tiles":
                raise
            continue
        function = getattr(module, "tiles", None)
        if callable(function) and module.__name__ != __name__:
            found.append(function)
    return found


def collect(user, place) -> list[dict]:
    """Every tile the user gets, as dicts for the JSON endpoint and the page."""
    return [tile.as_dict() for provider in providers() for tile in provider(user, place)]
