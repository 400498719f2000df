"""Police incidents (警情): what the station's call and case system recorded — category,
time, place, enterprise and grid, solved or not — imported from its CSV/XLSX exports and
counted year on year (:mod:`anyuan.incidents.stats`)."""

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from anyuan.core.scoping import Scope, ScopedQuerySet


class Category(models.TextChoices):
    THEFT = "theft", _("Theft")
    FRAUD = "fraud", _("Fraud")
    DISPUTE = "dispute", _("Dispute")
    FIGHT = "fight", _("Fight")
    TRAFFIC = "traffic", _("Traffic")
    FIRE = "fire", _("Fire")
    OTHER = "other", _("Other")


class Incident(models.Model):
    station = models.ForeignKey(
        "registry.Station", verbose_name=_("station"), on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField(_("incident number"), max_length=40)
    category = models.CharField(_("category"), max_length=10, choices=Category.choices)
    occurred_at = models.DateTimeField(_("time"), db_index=True)
    place = models.CharField(_("place"), max_length=200, blank=True)
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
    )
    grid = models.ForeignKey(
        "registry.PoliceGrid",
        verbose_name=_("police grid"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty: the enterprise's grid."),
    )
    solved = models.BooleanField(_("solved"), default=False)
    summary = models.TextField(_("summary"), blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope = Scope(station="station", enterprise="enterprise")

    class Meta:
        verbose_name = _("police incident")
        verbose_name_plural = _("police incidents")
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["station", "number"], name="incident_unique_number")
        ]
        indexes = [models.Index(fields=["station", "category", "occurred_at"])]

    def __str__(self):
        return f"{self.number} {self.get_category_display()}"

    def get_absolute_url(self):
        return reverse("incidents:incident-detail", args=[self.pk])

    def clean(self):
        errors = {}
        if self.enterprise_id and self.enterprise.station_id != self.station_id:
            errors["enterprise"] = _("The enterprise is not in this station's jurisdiction.")
        if self.grid_id and self.grid.station_id != self.station_id:
            errors["grid"] = _("Not in this station's jurisdiction.")
        if errors:
            raise ValidationError(errors)
        if self.enterprise_id and not self.grid_id:
            self.grid_id = self.enterprise.grid_id
