"""The park registry: the police side, enterprises, zones, devices, people, vehicles,
authorisations and watchlists. Every model is scoped (see :mod:`anyuan.core.scoping`)."""

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from anyuan.core import identifiers
from anyuan.core.personal import DigestField, Disclosure, EncryptedField, RowKeyField, plain
from anyuan.core.scoping import Scope, ScopedQuerySet


class NormalizedCharField(models.CharField):
    """A CharField whose value is normalised (or refused) by an identifier function."""

    def __init__(self, *args, normalizer: str = "", **kwargs):
        self.normalizer = normalizer
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["normalizer"] = self.normalizer
        return name, path, args, kwargs

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return value
        try:
            return getattr(identifiers, f"normalize_{self.normalizer}")(value)
        except identifiers.IdentifierError as e:
            raise ValidationError(str(e), code="invalid") from None

    def get_prep_value(self, value):
        """A value looked up: normalised when it is a valid identifier, else as given, when
        it matches no row (every stored one is normalised). A search never fails on it."""
        try:
            return super().get_prep_value(value)
        except ValidationError:
            return value

    def get_db_prep_save(self, value, connection):
        """A value written: refused unless it is a valid identifier (an expression, such as
        bulk_update's, is checked value by value when its parts are prepared)."""
        if not hasattr(value, "as_sql"):
            value = self.to_python(value)
        return super().get_db_prep_save(value, connection)


class RegistryModel(models.Model):
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True

    def get_absolute_url(self):
        return reverse(f"registry:{self._meta.model_name}-detail", args=[self.pk])


# --- police side ---------------------------------------------------------------------


class Station(RegistryModel):
    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=32, unique=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    hotline = models.CharField(_("24-hour hotline"), max_length=32, blank=True)

    scope = Scope(station="pk", enterprise="enterprises")

    class Meta:
        verbose_name = _("police station")
        verbose_name_plural = _("police stations")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Park(RegistryModel):
    station = models.ForeignKey(
        Station, verbose_name=_("station"), on_delete=models.PROTECT, related_name="parks"
    )
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)

    scope = Scope(station="station", enterprise="enterprises")

    class Meta:
        verbose_name = _("park")
        verbose_name_plural = _("parks")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["station", "name"], name="park_unique_name")]

    def __str__(self):
        return self.name


class PoliceGrid(RegistryModel):
    station = models.ForeignKey(
        Station, verbose_name=_("station"), on_delete=models.PROTECT, related_name="grids"
    )
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(
        _("order"), default=0, help_text=_("Grids are listed in this order, e.g. north to south.")
    )
    boundary = models.JSONField(
        _("boundary"), null=True, blank=True, help_text=_("GeoJSON polygon, optional.")
    )
    description = models.TextField(_("description"), blank=True)

    scope = Scope(station="station", enterprise="enterprises")

    class Meta:
        verbose_name = _("police grid")
        verbose_name_plural = _("police grids")
        ordering = ["station", "position", "name"]
        constraints = [models.UniqueConstraint(fields=["station", "name"], name="grid_unique_name")]

    def __str__(self):
        return self.name

    def clean(self):
        b = self.boundary
        if b and not (
            isinstance(b, dict)
            and b.get("type") in ("Polygon", "MultiPolygon")
            and "coordinates" in b
        ):
            raise ValidationError(
                {"boundary": _("The boundary must be a GeoJSON Polygon or MultiPolygon.")}
            )


class Officer(RegistryModel):
    class Kind(models.TextChoices):
        POLICE = "police", _("Police officer (民警)")
        AUXILIARY = "auxiliary", _("Auxiliary officer (辅警)")

    class Duty(models.TextChoices):
        CHIEF = "chief", _("Station chief")
        DEPUTY = "deputy", _("Deputy chief")
        COMMUNITY = "community", _("Community officer")
        LIAISON = "liaison", _("Enterprise liaison (警务秘书)")
        PATROL = "patrol", _("Patrol")
        CASE = "case", _("Case officer")
        OTHER = "other", _("Other")

    station = models.ForeignKey(
        Station, verbose_name=_("station"), on_delete=models.PROTECT, related_name="officers"
    )
    name = models.CharField(_("full name"), max_length=50)
    badge_number = models.CharField(_("badge number"), max_length=20)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.POLICE)
    duty = models.CharField(_("duty"), max_length=20, choices=Duty.choices, default=Duty.COMMUNITY)
    row_key = RowKeyField()  # what its personal data is bound to
    phone = EncryptedField(_("phone"), kind="phone")
    phone_digest = DigestField(source="phone")
    grids = models.ManyToManyField(
        PoliceGrid, verbose_name=_("grids"), blank=True, related_name="officers"
    )
    active = models.BooleanField(_("active"), default=True)

    scope = Scope(station="station", enterprise="contact_groups__enterprises", multi=True)

    class Meta:
        verbose_name = _("officer")
        verbose_name_plural = _("officers")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["station", "badge_number"], name="officer_unique_badge")
        ]

    def __str__(self):
        return f"{self.name} ({self.badge_number})"


class ContactGroup(RegistryModel):
    """包保联系小组: officers who look after a set of enterprises."""

    station = models.ForeignKey(
        Station, verbose_name=_("station"), on_delete=models.PROTECT, related_name="contact_groups"
    )
    name = models.CharField(_("name"), max_length=100)
    leader = models.ForeignKey(
        Officer,
        verbose_name=_("leader"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_groups",
    )
    members = models.ManyToManyField(
        Officer, verbose_name=_("members"), blank=True, related_name="contact_groups"
    )

    scope = Scope(station="station", enterprise="enterprises")

    class Meta:
        verbose_name = _("contact group")
        verbose_name_plural = _("contact groups")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["station", "name"], name="contactgroup_unique_name")
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if self.leader_id and self.leader.station_id != self.station_id:
            raise ValidationError(
                {"leader": _("The leader must be an officer of the same station.")}
            )


# --- enterprises and agencies ----------------------------------------------------------


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    MAJOR = "major", _("Major")


class Enterprise(RegistryModel):
    station = models.ForeignKey(
        Station, verbose_name=_("station"), on_delete=models.PROTECT, related_name="enterprises"
    )
    park = models.ForeignKey(
        Park,
        verbose_name=_("park"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="enterprises",
    )
    name = models.CharField(_("name"), max_length=200)
    credit_code = NormalizedCharField(
        _("unified social credit code"), max_length=18, unique=True, normalizer="credit_code"
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    grid = models.ForeignKey(
        PoliceGrid,
        verbose_name=_("police grid"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="enterprises",
    )
    contact_group = models.ForeignKey(
        ContactGroup,
        verbose_name=_("contact group"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="enterprises",
    )
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    headcount = models.PositiveIntegerField(_("headcount"), default=0)
    hazardous_chemicals = models.BooleanField(_("hazardous chemicals"), default=False)
    risk_level = models.CharField(
        _("risk level"), max_length=10, choices=RiskLevel.choices, default=RiskLevel.LOW
    )
    security_contact = models.CharField(_("security contact"), max_length=50, blank=True)
    duty_phone = models.CharField(
        _("security duty phone"), max_length=32, blank=True, validators=[identifiers.validate_phone]
    )

    scope = Scope(station="station", enterprise="pk")

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        for name in ("park", "grid", "contact_group"):
            related = getattr(self, name)
            if related is not None and related.station_id != self.station_id:
                errors[name] = _("Must belong to the enterprise's station.")
        if errors:
            raise ValidationError(errors)


class LabourAgency(RegistryModel):
    """劳务派遣 / 劳务中介: brings temporary workers, in squads."""

    station = models.ForeignKey(
        Station, verbose_name=_("station"), on_delete=models.PROTECT, related_name="labour_agencies"
    )
    name = models.CharField(_("name"), max_length=200)
    credit_code = NormalizedCharField(
        _("unified social credit code"), max_length=18, unique=True, normalizer="credit_code"
    )
    licence_number = models.CharField(_("licence number"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    contact_name = models.CharField(_("contact"), max_length=50, blank=True)
    contact_phone = models.CharField(
        _("contact phone"), max_length=32, blank=True, validators=[identifiers.validate_phone]
    )

    scope = Scope(station="station", shared=lambda user: Q(station=user.station_id))

    class Meta:
        verbose_name = _("labour agency")
        verbose_name_plural = _("labour agencies")
        ordering = ["name"]

    def __str__(self):
        return self.name


# --- zones and devices -----------------------------------------------------------------


class Ring(models.TextChoices):
    PERIMETER = "perimeter", _("Perimeter (周边)")
    PARK = "park", _("Park (园区)")
    LIVING = "living", _("Living area (生活区)")
    PRODUCTION = "production", _("Production area (生产区)")
    CORE = "core", _("Core security area (核心安防区)")


RING_RANK = {Ring.PERIMETER: 0, Ring.PARK: 1, Ring.LIVING: 2, Ring.PRODUCTION: 2, Ring.CORE: 3}


class QualificationType(RegistryModel):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    validity_months = models.PositiveIntegerField(_("validity (months)"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)

    scope = Scope(public=True)

    class Meta:
        verbose_name = _("qualification type")
        verbose_name_plural = _("qualification types")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Zone(RegistryModel):
    class Kind(models.TextChoices):
        AREA = "area", _("Area")
        BUILDING = "building", _("Building")
        FLOOR = "floor", _("Floor")
        ROOM = "room", _("Room")
        DORMITORY = "dormitory", _("Dormitory room")
        WORKSHOP = "workshop", _("Workshop")
        WAREHOUSE = "warehouse", _("Warehouse")
        CANTEEN = "canteen", _("Canteen")
        OFFICE = "office", _("Office")
        GATE = "gate", _("Gate area")
        CORRIDOR = "corridor", _("Corridor")
        YARD = "yard", _("Yard / car park")

    park = models.ForeignKey(
        Park, verbose_name=_("park"), on_delete=models.PROTECT, related_name="zones"
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent zone"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=40, blank=True)
    ring = models.CharField(_("ring"), max_length=12, choices=Ring.choices)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.AREA)
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("owner enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="zones",
        help_text=_("Empty: the zone belongs to the park and is shared."),
    )
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    is_transit = models.BooleanField(
        _("transit"),
        default=False,
        help_text=_("Gates and corridors: people pass, they do not stay."),
    )
    required_qualifications = models.ManyToManyField(
        QualificationType,
        verbose_name=_("required qualifications"),
        blank=True,
        related_name="zones",
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    depth = models.PositiveSmallIntegerField(editable=False, default=0)

    scope = Scope(
        station="park__station",
        enterprise="enterprise",
        # park-shared zones of the user's park; a sub-query, so the OR adds no duplicate rows
        shared=lambda user: Q(
            enterprise__isnull=True,
            park__in=Enterprise.objects.filter(pk=user.enterprise_id).values("park_id"),
        ),
    )

    class Meta:
        verbose_name = _("zone")
        verbose_name_plural = _("zones")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(
                fields=["park", "code"], condition=~Q(code=""), name="zone_unique_code"
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if (
            self.enterprise_id
            and self.park_id
            and self.enterprise.park_id not in (None, self.park_id)
        ):
            errors["enterprise"] = _("The owner enterprise is in another park.")
        parent = self.parent
        if parent is not None:
            if parent.park_id != self.park_id:
                errors["parent"] = _("The parent zone is in another park.")
            elif self.pk and (parent.pk == self.pk or parent.path.startswith(self.path or "\0")):
                errors["parent"] = _("A zone cannot be inside itself.")
            # an unknown ring is reported by the field's own choices check
            elif self.ring in RING_RANK and RING_RANK[self.ring] < RING_RANK[parent.ring]:
                errors["ring"] = _("A zone cannot be in an outer ring than its parent zone.")
            elif parent.enterprise_id and self.enterprise_id != parent.enterprise_id:
                errors["enterprise"] = _(
                    "A zone inside an enterprise's zone belongs to that enterprise."
                )
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        old_path = self.path
        if not self.pk:
            super().save(*args, **kwargs)
            kwargs = {k: v for k, v in kwargs.items() if k not in ("force_insert",)}
        prefix = self.parent.path if self.parent_id else "/"
        self.path = f"{prefix}{self.pk}/"
        self.depth = self.path.count("/") - 2
        super().save(*args, **kwargs)
        if old_path and old_path != self.path:
            for child in (
                Zone.objects.filter(path__startswith=old_path).exclude(pk=self.pk).order_by("depth")
            ):
                child.save(update_fields=["path", "depth"])

    def descendants(self):
        return Zone.objects.filter(path__startswith=self.path).exclude(pk=self.pk)


class Device(RegistryModel):
    class Kind(models.TextChoices):
        GATE = "gate", _("Gate")
        CAMERA = "camera", _("Camera")
        SENSOR = "sensor", _("Sensor")
        ACCESS_CONTROLLER = "access_controller", _("Access controller")
        # an access-control or video platform (or a GA/T 1400 lower platform) that
        # uploads the events of the devices registered under it, with one token
        PLATFORM = "platform", _("Platform")

    class Direction(models.TextChoices):
        IN = "in", _("In")
        OUT = "out", _("Out")
        BOTH = "both", _("Both")

    class Protocol(models.TextChoices):
        NATIVE = "native", _("anyuan JSON")
        ISAPI = "isapi", _("Hikvision ISAPI")
        GAT1400 = "gat1400", _("GA/T 1400")
        MQTT = "mqtt", _("MQTT")

    zone = models.ForeignKey(
        Zone, verbose_name=_("zone"), on_delete=models.PROTECT, related_name="devices"
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    direction = models.CharField(
        _("direction"), max_length=4, choices=Direction.choices, default=Direction.BOTH
    )
    protocol = models.CharField(
        _("protocol"), max_length=10, choices=Protocol.choices, default=Protocol.NATIVE
    )
    serial = models.CharField(_("serial number"), max_length=64, unique=True)
    vendor = models.CharField(_("vendor"), max_length=50, blank=True)
    heartbeat_seconds = models.PositiveIntegerField(_("heartbeat interval (s)"), default=60)
    active = models.BooleanField(_("active"), default=True)
    token_prefix = models.CharField(_("token prefix"), max_length=16, blank=True, editable=False)
    token_digest = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    upstream = models.ForeignKey(
        "self",
        verbose_name=_("reports through"),
        help_text=_(
            "The platform that uploads this device's events with its own token, "
            "if it does not send them itself."
        ),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="downstream",
        limit_choices_to={"kind": "platform"},
    )

    scope = Scope(station="zone__park__station", enterprise="zone__enterprise")

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.serial})"

    def clean(self):
        super().clean()
        up = self.upstream
        if up is None:
            return
        if self.kind == self.Kind.PLATFORM:
            message, code = _("A platform does not report through another."), "nested"
        elif up.kind != self.Kind.PLATFORM:
            message, code = _("Choose a device of the kind platform."), "not_platform"
        elif self.zone_id and up.zone.park.station_id != self.zone.park.station_id:
            message = _("The platform must belong to the same police station.")
            code = "other_station"
        else:
            return
        raise ValidationError({"upstream": ValidationError(message, code=code)})

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def new_token(self) -> str:
        """Set a fresh token (stored hashed) and return it; it is shown only once."""
        prefix = secrets.token_hex(4)
        token = f"ayd_{prefix}_{secrets.token_urlsafe(32)}"
        self.token_prefix, self.token_digest = prefix, self.hash_token(token)
        return token


# --- people and vehicles ---------------------------------------------------------------


class Person(RegistryModel):
    class Kind(models.TextChoices):
        EMPLOYEE = "employee", _("Employee")
        TEMPORARY = "temporary", _("Temporary worker")
        VISITOR = "visitor", _("Visitor")
        RESIDENT = "resident", _("Resident")
        OFFICER = "officer", _("Officer")

    class Shift(models.TextChoices):
        NONE = "", _("No shift")
        DAY = "day", _("Day shift")
        NIGHT = "night", _("Night shift")

    station = models.ForeignKey(
        Station, verbose_name=_("station"), on_delete=models.PROTECT, related_name="people"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.EMPLOYEE)
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="people",
    )
    labour_agency = models.ForeignKey(
        LabourAgency,
        verbose_name=_("labour agency"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="workers",
    )
    name = models.CharField(_("full name"), max_length=50)
    row_key = RowKeyField()  # what its personal data is bound to
    id_number = EncryptedField(_("ID number"), kind="id_number")
    id_number_digest = DigestField(source="id_number")
    birth_date = models.DateField(_("date of birth"), null=True, blank=True, editable=False)
    phone = EncryptedField(_("phone"), kind="phone")
    phone_digest = DigestField(source="phone")
    employee_number = models.CharField(_("employee number"), max_length=32, blank=True)
    card_number = models.CharField(_("card number"), max_length=32, blank=True)
    face_id = models.CharField(_("face match id"), max_length=64, blank=True)
    shift = models.CharField(
        _("shift"), max_length=8, choices=Shift.choices, blank=True, default=""
    )
    home_zone = models.ForeignKey(
        Zone,
        verbose_name=_("dormitory"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="residents",
    )
    hire_date = models.DateField(_("hire date"), null=True, blank=True)
    leave_date = models.DateField(_("leave date"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    scope = Scope(station="station", enterprise="enterprise", person="pk")
    # the date of birth is the ID number's digits 7–14: beside the masked number it gives
    # the whole number back, so it is masked and revealed like the number itself
    disclosure = Disclosure(derived=("birth_date",))

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "id_number_digest"], name="person_unique_id_number"
            ),
            models.UniqueConstraint(
                fields=["enterprise", "employee_number"],
                condition=~Q(employee_number=""),
                name="person_unique_employee_number",
            ),
            models.UniqueConstraint(
                fields=["station", "card_number"],
                condition=~Q(card_number=""),
                name="person_unique_card",
            ),
            models.UniqueConstraint(
                fields=["station", "face_id"], condition=~Q(face_id=""), name="person_unique_face"
            ),
        ]
        indexes = [models.Index(fields=["enterprise", "kind"])]

    def __str__(self):
        return self.name

    @property
    def is_active(self) -> bool:
        return self.leave_date is None or self.leave_date > timezone.localdate()

    def clean(self):
        errors = {}
        if self.kind in (self.Kind.EMPLOYEE, self.Kind.TEMPORARY) and not self.enterprise_id:
            errors["enterprise"] = _("Employees and temporary workers belong to an enterprise.")
        if self.kind == self.Kind.TEMPORARY and not self.labour_agency_id:
            errors["labour_agency"] = _("A temporary worker comes through a labour agency.")
        if self.enterprise_id and self.enterprise.station_id != self.station_id:
            errors["enterprise"] = _("The enterprise is not in this station's jurisdiction.")
        if self.hire_date and self.leave_date and self.leave_date < self.hire_date:
            errors["leave_date"] = _("The leave date is before the hire date.")
        if self.kind != self.Kind.VISITOR and not self.id_number:
            errors["id_number"] = _("An ID number is required (visitors excepted).")
        if errors:
            raise ValidationError(errors)
        if self.id_number:
            # full_clean() calls clean() even when the field itself was refused; an invalid
            # number (reported by the field) has no date of birth to take.
            try:
                number = identifiers.normalize_id_number(plain(self.id_number))
            except identifiers.IdentifierError:
                return
            self.birth_date = identifiers.id_number_birth_date(number)


class Qualification(RegistryModel):
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="qualifications"
    )
    type = models.ForeignKey(
        QualificationType,
        verbose_name=_("type"),
        on_delete=models.PROTECT,
        related_name="qualifications",
    )
    number = models.CharField(_("certificate number"), max_length=50, blank=True)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    scope = Scope(station="person__station", enterprise="person__enterprise", person="person")

    class Meta:
        verbose_name = _("qualification")
        verbose_name_plural = _("qualifications")
        ordering = ["person", "type"]

    def __str__(self):
        return f"{self.person} · {self.type}"

    def clean(self):
        if self.issued_on and self.valid_until and self.valid_until < self.issued_on:
            raise ValidationError({"valid_until": _("Valid until is before the issue date.")})

    def is_valid_on(self, day) -> bool:
        return (self.issued_on is None or self.issued_on <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


class Vehicle(RegistryModel):
    class Kind(models.TextChoices):
        CAR = "car", _("Car")
        TRUCK = "truck", _("Truck")
        EBIKE = "ebike", _("E-bike")

    station = models.ForeignKey(
        Station, verbose_name=_("station"), on_delete=models.PROTECT, related_name="vehicles"
    )
    plate = models.CharField(_("plate"), max_length=16)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.CAR)
    registered = models.BooleanField(
        _("registered"), default=True, help_text=_("Unticked: a visitor vehicle.")
    )
    owner = models.ForeignKey(
        Person,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="vehicles",
    )
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="vehicles",
    )
    colour = models.CharField(_("colour"), max_length=20, blank=True)
    brand = models.CharField(_("brand"), max_length=40, blank=True)
    valid_until = models.DateTimeField(_("allowed until"), null=True, blank=True)

    scope = Scope(station="station", enterprise="enterprise", person="owner")

    class Meta:
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        ordering = ["plate"]
        constraints = [
            models.UniqueConstraint(fields=["station", "plate"], name="vehicle_unique_plate")
        ]

    def __str__(self):
        return self.plate

    def clean(self):
        errors = {}
        if self.plate:
            if self.kind == self.Kind.EBIKE:
                # e-bike plates are issued by cities in local formats (e.g. 深圳A12345)
                p = self.plate.strip().upper().replace(" ", "")
                if not 4 <= len(p) <= 12:
                    errors["plate"] = _("An e-bike plate has 4 to 12 characters.")
                self.plate = p
            else:
                try:
                    self.plate = identifiers.normalize_plate(self.plate)
                except identifiers.IdentifierError as e:
                    errors["plate"] = str(e)
        if self.owner_id and self.owner.station_id != self.station_id:
            errors["owner"] = _("The owner is registered at another station.")
        if self.enterprise_id and self.enterprise.station_id != self.station_id:
            errors["enterprise"] = _("The enterprise is not in this station's jurisdiction.")
        if errors:
            raise ValidationError(errors)


# --- access ----------------------------------------------------------------------------


class AccessGroup(RegistryModel):
    station = models.ForeignKey(
        Station, verbose_name=_("station"), on_delete=models.PROTECT, related_name="access_groups"
    )
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="access_groups",
    )
    name = models.CharField(_("name"), max_length=100)
    members = models.ManyToManyField(
        Person, verbose_name=_("members"), blank=True, related_name="access_groups"
    )
    description = models.TextField(_("description"), blank=True)

    scope = Scope(station="station", enterprise="enterprise")

    class Meta:
        verbose_name = _("access group")
        verbose_name_plural = _("access groups")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Authorisation(RegistryModel):
    """Who may enter a zone, and when. A zone's descendants are covered too."""

    zone = models.ForeignKey(
        Zone, verbose_name=_("zone"), on_delete=models.CASCADE, related_name="authorisations"
    )
    person = models.ForeignKey(
        Person,
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="authorisations",
    )
    group = models.ForeignKey(
        AccessGroup,
        verbose_name=_("access group"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="authorisations",
    )
    weekdays = models.CharField(
        _("weekdays"),
        max_length=7,
        default="1234567",
        help_text=_("ISO weekdays, 1 = Monday … 7 = Sunday."),
    )
    time_from = models.TimeField(_("from"), null=True, blank=True)
    time_until = models.TimeField(_("until"), null=True, blank=True)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    scope = Scope(station="zone__park__station", enterprise="zone__enterprise", person="person")

    class Meta:
        verbose_name = _("authorisation")
        verbose_name_plural = _("authorisations")
        ordering = ["zone", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False, group__isnull=True)
                | Q(person__isnull=True, group__isnull=False),
                name="authorisation_person_xor_group",
            )
        ]

    def __str__(self):
        return f"{self.person or self.group} → {self.zone}"

    def clean(self):
        errors = {}
        if bool(self.person_id) == bool(self.group_id):
            errors["person"] = _("Name either a person or an access group.")
        if not self.weekdays or any(c not in "1234567" for c in self.weekdays):
            errors["weekdays"] = _("Use the digits 1 (Monday) to 7 (Sunday).")
        else:
            self.weekdays = "".join(sorted(set(self.weekdays)))
        if (self.time_from is None) != (self.time_until is None):
            errors["time_until"] = _("Give both times of the window, or neither.")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            errors["valid_until"] = _("Valid until is before valid from.")
        if errors:
            raise ValidationError(errors)


class WatchlistEntry(RegistryModel):
    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        PLATE = "plate", _("Plate")

    class Level(models.TextChoices):
        NOTICE = "notice", _("Notice")
        WARNING = "warning", _("Warning")
        ALARM = "alarm", _("Alarm")

    station = models.ForeignKey(
        Station, verbose_name=_("station"), on_delete=models.PROTECT, related_name="watchlist"
    )
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="watchlist",
        help_text=_("Empty: the police's own list, not shown to enterprises."),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    person = models.ForeignKey(
        Person,
        verbose_name=_("registered person"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="watchlist_entries",
    )
    name = models.CharField(_("name"), max_length=50, blank=True)
    row_key = RowKeyField()  # what its personal data is bound to
    id_number = EncryptedField(_("ID number"), kind="id_number")
    id_number_digest = DigestField(source="id_number")
    face_id = models.CharField(_("face match id"), max_length=64, blank=True)
    plate = models.CharField(_("plate"), max_length=16, blank=True)
    reason = models.CharField(_("reason"), max_length=200)
    level = models.CharField(_("level"), max_length=8, choices=Level.choices, default=Level.WARNING)
    active = models.BooleanField(_("active"), default=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    scope = Scope(station="station", enterprise="enterprise")

    class Meta:
        verbose_name = _("watchlist entry")
        verbose_name_plural = _("watchlist")
        ordering = ["-created"]

    def __str__(self):
        return self.plate or self.name or str(self.person or "")

    def clean(self):
        errors = {}
        if self.kind == self.Kind.PLATE:
            try:
                self.plate = identifiers.normalize_plate(self.plate)
            except identifiers.IdentifierError as e:
                errors["plate"] = str(e)
        elif not (self.person_id or self.id_number or self.face_id):
            errors["person"] = _(
                "Name the person: a registered person, an ID number or a face match id."
            )
        if self.enterprise_id and self.enterprise.station_id != self.station_id:
            errors["enterprise"] = _("The enterprise is not in this station's jurisdiction.")
        if errors:
            raise ValidationError(errors)


class Informant(RegistryModel):
    """信息员: a person placed in a workshop or team who reports disputes and warning signs."""

    person = models.OneToOneField(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="informant"
    )
    workshop = models.ForeignKey(
        Zone,
        verbose_name=_("workshop"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="informants",
    )
    team = models.CharField(_("team"), max_length=100, blank=True)
    since = models.DateField(_("since"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    scope = Scope(station="person__station", enterprise="person__enterprise", person="person")

    class Meta:
        verbose_name = _("informant")
        verbose_name_plural = _("informants")
        ordering = ["person__name"]

    def __str__(self):
        return str(self.person)

    def clean(self):
        super().clean()
        # An informant's sign-in is an informant account, which only the police manage
        # (core.roles.MANAGED_BY): an employee sign-in of the same person, which the
        # employer manages (and may reset), would follow the informant's reports.
        if self.person_id and self.person.users.exclude(role="informant").exists():
            raise ValidationError(
                {
                    "person": _(
                        "This person has a sign-in their employer manages; the police turn "
                        "it into an informant account first."
                    )
                }
            )


# --- background imports --------------------------------------------------------------


class ImportJob(models.Model):
    """A large import file checked and written in the background (``importing/jobs.py``):
    its state and progress in the database, its report kept. The import itself is the
    same as in the foreground (the same checks, all rows or none, one audit record).
    Only the user who started it sees it."""

    class State(models.TextChoices):
        QUEUED = "queued", _("waiting")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        REFUSED = "refused", _("refused")
        FAILED = "failed", _("failed")

    OPEN = (State.QUEUED, State.RUNNING)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=40)
    filename = models.CharField(_("file"), max_length=200, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    dry_run = models.BooleanField(_("check only"), default=False)
    language = models.CharField(_("language"), max_length=10, blank=True)
    remote_addr = models.GenericIPAddressField(_("address"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.QUEUED, db_index=True
    )
    phase = models.CharField(_("phase"), max_length=40, blank=True)
    done = models.PositiveIntegerField(_("rows done"), default=0)
    total = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    started = models.DateTimeField(_("started"), null=True, blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat = models.DateTimeField(_("last sign of life"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope = Scope(own="user")

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created"]

    def __str__(self):
        return f"{self.kind} · {self.filename}"

    def get_absolute_url(self):
        return reverse("registry:importjob-detail", args=[self.pk])

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(100 * self.done / self.total))
