"""The outbox of live push: one row per notification, written in the transaction of the
change it reports, read by every web process's poller (:mod:`anyuan.live.stream`)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from anyuan.core.scoping import Scope, ScopedQuerySet


class LiveMessage(models.Model):
    """A notification for the browsers: who may see it follows station and enterprise
    (no enterprise: the police only). Derived data, pruned after an hour or so."""

    id = models.BigAutoField(primary_key=True)
    created = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    topic = models.CharField(_("topic"), max_length=32)
    station = models.ForeignKey(
        "registry.Station", verbose_name=_("station"), on_delete=models.CASCADE, related_name="+"
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    payload = models.JSONField(_("payload"), default=dict)

    objects = ScopedQuerySet.as_manager()
    scope = Scope(station="station", enterprise="enterprise")

    class Meta:
        verbose_name = _("live message")
        verbose_name_plural = _("live messages")

    def __str__(self):
        return f"{self.topic} #{self.pk}"
