"""Trace runs: who traced whom, over which window, with which rules, why, and what came
out. A run is written once by :func:`anyuan.tracing.actions.run_trace` (one transaction,
one audit record with the reason) and never changed: it is the record of a look at many
people's whereabouts, and the report and the XLSX export are drawn from it.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from anyuan.core.scoping import Scope, ScopedQuerySet
from anyuan.tracing.engine import CONTACT_KINDS, TRANSIT_KINDS, contact_kind  # noqa: F401


class Rule(models.TextChoices):
    SINGLE = "single", _("One stay together of at least N minutes in one zone")
    CUMULATIVE = "cumulative", _("At least N minutes together within 24 hours")


class TraceRun(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("run by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    station = models.ForeignKey(
        "registry.Station",
        verbose_name=_("station"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Set when an enterprise user traced within the enterprise's own zones."),
    )
    created = models.DateTimeField(_("run at"), auto_now_add=True, db_index=True)
    reason = models.TextField(_("reason"))
    index_people = models.ManyToManyField(
        "registry.Person", verbose_name=_("index people"), blank=True, related_name="+"
    )
    index_vehicle = models.ForeignKey(
        "registry.Vehicle",
        verbose_name=_("index vehicle"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    window_start = models.DateTimeField(_("from"))
    window_end = models.DateTimeField(_("to"))
    minutes = models.PositiveIntegerField(_("minimum contact (minutes)"))
    rule = models.CharField(_("rule"), max_length=12, choices=Rule.choices, default=Rule.SINGLE)
    hops = models.PositiveSmallIntegerField(_("hops"))
    contacts = models.PositiveIntegerField(_("close contacts"), default=0)
    secondary = models.PositiveIntegerField(_("secondary contacts"), default=0)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    result = models.JSONField(_("result"), default=dict, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope = Scope(station="station", enterprise="enterprise")

    class Meta:
        verbose_name = _("trace")
        verbose_name_plural = _("traces")
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"#{self.pk} {self.created:%Y-%m-%d %H:%M}" if self.created else f"#{self.pk}"

    def get_absolute_url(self):
        return reverse("tracing:run", args=[self.pk])
