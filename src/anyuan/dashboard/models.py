"""Rollups for the dashboard: counts kept as the events arrive, so the dashboard never
counts the raw passage log on a request (a district logs about 170,000 passages a day).

``PassageHour`` — passages per zone, local hour (``settings.TIME_ZONE``) and direction.
The processor adds each batch's passages in the batch's transaction
(:func:`anyuan.dashboard.rollups.add_passages`); :func:`~anyuan.dashboard.rollups.rebuild`
recomputes them from the log. The zone is the passage's own zone (the device's: a park
gate, a workshop door), not the staying zone the processor assigns presences to.

Scoped like the passages: the station of the zone's park and the enterprise that owns the
zone; counts at park-shared zones (the park gates) are the police's only.

Alerts by type per day are counted from ``alerts.Alert`` directly (see docs/dashboard.md).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from anyuan.core.scoping import ScopedQuerySet
from anyuan.events.models import EVENT_SCOPE, Direction
from anyuan.registry.models import Zone


class PassageHour(models.Model):
    """The number of passages at a zone in one local hour, one direction."""

    id = models.BigAutoField(primary_key=True)
    zone = models.ForeignKey(
        Zone, verbose_name=_("zone"), on_delete=models.CASCADE, related_name="passage_hours"
    )
    hour = models.DateTimeField(
        _("hour"), help_text=_("The start of the hour, in the platform's time zone.")
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    count = models.PositiveIntegerField(_("passages"), default=0)

    objects = ScopedQuerySet.as_manager()
    scope = EVENT_SCOPE

    class Meta:
        verbose_name = _("passages per hour")
        verbose_name_plural = _("passages per hour")
        ordering = ["-hour", "zone", "direction"]
        constraints = [
            models.UniqueConstraint(
                fields=["zone", "hour", "direction"], name="passagehour_unique_zone_hour"
            )
        ]
        indexes = [models.Index(fields=["hour"], name="passagehour_hour")]

    def __str__(self):
        return f"{self.zone_id} · {self.hour:%Y-%m-%d %H:00} · {self.direction} · {self.count}"
