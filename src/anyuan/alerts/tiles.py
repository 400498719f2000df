"""The alerts' dashboard tile: alerts handled today and escalations still open."""

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.alerts.models import Alert
from anyuan.core.roles import VIEW, user_can
from anyuan.dashboard.tiles import Tile


def tiles(user, place) -> list[Tile]:
    if not user_can(user, Alert, VIEW):
        return []
    tz = timezone.get_current_timezone()
    midnight = timezone.now().astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    alerts = Alert.objects.restrict(user, VIEW).filter(place.q("enterprise"))
    counts = alerts.aggregate(
        escalated=Count("pk", filter=Q(state__in=Alert.OPEN_STATES, escalation_level__gt=0)),
        closed_today=Count("pk", filter=Q(resolved_at__gte=midnight)),
    )
    url = reverse("alerts:alert-list")
    return [
        Tile(
            key="alerts.escalated",
            title=_("Escalated alerts"),
            value=counts["escalated"],
            detail=_("not acknowledged in time, still open"),
            url=url,
            level="danger" if counts["escalated"] else "normal",
        ),
        Tile(
            key="alerts.closed_today",
            title=_("Alerts closed today"),
            value=counts["closed_today"],
            detail=_("resolved, false alarms and cleared"),
            url=url,
        ),
    ]
