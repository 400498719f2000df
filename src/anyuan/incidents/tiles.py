"""Dashboard tile of the police incidents: this month so far against the same days of the
same month a year before (同比)."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from anyuan.core.roles import VIEW, user_can
from anyuan.dashboard.tiles import Tile
from anyuan.incidents.models import Incident
from anyuan.incidents.stats import change, fmt_change


def month_to_date(now: dt.datetime) -> tuple[tuple, tuple]:
    """([start, end) of this month up to ``now``, the same span a year before)."""
    local = timezone.localtime(now)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    try:
        then = local.replace(year=local.year - 1)
    except ValueError:  # 29 February
        then = local.replace(year=local.year - 1, day=28)
    return (start, local), (start.replace(year=local.year - 1), then)


def tiles(user, place, now=None) -> list[Tile]:
    if not user_can(user, Incident, VIEW):
        return []
    qs = Incident.objects.restrict(user, VIEW).filter(place.q("enterprise"))
    (a, b), (c, d) = month_to_date(now or timezone.now())
    this = qs.filter(occurred_at__gte=a, occurred_at__lt=b).count()
    before = qs.filter(occurred_at__gte=c, occurred_at__lt=d).count()
    yoy = change(this, before)
    return [
        Tile(
            key="incidents.month",
            title=_("Incidents this month"),
            value=this,
            unit=pgettext("unit of incidents", "incidents"),
            detail=_("same days last year: %(n)s (%(change)s)")
            % {"n": before, "change": fmt_change(yoy)},
            url=reverse("incidents:stats"),
            level="warning" if yoy is not None and yoy > 0 else "normal",
            extra={"year_before": before, "yoy": yoy},
        )
    ]
