"""REST endpoints of the event core, mounted at /api/v1/events.

Device endpoints (``/ingest/...``) authenticate the device by its token
(``Authorization: Bearer ayd_…``) and follow the contract of :mod:`anyuan.events.ingest`;
in a deployment the lean ASGI route (:mod:`anyuan.events.asgi_ingest`) answers the same
paths before Django sees them, with the same results. Reading endpoints are for people
(session or API token) and fetch rows only through ``restrict()``.

The presence queries (presences, a subject's trajectory, a zone's occupancy and muster
list) are functions of (user, ...) here, shared with the pages (``views.py``); they read
with ``values()`` and set-based queries, never one query per row.
"""

import datetime as dt
from collections import Counter
from typing import NamedTuple

from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q
from django.http import Http404, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.pagination import paginate
from ninja.security import HttpBearer
from pydantic import field_validator

from anyuan.core import actions as core_actions
from anyuan.core import spreadsheets
from anyuan.core.api import DbInt, ErrorOut, Pagination, client_ip, errors, inline_choices
from anyuan.core.roles import CHANGE, EXPORT, VIEW, user_can
from anyuan.events import actions, credentials, processor
from anyuan.events.ingest import (
    ALARM,
    HEARTBEAT,
    PASSAGE,
    AlarmIn,
    HeartbeatIn,
    PassageIn,
    Reply,
    bearer,
    limits,
    prepare,
    too_large,
)
from anyuan.events.models import (
    DeviceAlarm,
    DeviceLink,
    Method,
    Passage,
    Presence,
    Quarantine,
    SubjectKind,
)
from anyuan.registry.models import Device, Person, Vehicle, Zone

router = Router(tags=["events"])


class DeviceAuth(HttpBearer):
    """Devices: ``Authorization: Bearer ayd_…``; the token names the device."""

    def __call__(self, request):
        token = bearer(request.headers.get("Authorization"))
        if isinstance(token, Reply):
            raise HttpError(token.status, token.body["detail"])
        device = actions.authenticate(token)
        if isinstance(device, Reply):
            raise HttpError(device.status, device.body["detail"])
        return device

    def authenticate(self, request, token):  # pragma: no cover - __call__ does the work
        return None


DEVICE_AUTH = [DeviceAuth()]


def read_body(request, max_bytes: int) -> bytes | None:
    """The request body, or ``None`` when it is larger than ``max_bytes``."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        return None
    data = request.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


def respond(reply: Reply) -> HttpResponse:
    return HttpResponse(reply.json(), status=reply.status, content_type="application/json")


def ingest_request(request, kind: str, *, bulk: bool = False) -> HttpResponse:
    received = timezone.now()
    lim = limits()
    body = read_body(request, lim.max_bytes)
    if body is None:
        return respond(too_large(lim.max_bytes))
    prepared = prepare(kind, body, request.content_type, received=received, bulk=bulk, lim=lim)
    job = actions.Job(prepared, device=request.auth, lang=translation.get_language())
    return respond(actions.commit_or_busy([job], lim)[0])


def _body_schema(schema, *, array: bool, ndjson: bool) -> dict:
    one = schema.model_json_schema()
    content = {"application/json": {"schema": {"oneOf": [one, {"type": "array", "items": one}]}}}
    if not array:
        content = {"application/json": {"schema": one}}
    if ndjson:
        content["application/x-ndjson"] = {"schema": {"type": "string"}}
    return {"requestBody": {"required": True, "content": content}}


class IngestError(Schema):
    field: str
    message: str
    code: str


class IngestItem(Schema):
    index: int
    status: str = Field(description="stored, duplicate or refused")
    event_id: str | None = None
    error: IngestError | None = None


class IngestOne(Schema):
    """One event: stored (201) or a duplicate (200)."""

    status: str
    event_id: str | None
    received_time: str


class IngestRefused(Schema):
    """One event refused: 422, or 403 for an event of another device."""

    status: str
    event_id: str | None
    received_time: str
    error: IngestError
    detail: str


class IngestBatch(Schema):
    """An array or NDJSON: each item's result; 422 when every item was refused."""

    received_time: str
    stored: int
    duplicates: int
    refused: int
    results: list[IngestItem]


class HeartbeatOut(Schema):
    status: str
    received_time: str
    clock_offset_s: float
    clock_skew: bool


_DESCRIPTIONS = {
    "200": {"description": "Accepted (a duplicate, or a batch: see each item's result)"},
    "201": {"description": "Stored"},
    "401": {"description": "No, unknown or revoked device token"},
    "403": {"description": "Deactivated device, or an event of another device"},
    "413": {"description": "Body too large, or too many events"},
    "422": {"description": "Refused: the reasons are in the body"},
    "503": {"description": "The event log cannot store events just now: send them again"},
}


def _answers(accepted, refused, stored=None) -> dict:
    """What an ingestion endpoint answers (it writes its replies itself)."""
    return {
        200: accepted,
        **({201: stored} if stored else {}),
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut | IngestRefused,
        413: ErrorOut,
        422: refused,
        503: ErrorOut,
    }


_EVENTS = _answers(
    IngestOne | IngestBatch, ErrorOut | IngestRefused | IngestBatch, stored=IngestOne
)


@router.post(
    "/ingest/passages",
    auth=DEVICE_AUTH,
    response=_EVENTS,
    operation_id="ingest_passages",
    summary="Report passages: one JSON object, or a JSON array",
    openapi_extra={**_body_schema(PassageIn, array=True, ndjson=False), "responses": _DESCRIPTIONS},
)
def ingest_passages(request):
    return ingest_request(request, PASSAGE)


@router.post(
    "/ingest/passages/bulk",
    auth=DEVICE_AUTH,
    response=_EVENTS,
    operation_id="ingest_passages_bulk",
    summary="Report up to 10,000 passages: a JSON array or NDJSON",
    openapi_extra={**_body_schema(PassageIn, array=True, ndjson=True), "responses": _DESCRIPTIONS},
)
def ingest_passages_bulk(request):
    return ingest_request(request, PASSAGE, bulk=True)


@router.post(
    "/ingest/alarms",
    auth=DEVICE_AUTH,
    response=_EVENTS,
    operation_id="ingest_alarms",
    summary="Report device alarms: one JSON object, a JSON array, or NDJSON",
    openapi_extra={**_body_schema(AlarmIn, array=True, ndjson=True), "responses": _DESCRIPTIONS},
)
def ingest_alarms(request):
    return ingest_request(request, ALARM)


@router.post(
    "/ingest/heartbeat",
    auth=DEVICE_AUTH,
    response=_answers(HeartbeatOut, ErrorOut | IngestRefused),
    operation_id="ingest_heartbeat",
    summary="A heartbeat carrying the device clock; answers the measured clock offset",
    openapi_extra={
        **_body_schema(HeartbeatIn, array=False, ndjson=False),
        "responses": _DESCRIPTIONS,
    },
)
def ingest_heartbeat(request):
    return ingest_request(request, HEARTBEAT)


# --- reading, for people -------------------------------------------------------------------


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A query's date and time, in the platform's zone when it names none; refused (a 422)
    when it cannot be converted (the first or last day a datetime can hold)."""
    if value is None:
        return value
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise ValueError(_("This date and time is out of range.")) from None
    return value


class TimeFilters(Schema):
    since: dt.datetime | None = Field(None, description="Event time from (inclusive)")
    until: dt.datetime | None = Field(None, description="Event time until (exclusive)")

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value):
        return aware(value)

    def apply(self, qs):
        if self.since is not None:
            qs = qs.filter(event_time__gte=self.since)
        if self.until is not None:
            qs = qs.filter(event_time__lt=self.until)
        return qs


class PassageFilters(TimeFilters):
    device: DbInt | None = None
    zone: DbInt | None = None
    credential: str | None = Field(None, max_length=64, pattern=r"^[^\x00]*$")


class PassageOut(Schema):
    id: int
    device: int = Field(alias="device_id")
    device_serial: str = Field(alias="device.serial")
    zone: int = Field(alias="zone_id")
    device_event_id: str
    event_time: dt.datetime
    received_time: dt.datetime
    direction: str
    method: str
    credential: str
    confidence: float | None
    snapshot: str


@router.get(
    "/passages",
    response=list[PassageOut],
    operation_id="list_passages",
    summary="Passages, newest event time first",
)
@paginate(Pagination)
def list_passages(request, filters: Query[PassageFilters]):
    qs = Passage.objects.restrict(request.auth, VIEW).select_related("device")
    for name in ("device", "zone"):
        value = getattr(filters, name)
        if value is not None:
            qs = qs.filter(**{name: value})
    if filters.credential is not None:
        qs = qs.filter(credential=filters.credential)
        if filters.credential:  # found by the index (an empty one is not in it)
            qs = qs.filter(
                credentials.passages_q([filters.credential], filters.since, filters.until)
            )
    return filters.apply(qs)


class AlarmFilters(TimeFilters):
    device: DbInt | None = None
    zone: DbInt | None = None
    kind: str | None = Field(None, max_length=16, pattern=r"^[a-z_]*$")


class AlarmOut(Schema):
    id: int
    device: int = Field(alias="device_id")
    device_serial: str = Field(alias="device.serial")
    zone: int = Field(alias="zone_id")
    device_event_id: str
    kind: str
    state: str
    event_time: dt.datetime
    received_time: dt.datetime
    snapshot: str
    detail: dict


@router.get(
    "/alarms",
    response=list[AlarmOut],
    operation_id="list_device_alarms",
    summary="Device alarms, newest event time first",
)
@paginate(Pagination)
def list_alarms(request, filters: Query[AlarmFilters]):
    qs = DeviceAlarm.objects.restrict(request.auth, VIEW).select_related("device")
    for name in ("device", "zone", "kind"):
        value = getattr(filters, name)
        if value is not None:
            qs = qs.filter(**{name: value})
    return filters.apply(qs)


class DeviceLinkFilters(Schema):
    zone: DbInt | None = None
    clock_skew: bool | None = None


class DeviceLinkOut(Schema):
    id: int
    serial: str
    name: str
    zone: int = Field(alias="zone_id")
    active: bool
    heartbeat_seconds: int
    last_seen: dt.datetime | None
    last_heartbeat: dt.datetime | None
    clock_offset_s: float | None
    clock_skew: bool
    silent: bool

    @staticmethod
    def _link(obj):
        return getattr(obj, "link", None)

    @staticmethod
    def resolve_last_seen(obj):
        link = DeviceLinkOut._link(obj)
        return link.last_seen if link else None

    @staticmethod
    def resolve_last_heartbeat(obj):
        link = DeviceLinkOut._link(obj)
        return link.last_heartbeat if link else None

    @staticmethod
    def resolve_clock_offset_s(obj):
        link = DeviceLinkOut._link(obj)
        return link.clock_offset_s if link else None

    @staticmethod
    def resolve_clock_skew(obj):
        link = DeviceLinkOut._link(obj)
        return bool(link and link.clock_skew)

    @staticmethod
    def resolve_silent(obj):
        """Nothing heard for three heartbeat intervals (or never)."""
        link = DeviceLinkOut._link(obj)
        return is_silent(link and link.last_seen, obj.heartbeat_seconds, timezone.now())


@router.get(
    "/devices",
    response=list[DeviceLinkOut],
    operation_id="list_device_links",
    summary="Devices with what was last heard from them: last seen, heartbeat, clock",
)
@paginate(Pagination)
def list_device_links(request, filters: Query[DeviceLinkFilters]):
    qs = Device.objects.restrict(request.auth, VIEW).select_related("link").order_by("id")
    if filters.zone is not None:
        qs = qs.filter(zone=filters.zone)
    if filters.clock_skew is not None:
        qs = (
            qs.filter(link__clock_skew=True)
            if filters.clock_skew
            else qs.exclude(link__clock_skew=True)
        )
    return qs


# --- presences, trajectories, occupancy and muster lists ---------------------------------

TRAJECTORY_DEFAULT = dt.timedelta(hours=24)
TRAJECTORY_MAX = dt.timedelta(days=31)
TRAJECTORY_LIMIT = 5000  # of each kind (presences, passages); more: "truncated"

ZONE_EXTRA = {"x-anyuan-model": "registry.zone"}


def require(user, action: str = VIEW) -> None:
    """Presences (and with them occupancy, muster lists, trajectories) at all?"""
    if not user_can(user, Presence, action):
        raise PermissionDenied(_("You may not do this."))


def _check_id(pk) -> None:
    if not isinstance(pk, int) or not 0 < pk <= core_actions.DB_INT_MAX:
        raise Http404  # no row has such an id (and the database could not compare it)


def visible_zone(user, pk: int) -> Zone:
    """A zone the user may see; any other id is a 404 (its existence is not revealed)."""
    _check_id(pk)
    zone = (
        Zone.objects.restrict(user, VIEW)
        .filter(pk=pk)
        .only("id", "name", "path", "depth", "capacity")
        .first()
    )
    if zone is None:
        raise Http404
    return zone


def query_error(field: str, message: str) -> ValidationError:
    return ValidationError([{"loc": ["query", field], "msg": message, "type": "value_error"}])


def window(start, end, *, default=TRAJECTORY_DEFAULT, limit=TRAJECTORY_MAX):
    """(start, end) of a required time window: the last ``default`` when neither end is
    given, ``default`` from or up to the one given; at most ``limit`` long. Anything else
    raises a ``ValidationError`` (a 422)."""
    try:
        if end is None:
            end = start + default if start is not None else timezone.now()
        if start is None:
            start = end - default
    except OverflowError:
        raise query_error("from", _("This date and time is out of range.")) from None
    if end <= start:
        raise query_error("to", _("The end of the time window must be after its start."))
    if end - start > limit:
        raise query_error(
            "to", _("The time window may be at most %(days)d days.") % {"days": limit.days}
        )
    return start, end


def overlapping(qs, start, end):
    """Presences whose stay overlaps [start, end): a stay runs from its entry (an exit
    without entry: from its exit) to its exit (an open one: until now)."""
    if end is not None:
        qs = qs.filter(Q(entered_at__lt=end) | Q(entered_at__isnull=True, left_at__lt=end))
    if start is not None:
        qs = qs.filter(Q(left_at__isnull=True) | Q(left_at__gte=start))
    return qs


def presence_values(qs):
    return qs.values(
        "id",
        "subject_kind",
        "person_id",
        "vehicle_id",
        "method",
        "credential",
        "zone_id",
        "entered_at",
        "left_at",
        "exit_first",
        person_name=F("person__name"),
        vehicle_plate=F("vehicle__plate"),
        zone_name=F("zone__name"),
        inside=ExpressionWrapper(Q(left_at__isnull=True), output_field=BooleanField()),
    )


class WindowFilters(Schema):
    from_: dt.datetime | None = Field(None, alias="from", description="From (inclusive)")
    to: dt.datetime | None = Field(None, description="To (exclusive)")

    @field_validator("from_", "to")
    @classmethod
    def _aware(cls, value):
        return aware(value)


class PresenceFilters(WindowFilters):
    zone: DbInt | None = Field(None, description="A zone; the zones below it count too")
    person: DbInt | None = None
    vehicle: DbInt | None = None
    credential: str | None = Field(None, max_length=64, pattern=r"^[^\x00]*$")
    inside: bool | None = Field(
        None, description="true: open presences only (inside now); false: closed ones only"
    )


class PresenceOut(Schema):
    id: int
    subject_kind: str
    person: int | None = Field(alias="person_id")
    person_name: str | None
    vehicle: int | None = Field(alias="vehicle_id")
    vehicle_plate: str | None
    method: str
    credential: str
    zone: int = Field(alias="zone_id")
    zone_name: str
    entered_at: dt.datetime | None
    left_at: dt.datetime | None
    exit_first: bool
    inside: bool


@router.get(
    "/presences",
    response=list[PresenceOut],
    operation_id="list_presences",
    summary="Stays of people, vehicles and strangers in zones, latest entry first",
)
@paginate(Pagination)
def list_presences(request, filters: Query[PresenceFilters]):
    user = request.auth
    if filters.from_ and filters.to and filters.to <= filters.from_:
        raise query_error("to", _("The end of the time window must be after its start."))
    qs = Presence.objects.restrict(user, VIEW)
    if filters.zone is not None:
        path = Zone.objects.restrict(user, VIEW).filter(pk=filters.zone).values_list("path")
        path = path.first()
        qs = qs.filter(zone__path__startswith=path[0]) if path and path[0] else qs.none()
    for name in ("person", "vehicle", "credential"):
        value = getattr(filters, name)
        if value is not None:
            qs = qs.filter(**{name: value})
    if filters.inside is not None:
        qs = qs.filter(left_at__isnull=filters.inside)
    qs = overlapping(qs, filters.from_, filters.to)
    return presence_values(qs.order_by(F("entered_at").desc(nulls_last=True), "-id"))


# -- trajectory


class PassagesOf(NamedTuple):
    """A subject's passages: the condition on the log, and the credentials it names (to
    find them by the index, :func:`anyuan.events.credentials.passages_q`)."""

    condition: Q
    credentials: tuple[str, ...]


def person_subject(user, pk: int) -> tuple[dict, PassagesOf | None]:
    """(the person, the passages that are theirs) — the credentials matched the way the
    processor matches them, within the person's station; a 404 if not visible."""
    _check_id(pk)
    row = (
        Person.objects.restrict(user, VIEW)
        .filter(pk=pk)
        .values("id", "name", "station_id", "enterprise_id", "face_id", "card_number")
        .annotate(number=F("employee_number"))
        .first()
    )
    if row is None:
        raise Http404
    cond = Q()
    if row["face_id"]:
        cond |= Q(method=Method.FACE, credential=row["face_id"])
    if row["card_number"]:
        cond |= Q(method=Method.CARD, credential=row["card_number"])
    number = row["number"]
    if number:
        holders = Person.objects.filter(station_id=row["station_id"], employee_number=number)
        by_number = Q(method=Method.EMPLOYEE_NUMBER, credential=number)
        if holders.count() == 1:
            cond |= by_number  # unique in the station: it is this person in every zone
        elif row["enterprise_id"]:
            # held by several people: this one only in the zones of their own enterprise
            cond |= by_number & Q(zone__enterprise_id=row["enterprise_id"])
    subject = {"kind": SubjectKind.PERSON.value, "id": row["id"], "name": row["name"]}
    if not cond:
        return subject, None
    names = tuple(row[k] for k in ("face_id", "card_number", "number") if row[k])
    return subject, PassagesOf(cond & Q(zone__park__station_id=row["station_id"]), names)


def vehicle_subject(user, pk: int) -> tuple[dict, PassagesOf | None]:
    _check_id(pk)
    row = Vehicle.objects.restrict(user, VIEW).filter(pk=pk).values("id", "plate", "station_id")
    row = row.first()
    if row is None:
        raise Http404
    subject = {"kind": SubjectKind.VEHICLE.value, "id": row["id"], "name": row["plate"]}
    if not row["plate"]:
        return subject, None
    cond = Q(method=Method.PLATE, credential=row["plate"], zone__park__station_id=row["station_id"])
    return subject, PassagesOf(cond, (row["plate"],))


def subject_of(user, kind: str, pk: int) -> tuple[dict, PassagesOf | None]:
    """(subject, condition on its passages) of a person or vehicle the user may see, or a
    404 — asked before anything else about the request, so nothing tells an id out of
    reach from one that does not exist."""
    require(user, VIEW)
    return (person_subject if kind == "person" else vehicle_subject)(user, pk)


def trajectory(user, subject: dict, passages_of: PassagesOf | None, start, end) -> dict:
    """A subject's presences and passages in [start, end), in time order (see
    ``subject_of``)."""
    kind, pk = subject["kind"], subject["id"]
    stays = (
        overlapping(Presence.objects.restrict(user, VIEW).filter(**{kind: pk}), start, end)
        .order_by(F("entered_at").asc(nulls_first=True), "id")
        .values(
            "id", "zone_id", "method", "entered_at", "left_at", "exit_first",
            zone_name=F("zone__name"),
        )[: TRAJECTORY_LIMIT + 1]
    )  # fmt: skip
    stays = list(stays)
    passes = []
    if passages_of is not None and user_can(user, Passage, VIEW):
        passes = list(
            Passage.objects.restrict(user, VIEW)
            .filter(
                credentials.passages_q(passages_of.credentials, start, end),
                passages_of.condition,
                event_time__gte=start,
                event_time__lt=end,
            )
            .order_by("event_time", "id")
            .values(
                "id", "event_time", "direction", "method", "zone_id", "device_id",
                zone_name=F("zone__name"), device_serial=F("device__serial"),
                device_name=F("device__name"),
            )[: TRAJECTORY_LIMIT + 1]
        )  # fmt: skip
    truncated = len(stays) > TRAJECTORY_LIMIT or len(passes) > TRAJECTORY_LIMIT
    items = [
        {
            "kind": "presence",
            "id": s["id"],
            "at": s["entered_at"] or s["left_at"],
            "zone": {"id": s["zone_id"], "name": s["zone_name"]},
            "entered_at": s["entered_at"],
            "left_at": s["left_at"],
            "event_time": None,
            "direction": None,
            "method": s["method"],
            "device": None,
            "inside": s["left_at"] is None,
        }
        for s in stays[:TRAJECTORY_LIMIT]
    ] + [
        {
            "kind": "passage",
            "id": p["id"],
            "at": p["event_time"],
            "zone": {"id": p["zone_id"], "name": p["zone_name"]},
            "entered_at": None,
            "left_at": None,
            "event_time": p["event_time"],
            "direction": p["direction"],
            "method": p["method"],
            "device": {
                "id": p["device_id"],
                "serial": p["device_serial"],
                "name": p["device_name"],
            },
            "inside": False,
        }
        for p in passes[:TRAJECTORY_LIMIT]
    ]
    # a passage before the stay it opens
    items.sort(key=lambda i: (i["at"], i["kind"] == "presence", i["id"]))
    return {"subject": subject, "from": start, "to": end, "truncated": truncated, "items": items}


class Ref(Schema):
    id: int
    name: str


class DeviceRef(Schema):
    id: int
    serial: str
    name: str


class SubjectOut(Schema):
    kind: str
    id: int
    name: str


class TrajectoryItem(Schema):
    kind: str = Field(description='"presence" or "passage"')
    id: int
    at: dt.datetime = Field(description="The time the item is ordered by")
    zone: Ref
    entered_at: dt.datetime | None = None
    left_at: dt.datetime | None = None
    event_time: dt.datetime | None = None
    direction: str | None = None
    method: str
    device: DeviceRef | None = None
    inside: bool = Field(description="A presence that is still open")


class TrajectoryOut(Schema):
    subject: SubjectOut
    from_: dt.datetime = Field(alias="from")
    to: dt.datetime
    truncated: bool = Field(description=f"More than {TRAJECTORY_LIMIT} of a kind: narrow it")
    items: list[TrajectoryItem]


def _trajectory_endpoint(kind: str):
    label = {"person": "registry.person", "vehicle": "registry.vehicle"}[kind]

    @router.get(
        f"/trajectory/{kind}/{{int:pk}}",
        response=TrajectoryOut,
        operation_id=f"{kind}_trajectory",
        summary=f"A {kind}'s presences and passages in a time window (default: the last "
        "24 hours; at most 31 days), in time order",
        openapi_extra={"x-anyuan-model": label},
        by_alias=True,
    )
    def endpoint(request, pk: DbInt, query: Query[WindowFilters]):
        subject, passages_of = subject_of(request.auth, kind, pk)
        start, end = window(query.from_, query.to)
        return trajectory(request.auth, subject, passages_of, start, end)

    endpoint.__name__ = f"{kind}_trajectory"
    return endpoint


person_trajectory = _trajectory_endpoint("person")
vehicle_trajectory = _trajectory_endpoint("vehicle")


# -- occupancy and muster


def occupancy_rows(user, path: str) -> tuple[list[dict], Counter]:
    """The zones at and below ``path`` (``""``: every zone) the user may see, each with
    who is inside now: its own open presences (``inside``) and with every zone below it
    (``inside_total``); and the totals by zone id."""
    zones = list(
        Zone.objects.restrict(user, VIEW)
        .filter(path__startswith=path)
        .order_by("path")
        .values("id", "name", "parent_id", "depth", "capacity", "is_transit")
    )
    counts = (
        Presence.objects.restrict(user, VIEW)
        .filter(left_at__isnull=True, zone__path__startswith=path)
        .values_list("zone_id", "zone__path")
        .annotate(n=Count("pk"))
        .order_by()
    )
    own, totals = Counter(), Counter()
    for zone_id, zone_path, n in counts:
        own[zone_id] += n
        for part in zone_path.strip("/").split("/"):
            if part:
                totals[int(part)] += n
    for z in zones:
        z["inside"] = own[z["id"]]
        z["inside_total"] = totals[z["id"]]
        z["over_capacity"] = z["capacity"] is not None and z["inside"] > z["capacity"]
    return zones, totals


class ZoneInsideQuery(Schema):
    zone: DbInt = Field(description="The zone; the zones below it are listed too")


class ZoneInside(Schema):
    id: int
    name: str
    parent: int | None = Field(alias="parent_id")
    depth: int
    capacity: int | None
    is_transit: bool
    inside: int = Field(description="Open presences in this zone itself")
    inside_total: int = Field(description="Open presences in this zone and every zone below")
    over_capacity: bool


class ZoneInsideOut(Schema):
    zone: Ref
    capacity: int | None
    inside: int = Field(description="Who is inside now: the zone and every zone below it")
    zones: list[ZoneInside]


@router.get(
    "/occupancy",
    response={200: ZoneInsideOut, **errors(404)},
    operation_id="zone_occupancy",
    summary="Who is inside now, counted per zone: the zone and every zone below it",
)
def zone_occupancy(request, query: Query[ZoneInsideQuery]):
    user = request.auth
    require(user, VIEW)
    zone = visible_zone(user, query.zone)
    zones, totals = occupancy_rows(user, zone.path)
    capacity = next((z["capacity"] for z in zones if z["id"] == zone.pk), None)
    return {
        "zone": {"id": zone.pk, "name": zone.name},
        "capacity": capacity,
        "inside": totals[zone.pk],
        "zones": zones,
    }


def muster_values(user, zone: Zone) -> list[dict]:
    """The muster list of ``zone`` (every zone below it too) as the user may see it."""
    rows = processor.muster(zone, Presence.objects.restrict(user, VIEW)).values(
        "id",
        "zone_id",
        "subject_kind",
        "person_id",
        "vehicle_id",
        "method",
        "credential",
        "entered_at",
        zone_name=F("zone__name"),
        name=F("person__name"),
        plate=F("vehicle__plate"),
    )
    return list(rows)


MUSTER_FORMATS = {
    "csv": spreadsheets.CSV_CONTENT_TYPE,
    "xlsx": spreadsheets.XLSX_CONTENT_TYPE,
}


def muster_export(user, zone: Zone, fmt: str = "csv", *, remote_addr=None) -> HttpResponse:
    """The muster list as a download (CSV, or XLSX for the people with the list in
    hand at the assembly point): an export — the ``export`` permission on presences,
    audited. Names, plates and credentials; no ID numbers or phones."""
    import io

    if fmt not in MUSTER_FORMATS:
        raise ValueError(fmt)
    require(user, EXPORT)
    rows = list(processor.muster_rows(zone, Presence.objects.restrict(user, EXPORT)))
    core_actions.record_export(
        user, Presence, count=len(rows), fmt=fmt, personal=False, remote_addr=remote_addr
    )

    def text(value):
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            return timezone.localtime(value).isoformat(timespec="seconds")
        return str(value)

    lines = [list(processor.MUSTER_COLUMNS), *([text(v) for v in row] for row in rows)]
    now = timezone.localtime()
    if fmt == "csv":
        body = "".join(spreadsheets.csv_chunks(lines))
    else:
        out = io.BytesIO()
        spreadsheets.write_xlsx(lines, out, f"muster {zone.code or zone.pk}")
        body = out.getvalue()
    response = HttpResponse(body, content_type=MUSTER_FORMATS[fmt])
    response["Content-Disposition"] = (
        f'attachment; filename="muster-{zone.pk}-{now:%Y%m%d-%H%M}.{fmt}"'
    )
    return response


class MusterRow(Schema):
    id: int
    zone: int = Field(alias="zone_id")
    zone_name: str
    subject_kind: str
    person: int | None = Field(alias="person_id")
    name: str | None
    vehicle: int | None = Field(alias="vehicle_id")
    plate: str | None
    method: str
    credential: str
    entered_at: dt.datetime | None


class MusterOut(Schema):
    zone: Ref
    at: dt.datetime = Field(description="When the list was drawn up")
    count: int
    rows: list[MusterRow]


@router.get(
    "/muster/{int:pk}",
    response=MusterOut,
    operation_id="zone_muster",
    summary="The evacuation muster list: who is inside the zone or any zone below it now",
    openapi_extra=ZONE_EXTRA,
)
def zone_muster(request, pk: DbInt):
    user = request.auth
    require(user, VIEW)
    zone = visible_zone(user, pk)
    rows = muster_values(user, zone)
    return {
        "zone": {"id": zone.pk, "name": zone.name},
        "at": timezone.now(),
        "count": len(rows),
        "rows": rows,
    }


@router.get(
    "/muster/{int:pk}.csv",
    operation_id="zone_muster_csv",
    summary="The muster list as CSV (an export: needs the export permission; audited)",
    openapi_extra={
        **ZONE_EXTRA,
        "responses": {
            "200": {
                "description": "CSV, UTF-8 with a byte order mark",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
    },
)
def zone_muster_csv(request, pk: DbInt):
    user = request.auth
    require(user, VIEW)
    zone = visible_zone(user, pk)
    return muster_export(user, zone, "csv", remote_addr=client_ip(request))


@router.get(
    "/muster/{int:pk}.xlsx",
    operation_id="zone_muster_xlsx",
    summary="The muster list as XLSX (an export: needs the export permission; audited)",
    openapi_extra={
        **ZONE_EXTRA,
        "responses": {
            "200": {
                "description": "An Excel workbook with one sheet",
                "content": {MUSTER_FORMATS["xlsx"]: {"schema": {"type": "string"}}},
            }
        },
    },
)
def zone_muster_xlsx(request, pk: DbInt):
    user = request.auth
    require(user, VIEW)
    zone = visible_zone(user, pk)
    return muster_export(user, zone, "xlsx", remote_addr=client_ip(request))


# --- device status (the device status page and the dashboard) ------------------------------


SILENT_HEARTBEATS = 3  # silent: nothing heard for this many heartbeat intervals
DEVICE_STATUS_LABELS = {
    "silent": gettext_lazy("Silent"),
    "never_heard": gettext_lazy("Never heard"),
    "online": gettext_lazy("Online"),
    "inactive": gettext_lazy("Switched off"),
}


def is_silent(last_seen, heartbeat_seconds: int, now) -> bool:
    """Nothing heard for ``SILENT_HEARTBEATS`` heartbeat intervals (or never)."""
    if last_seen is None:
        return True
    return (now - last_seen).total_seconds() > SILENT_HEARTBEATS * max(heartbeat_seconds, 1)


def device_states(user, where: Q | None = None, now=None) -> tuple[list[dict], dict]:
    """The devices in reach (narrowed by ``where`` on devices) with status — online,
    silent, never heard, switched off — last heard and clock state; silent ones first,
    the longest silence first. Two queries. Shared by the device status page and the
    dashboard."""
    now = now or timezone.now()
    devices = list(
        Device.objects.restrict(user, VIEW)
        .filter(where or Q())
        .order_by("zone__path", "serial")
        .values(
            "id", "serial", "name", "kind", "active", "heartbeat_seconds", "zone_id",
            zone_name=F("zone__name"),
        )
    )  # fmt: skip
    links = {
        row[0]: row[1:]
        for row in DeviceLink.objects.restrict(user, VIEW).values_list(
            "device_id", "last_seen", "clock_skew", "clock_offset_s"
        )
    }
    counts: dict[str, int] = {}
    order = list(DEVICE_STATUS_LABELS)
    for d in devices:
        seen, skew, offset = links.get(d["id"], (None, False, None))
        if not d["active"]:
            status = "inactive"
        elif seen is None:
            status = "never_heard"
        elif is_silent(seen, d["heartbeat_seconds"], now):
            status = "silent"
        else:
            status = "online"
        d.update(
            status=status,
            status_label=DEVICE_STATUS_LABELS[status],
            last_seen=seen,
            quiet_minutes=int((now - seen).total_seconds() // 60) if seen else None,
            clock_skew=skew,
            clock_offset_s=offset,
        )
        counts[status] = counts.get(status, 0) + 1
    devices.sort(key=lambda d: (order.index(d["status"]), -(d["quiet_minutes"] or 0)))
    return devices, counts


# --- events the processor set aside (police only) -----------------------------------------

QUARANTINE_EXTRA = {"x-anyuan-model": "events.quarantine"}


class QuarantineFilters(Schema):
    state: inline_choices(Quarantine.State) | None = Field(
        None, description="held, queued (replay requested), replayed or dismissed; default: all"
    )
    reason: inline_choices(Quarantine.Reason) | None = None
    zone: DbInt | None = None


class QuarantineOut(Schema):
    id: int
    processor: str
    event: str = Field(description="passage or alarm")
    passage: int | None = Field(alias="passage_id")
    alarm: int | None = Field(alias="alarm_id")
    zone: int = Field(alias="zone_id")
    reason: str
    message: str
    state: str
    attempts: int
    created: dt.datetime
    updated: dt.datetime
    replayed_at: dt.datetime | None

    @staticmethod
    def resolve_event(obj):
        return "passage" if obj.passage_id else "alarm"


def quarantine_rows(user, action: str = VIEW):
    """The set-aside events ``user`` may see (or change): the police of the zone's
    station; anyone else may not (403)."""
    if not user_can(user, Quarantine, action):
        raise PermissionDenied(_("You may not do this."))
    return Quarantine.objects.restrict(user, action)


@router.get(
    "/quarantine",
    response=list[QuarantineOut],
    operation_id="list_quarantine",
    summary="Events the processor set aside (could not place), newest first",
)
@paginate(Pagination)
def list_quarantine(request, filters: Query[QuarantineFilters]):
    qs = quarantine_rows(request.auth)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.reason:
        qs = qs.filter(reason=filters.reason)
    if filters.zone is not None:
        qs = qs.filter(zone_id=filters.zone)
    return qs.order_by("-created", "-pk")


def quarantine_step(request, pk: int, step) -> Status:
    """A step on one set-aside event: 404 out of reach, 409 when its state does not
    allow it, else the row as it is now."""
    _check_id(pk)
    entry = quarantine_rows(request.auth, CHANGE).filter(pk=pk).first()
    if entry is None:
        raise Http404
    try:
        step(request.auth, entry, remote_addr=client_ip(request))
    except actions.StepRefused as e:
        return Status(409, {"detail": e.message})
    return Status(200, quarantine_rows(request.auth).get(pk=pk))


@router.post(
    "/quarantine/{int:pk}/replay",
    response={200: QuarantineOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    operation_id="replay_quarantine",
    summary="Replay a set-aside event: the processor takes it again in its next batch",
    openapi_extra=QUARANTINE_EXTRA,
)
def replay_quarantine(request, pk: int):
    return quarantine_step(request, pk, actions.replay)


@router.post(
    "/quarantine/{int:pk}/dismiss",
    response={200: QuarantineOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    operation_id="dismiss_quarantine",
    summary="Dismiss a set-aside event: it stays in the log, unprocessed",
    openapi_extra=QUARANTINE_EXTRA,
)
def dismiss_quarantine(request, pk: int):
    return quarantine_step(request, pk, actions.dismiss)
