"""The event log: passages and device alarms as devices report them, and what the
platform knows of each device's link (last seen, last heartbeat, clock offset).

Rows are written only by the ingestion path (:mod:`anyuan.events.actions`) and never
changed: the log is append-only and idempotent on (device, device event id). The ``id``
grows in commit order, so the processor can tail the log by id (see ``docs/events.md``).

Scoping follows the zone the event happened in (denormalised from the device at
ingestion): the station of the zone's park, and the enterprise that owns the zone.
Events of park-shared zones are visible to the police only, for now.
"""

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from anyuan.core.scoping import Scope, ScopedQuerySet
from anyuan.registry.models import Device, Zone


class Direction(models.TextChoices):
    IN = "in", _("In")
    OUT = "out", _("Out")


class Method(models.TextChoices):
    FACE = "face", _("Face")
    CARD = "card", _("Card")
    EMPLOYEE_NUMBER = "employee_number", _("Employee number")
    PLATE = "plate", _("Plate")


class AlarmKind(models.TextChoices):
    INTRUSION = "intrusion", _("Intrusion")
    OBJECT_MISSING = "object_missing", _("Object missing")
    OBJECT_REMOVED = "object_removed", _("Object removed")
    TAMPER = "tamper", _("Tamper")
    DOOR_FORCED = "door_forced", _("Door forced")


class AlarmState(models.TextChoices):
    START = "start", _("Start")
    STOP = "stop", _("Stop")
    PULSE = "pulse", _("Pulse")


EVENT_SCOPE = Scope(station="zone__park__station", enterprise="zone__enterprise")


class Passage(models.Model):
    """One person or vehicle passing a device: the event log the processor tails by id."""

    id = models.BigAutoField(primary_key=True)
    # no index of their own: the unique (device, device_event_id) and the (zone,
    # event_time) index begin with them — every index is written for every passage
    device = models.ForeignKey(
        Device,
        verbose_name=_("device"),
        on_delete=models.PROTECT,
        related_name="passages",
        db_index=False,
    )
    zone = models.ForeignKey(
        Zone,
        verbose_name=_("zone"),
        on_delete=models.PROTECT,
        related_name="passages",
        db_index=False,
    )
    device_event_id = models.CharField(_("device event id"), max_length=64)
    event_time = models.DateTimeField(_("event time"))
    received_time = models.DateTimeField(_("received time"))
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    method = models.CharField(_("recognised by"), max_length=16, choices=Method.choices)
    credential = models.CharField(_("credential"), max_length=64, blank=True)
    confidence = models.FloatField(_("confidence"), null=True, blank=True)
    snapshot = models.CharField(_("snapshot"), max_length=255, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope = EVENT_SCOPE

    class Meta:
        verbose_name = _("passage")
        verbose_name_plural = _("passages")
        ordering = ["-event_time", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "device_event_id"], name="passage_unique_device_event"
            )
        ]
        # no index by credential: the processor keeps one (``PassageCredential``), so the
        # devices' requests do not wait for a third index in random order
        indexes = [
            models.Index(fields=["zone", "event_time"], name="passage_zone_time"),
            models.Index(fields=["event_time"], name="passage_time"),
        ]

    def __str__(self):
        return f"{self.device_event_id} · {self.get_direction_display()} · {self.credential or '—'}"

    def get_absolute_url(self):
        return reverse("events:passage-detail", args=[self.pk])


class DeviceAlarm(models.Model):
    """An alarm a device raised (intrusion, object missing or removed, tamper, door forced)."""

    id = models.BigAutoField(primary_key=True)
    device = models.ForeignKey(
        Device, verbose_name=_("device"), on_delete=models.PROTECT, related_name="alarms"
    )
    zone = models.ForeignKey(
        Zone, verbose_name=_("zone"), on_delete=models.PROTECT, related_name="device_alarms"
    )
    device_event_id = models.CharField(_("device event id"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=AlarmKind.choices)
    state = models.CharField(
        _("state"), max_length=5, choices=AlarmState.choices, default=AlarmState.PULSE
    )
    event_time = models.DateTimeField(_("event time"))
    received_time = models.DateTimeField(_("received time"))
    snapshot = models.CharField(_("snapshot"), max_length=255, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope = EVENT_SCOPE

    class Meta:
        verbose_name = _("device alarm")
        verbose_name_plural = _("device alarms")
        ordering = ["-event_time", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "device_event_id"], name="devicealarm_unique_device_event"
            )
        ]
        indexes = [models.Index(fields=["zone", "event_time"], name="devicealarm_zone_time")]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.get_state_display()} · {self.device_event_id}"

    def get_absolute_url(self):
        return reverse("events:devicealarm-detail", args=[self.pk])


class DeviceLink(models.Model):
    """What the platform last heard from a device: one row per device that ever reported.

    ``clock_offset_s`` is the device clock minus the platform clock, measured from a
    heartbeat (sent at once, so its time is the device's clock now) or an event's
    ``sent_time``; an event stamped later than its receipt measures a clock that is ahead.
    ``clock_skew`` is set when the offset exceeds ``ANYUAN_CLOCK_SKEW_TOLERANCE_S``.
    """

    device = models.OneToOneField(
        Device,
        verbose_name=_("device"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="link",
    )
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    last_heartbeat = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    clock_offset_s = models.FloatField(_("clock offset (s)"), null=True, blank=True)
    clock_checked = models.DateTimeField(_("clock checked"), null=True, blank=True)
    clock_skew = models.BooleanField(_("clock skewed"), default=False)

    objects = ScopedQuerySet.as_manager()
    scope = Scope(station="device__zone__park__station", enterprise="device__zone__enterprise")

    class Meta:
        verbose_name = _("device link")
        verbose_name_plural = _("device links")
        ordering = ["device"]

    def __str__(self):
        return str(self.device)

    def get_absolute_url(self):
        return self.device.get_absolute_url()


# --- the processor's state -----------------------------------------------------------------


class SubjectKind(models.TextChoices):
    PERSON = "person", _("Person")
    VEHICLE = "vehicle", _("Vehicle")
    UNKNOWN = "unknown", _("Unknown (stranger)")


class Presence(models.Model):
    """A subject's stay in a zone, from an entry to an exit, placed by event time.

    Written only by the processor (:mod:`anyuan.events.processor`). ``left_at`` empty: the
    subject is inside now. ``exit_first``: the exit was processed before any entry (an
    exit without entry, ``entered_at`` empty, or an entry that arrived late and filled
    it). Passages at transit zones (gates) count for the staying zone the gate leads into.
    """

    id = models.BigAutoField(primary_key=True)
    subject_kind = models.CharField(_("subject"), max_length=8, choices=SubjectKind.choices)
    person = models.ForeignKey(
        "registry.Person",
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="presences",
        db_index=False,  # (person | vehicle, entered_at) begins with it
    )
    vehicle = models.ForeignKey(
        "registry.Vehicle",
        verbose_name=_("vehicle"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="presences",
        db_index=False,  # (person | vehicle, entered_at) begins with it
    )
    method = models.CharField(_("recognised by"), max_length=16, choices=Method.choices)
    credential = models.CharField(_("credential"), max_length=64, blank=True)
    zone = models.ForeignKey(
        Zone,
        verbose_name=_("zone"),
        on_delete=models.PROTECT,
        related_name="presences",
        db_index=False,  # (zone, left_at) begins with it
    )
    entered_at = models.DateTimeField(_("entered at"), null=True, blank=True)
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)
    entry_passage_id = models.BigIntegerField(_("entry passage"), null=True, blank=True)
    exit_passage_id = models.BigIntegerField(_("exit passage"), null=True, blank=True)
    exit_first = models.BooleanField(_("exit processed first"), default=False)

    objects = ScopedQuerySet.as_manager()
    scope = EVENT_SCOPE

    class Meta:
        verbose_name = _("presence")
        verbose_name_plural = _("presences")
        ordering = ["-entered_at", "-id"]
        indexes = [
            models.Index(fields=["zone", "left_at"], name="presence_zone_open"),
            models.Index(fields=["person", "entered_at"], name="presence_person_time"),
            models.Index(fields=["vehicle", "entered_at"], name="presence_vehicle_time"),
        ]

    def __str__(self):
        subject = self.person_id or self.vehicle_id or self.credential or "—"
        return f"{self.subject_kind} {subject} · {self.zone_id} · {self.entered_at}–{self.left_at}"


class PassageCredential(models.Model):
    """The passage log by credential: for a person's or vehicle's passages (trajectories)
    and the search by card, face id or plate (:mod:`anyuan.events.credentials`).

    The log itself has no index by credential: the credentials of a request's passages
    fall all over such an index, and keeping it cost the devices' requests a third of
    their insert time. The default processor adds the passages it has processed here, in
    its batch's transaction (one ``INSERT … SELECT`` from the log), so the rows up to its
    checkpoint are here and the few after it are found in the log by id. Never shown on
    its own: it only narrows queries on the log, which are scoped."""

    passage = models.OneToOneField(
        Passage,
        verbose_name=_("passage"),
        on_delete=models.CASCADE,
        primary_key=True,
        db_constraint=False,  # rows only ever come from the log, inserted by the processor
        related_name="+",
    )
    credential = models.CharField(_("credential"), max_length=64)
    event_time = models.DateTimeField(_("event time"))

    class Meta:
        verbose_name = _("passage by credential")
        verbose_name_plural = _("passages by credential")
        indexes = [models.Index(fields=["credential", "event_time"], name="passagecredential_time")]

    def __str__(self):
        return f"{self.credential} · {self.event_time} · {self.passage_id}"


class ProcessorCheckpoint(models.Model):
    """How far a processor has read the passage and alarm logs (and how far its time-based
    rules have run): one row per processor name, saved in the same transaction as the
    writes of the batch or check it ends."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    last_passage_id = models.BigIntegerField(_("last passage id"), default=0)
    last_alarm_id = models.BigIntegerField(_("last device alarm id"), default=0)
    checked_until = models.DateTimeField(
        _("time-based rules checked until"),
        null=True,
        blank=True,
        help_text=_("The time up to which the time-based rules (overstay, exits) have run."),
    )
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope = Scope()  # platform state: operators (superusers) only

    class Meta:
        verbose_name = _("processor checkpoint")
        verbose_name_plural = _("processor checkpoints")
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} @ {self.last_passage_id}"

    @classmethod
    def last_passage(cls, name: str) -> int:
        """The last passage id the processor ``name`` has processed (0 before its first
        batch): what the rollups and the index by credential hold everything up to."""
        found = cls.objects.filter(name=name).values_list("last_passage_id", flat=True)
        return found.first() or 0


class Quarantine(models.Model):
    """An event the processor could not place, set aside so that it goes on.

    The processor writes a row here, in the transaction of the batch it was read in, for
    a passage or device alarm whose batch failed because of it (a dangling reference —
    the person its card matched was deleted a moment before —, an unexpected value): the
    reason, the message, when. The police see them (``/events/quarantine/``, ``GET
    /api/v1/events/quarantine``) and replay one once the cause is fixed — the registry
    corrected — or dismiss it (:mod:`anyuan.events.actions`, audited). A replay asks the
    processor named in ``processor`` to take the event again in its next batch; it sets
    ``replayed`` or, failing again, ``held`` with the new reason. See ``docs/events.md``.
    """

    class Reason(models.TextChoices):
        SUBJECT_DELETED = "subject_deleted", _("Matched person or vehicle deleted")
        INTEGRITY = "integrity", _("Reference refused by the database")
        UNEXPECTED = "unexpected", _("Unexpected value")

    class State(models.TextChoices):
        HELD = "held", _("Held")
        QUEUED = "queued", _("Replay requested")
        REPLAYED = "replayed", _("Replayed")
        DISMISSED = "dismissed", _("Dismissed")

    processor = models.CharField(_("processor"), max_length=64)
    passage = models.ForeignKey(
        Passage,
        verbose_name=_("passage"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,  # the log is never pruned; if it is, this goes with it
        related_name="+",
    )
    alarm = models.ForeignKey(
        DeviceAlarm,
        verbose_name=_("device alarm"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # the event's zone (copied from it): what the row is scoped by
    zone = models.ForeignKey(
        Zone, verbose_name=_("zone"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    message = models.CharField(_("message"), max_length=500, blank=True)
    state = models.CharField(_("state"), max_length=9, choices=State.choices, default=State.HELD)
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    created = models.DateTimeField(_("set aside at"))
    updated = models.DateTimeField(_("updated"), auto_now=True)
    replayed_at = models.DateTimeField(_("replayed at"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    # the police of the zone's station only: no enterprise path (roles.py says the same)
    scope = Scope(station="zone__park__station")

    class Meta:
        verbose_name = _("set-aside event")
        verbose_name_plural = _("set-aside events")
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(passage__isnull=False, alarm__isnull=True)
                | models.Q(passage__isnull=True, alarm__isnull=False),
                name="quarantine_one_event",
            ),
            models.UniqueConstraint(
                fields=["processor", "passage"], name="quarantine_unique_passage"
            ),
            models.UniqueConstraint(fields=["processor", "alarm"], name="quarantine_unique_alarm"),
        ]
        indexes = [models.Index(fields=["state", "processor"], name="quarantine_state")]

    def __str__(self):
        event = f"passage {self.passage_id}" if self.passage_id else f"alarm {self.alarm_id}"
        return f"{event} · {self.get_reason_display()} · {self.get_state_display()}"

    def get_absolute_url(self):
        return reverse("events:quarantine") + f"?state={self.state}#q{self.pk}"
