"""The registry's dashboard tiles: enterprises and their risk (police), people, watchlist."""

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from anyuan.core.roles import VIEW, user_can
from anyuan.dashboard.tiles import Tile
from anyuan.registry.models import Enterprise, Person, WatchlistEntry

RISKY = ("high", "major")


def tiles(user, place) -> list[Tile]:
    found = []
    if user_can(user, Enterprise, VIEW):
        firms = Enterprise.objects.restrict(user, VIEW)
        if place.grid is not None:
            firms = firms.filter(grid_id=place.grid)
        if place.enterprise is not None:
            firms = firms.filter(pk=place.enterprise)
        counts = firms.aggregate(n=Count("pk"), risky=Count("pk", filter=Q(risk_level__in=RISKY)))
        if user.enterprise_id is None:  # the police's figure; an enterprise is one firm
            found.append(
                Tile(
                    key="registry.enterprises",
                    title=_("Enterprises"),
                    value=counts["n"],
                    detail=_("%(n)s rated high or major risk") % {"n": counts["risky"]},
                    url=reverse("registry:enterprise-list"),
                    level="warning" if counts["risky"] else "normal",
                )
            )
    if user_can(user, Person, VIEW):
        people = Person.objects.restrict(user, VIEW).filter(place.q("enterprise"))
        counts = people.aggregate(n=Count("pk"), temporary=Count("pk", filter=Q(kind="temporary")))
        found.append(
            Tile(
                key="registry.people",
                title=_("People registered"),
                value=counts["n"],
                detail=_("%(n)s temporary workers") % {"n": counts["temporary"]},
                url=reverse("registry:person-list"),
            )
        )
    if user_can(user, WatchlistEntry, VIEW):
        active = WatchlistEntry.objects.restrict(user, VIEW).filter(active=True)
        if place.enterprise is not None or place.grid is not None:
            active = active.filter(place.q("enterprise"))
        found.append(
            Tile(
                key="registry.watchlist",
                title=_("Watchlist"),
                value=active.count(),
                detail=_("active entries"),
                url=reverse("registry:watchlistentry-list") + "?active=1",
            )
        )
    return found
