"""Alerts: something in a park needs a person's attention, and its handling.

An alert is raised by the platform (the rules on the event stream, ``actions.raise_alert``)
and walked through its lifecycle by people: new → acknowledged → dispatched → resolved or
false alarm. There is at most one *open* alert per (source, type); a repeat of the same
condition bumps its counter instead of opening another.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from anyuan.core.personal import Disclosure
from anyuan.core.scoping import Scope, ScopedQuerySet


class Alert(models.Model):
    class Type(models.TextChoices):
        STRANGER = "stranger", _("Stranger")
        UNAUTHORISED_ZONE = "unauthorised_zone", _("Unauthorised zone")
        WATCHLIST_HIT = "watchlist_hit", _("Watchlist hit")
        VEHICLE_OVERSTAY = "vehicle_overstay", _("Vehicle overstay")
        AFTER_HOURS = "after_hours", _("After hours")
        ANTIPASSBACK = "antipassback", _("Anti-passback")
        QUALIFICATION_MISSING = "qualification_missing", _("Qualification missing")
        QUALIFICATION_EXPIRED = "qualification_expired", _("Qualification expired")
        OBJECT_MISSING = "object_missing", _("Object missing")
        INTRUSION = "intrusion", _("Intrusion")
        TAMPER = "tamper", _("Tamper")
        DEVICE_SILENT = "device_silent", _("Device silent")
        OVER_CAPACITY = "over_capacity", _("Over capacity")
        # several disputes of one kind in one enterprise in a short time (anyuan.disputes)
        GROUP_INCIDENT = "group_incident", _("Group incident warning")

    class Severity(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")
        CRITICAL = "critical", _("Critical")

    class State(models.TextChoices):
        NEW = "new", _("New")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        DISPATCHED = "dispatched", _("Dispatched")
        RESOLVED = "resolved", _("Resolved")
        FALSE_ALARM = "false_alarm", _("False alarm")

    OPEN_STATES = (State.NEW, State.ACKNOWLEDGED, State.DISPATCHED)
    SEVERITY_ORDER = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)

    station = models.ForeignKey(
        "registry.Station",
        verbose_name=_("station"),
        on_delete=models.PROTECT,
        related_name="alerts",
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alerts",
        help_text=_("Empty: a park-level alert, handled by the police."),
    )
    zone = models.ForeignKey(
        "registry.Zone",
        verbose_name=_("zone"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    device = models.ForeignKey(
        "registry.Device",
        verbose_name=_("device"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    type = models.CharField(_("type"), max_length=32, choices=Type.choices)
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.MEDIUM
    )
    source_key = models.CharField(
        _("source"),
        max_length=200,
        help_text=_('What raised it, e.g. "person:123", "device:SN" or "zone:5".'),
    )
    person = models.ForeignKey(
        "registry.Person",
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    vehicle = models.ForeignKey(
        "registry.Vehicle",
        verbose_name=_("vehicle"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    credential = models.CharField(_("credential"), max_length=100, blank=True)
    title = models.CharField(_("title"), max_length=200)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.NEW, db_index=True
    )
    first_seen = models.DateTimeField(_("first occurred"), default=timezone.now)
    last_seen = models.DateTimeField(_("last occurred"), default=timezone.now, db_index=True)
    repeat_count = models.PositiveIntegerField(_("times seen"), default=1)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    dispatched_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("dispatched to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The guard or officer sent to deal with it (a user of the platform)."),
    )
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    cleared_at = models.DateTimeField(
        _("condition ended"),
        null=True,
        blank=True,
        help_text=_(
            "When the platform saw the condition end (the vehicle left, the device was "
            "heard again) and closed the alert by itself."
        ),
    )

    objects = ScopedQuerySet.as_manager()
    scope = Scope(station="station", enterprise="enterprise")
    disclosure = Disclosure(safe={"source_key": "the device, zone or rule that raised it"})

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-last_seen", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_key", "type"],
                condition=Q(state__in=["new", "acknowledged", "dispatched"]),
                name="alert_one_open_per_source_type",
            )
        ]
        indexes = [models.Index(fields=["station", "state", "-last_seen"], name="alert_queue")]

    def __str__(self):
        return self.title or f"{self.get_type_display()} · {self.source_key}"

    def get_absolute_url(self):
        return reverse("alerts:alert-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class AlertNote(models.Model):
    alert = models.ForeignKey(
        Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_name = models.CharField(_("author name"), max_length=150, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now)
    text = models.TextField(_("text"))

    objects = ScopedQuerySet.as_manager()
    scope = Scope(station="alert__station", enterprise="alert__enterprise")

    class Meta:
        verbose_name = _("alert note")
        verbose_name_plural = _("alert notes")
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.author_name} · {self.at:%Y-%m-%d %H:%M}"


class Rule(models.Model):
    """One alert rule's settings for a place: on or off, severity, thresholds, schedule.

    A rule applies to a zone (and the zones below it), an enterprise's zones, a park, or —
    with none of the three — the whole station. The most specific row wins (zone, nearest
    first, then enterprise, park, station); with no row the defaults of
    ``anyuan.alerts.rules.DEFAULTS`` apply (see docs/alerts.md, "Rules").
    """

    station = models.ForeignKey(
        "registry.Station",
        verbose_name=_("station"),
        on_delete=models.CASCADE,
        related_name="alert_rules",
    )
    type = models.CharField(_("type"), max_length=32, choices=Alert.Type.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    severity = models.CharField(
        _("severity"),
        max_length=10,
        choices=Alert.Severity.choices,
        blank=True,
        help_text=_("Empty: the rule's default severity."),
    )
    park = models.ForeignKey(
        "registry.Park",
        verbose_name=_("park"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
    )
    zone = models.ForeignKey(
        "registry.Zone",
        verbose_name=_("zone"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
    )
    thresholds = models.JSONField(
        _("thresholds"),
        default=dict,
        blank=True,
        help_text=_('E.g. {"factor": 1.2} for over capacity, {"minutes": 240} for overstay.'),
    )
    weekdays = models.CharField(
        _("weekdays"),
        max_length=7,
        blank=True,
        help_text=_("Schedule: ISO weekdays, 1 = Monday … 7 = Sunday. Empty: the default."),
    )
    time_from = models.TimeField(_("from"), null=True, blank=True)
    time_until = models.TimeField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope = Scope(station="station", enterprise="enterprise")

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["station", "type", "pk"]

    def __str__(self):
        place = self.zone or self.enterprise or self.park or self.station
        return f"{self.get_type_display()} · {place}"

    def clean(self):
        errors = {}
        if self.weekdays and any(c not in "1234567" for c in self.weekdays):
            errors["weekdays"] = _("Use the digits 1 (Monday) to 7 (Sunday).")
        if (self.time_from is None) != (self.time_until is None):
            errors["time_until"] = _("Give both times of the window, or neither.")
        station = self.station_id
        for name, owner in (
            ("park", lambda o: o.station_id),
            ("enterprise", lambda o: o.station_id),
            ("zone", lambda o: o.park.station_id),
        ):
            place = getattr(self, name) if getattr(self, f"{name}_id") else None
            if place is not None and owner(place) != station:
                errors[name] = _("Not in this station's jurisdiction.")
        if not errors:
            errors.update(self._place_errors())
        if not isinstance(self.thresholds, dict):
            errors["thresholds"] = _("Thresholds are a JSON object.")
        else:
            problems = self.threshold_errors()
            if problems:
                errors["thresholds"] = problems
        if errors:
            raise ValidationError(errors)

    def _place_errors(self) -> dict:
        """The places of a row must nest: the row is found by its zone first, then its
        enterprise, then its park (``rules.RuleBook``), so an enterprise's row may not name
        a zone or park that is not the enterprise's."""
        errors = {}
        if self.enterprise_id and self.zone_id and self.zone.enterprise_id != self.enterprise_id:
            errors["zone"] = _("The zone does not belong to this enterprise.")
        elif self.zone_id and self.park_id and self.zone.park_id != self.park_id:
            errors["zone"] = _("The zone is in another park.")
        if self.enterprise_id and self.park_id and self.enterprise.park_id != self.park_id:
            errors["park"] = _("The enterprise is in another park.")
        return errors

    def threshold_errors(self) -> list[str]:
        """What is wrong with ``thresholds`` for the row's type: every key must be one of
        the type's defaults (``rules.DEFAULTS``), numbers positive, lists and maps of the
        default's kind."""
        import math

        from anyuan.alerts.rules import DEFAULTS  # rules.py imports this module
        from anyuan.registry.models import Ring

        default = DEFAULTS.get(self.type)
        if default is None:
            return []  # an unknown type is the type field's own error
        allowed = default.thresholds
        found = []
        for key, value in self.thresholds.items():
            name = str(key)[:40]
            if key not in allowed:
                if allowed:
                    found.append(
                        _("Unknown threshold “%(key)s”; this type has: %(known)s.")
                        % {"key": name, "known": ", ".join(sorted(allowed))}
                    )
                else:
                    found.append(
                        _("This type has no thresholds; remove “%(key)s”.") % {"key": name}
                    )
                continue
            expected = allowed[key]
            if isinstance(expected, int | float) and not isinstance(expected, bool):
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not math.isfinite(value)
                    or value <= 0
                ):
                    found.append(_("“%(key)s” must be a positive number.") % {"key": name})
            elif key == "rings":
                if not isinstance(value, list) or any(v not in Ring.values for v in value):
                    found.append(
                        _("“%(key)s” must be a list of rings: %(known)s.")
                        % {"key": name, "known": ", ".join(Ring.values)}
                    )
            elif key == "ring_severity":
                if not isinstance(value, dict) or any(
                    k not in Ring.values or v not in Alert.Severity.values for k, v in value.items()
                ):
                    found.append(
                        _("“%(key)s” must map rings (%(rings)s) to severities (%(severities)s).")
                        % {
                            "key": name,
                            "rings": ", ".join(Ring.values),
                            "severities": ", ".join(Alert.Severity.values),
                        }
                    )
            elif not isinstance(value, type(expected)):
                found.append(_("“%(key)s” has the wrong kind of value.") % {"key": name})
        return found
