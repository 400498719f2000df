"""What every page needs: the menu (the current page marked) and the front-end assets."""

from functools import cache

from django.contrib.staticfiles import finders

from anyuan.core.navigation import menu_for
from anyuan.core.roles import VIEW, user_can

HTMX = "vendor/htmx/htmx.min.js"


@cache
def htmx_available() -> bool:
    """htmx is installed from npm; without it the pages work as plain HTML."""
    return finders.find(HTMX) is not None


def navigation(request):
    from anyuan.events.models import Presence  # core is below the domain apps

    menu = menu_for(getattr(request, "user", None))
    path = getattr(request, "path", "")
    for section in menu:
        for item in section["items"]:
            item["active"] = path.startswith(item["url"])
        section["active"] = any(item["active"] for item in section["items"])
    user = getattr(request, "user", None)
    dashboard = bool(user is not None and user.is_authenticated and user_can(user, Presence, VIEW))
    return {
        "menu": menu,
        "htmx_js": HTMX if htmx_available() else None,
        "may_see_dashboard": dashboard,
    }
