"""REST endpoints of the event core, mounted at /api/v1/events.

Device endpoints (``/ingest/...``) authenticate the device by its token
(``Authorization: Bearer ayd_…``) and follow the contract of :mod:`anyuan.events.ingest`;
in a deployment the lean ASGI route (:mod:`anyuan.events.asgi_ingest`) answers the same
paths before Django sees them, with the same results. Reading endpoints are for people
(session or API token) and fetch rows only through ``restrict()``.

Routes and schemas only: what they read comes from the read model,
:mod:`anyuan.events.queries` (shared with the pages, the dashboard, tracing and the alert
rules).
"""

import datetime as dt

from django.http import Http404, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.security import HttpBearer
from pydantic import field_validator

from anyuan.core.api import DbInt, ErrorOut, Pagination, client_ip, errors, inline_choices
from anyuan.core.roles import CHANGE, VIEW
from anyuan.events import actions, credentials, queries
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
    Passage,
    Quarantine,
)
from anyuan.registry.models import Device

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


def download(file: queries.Download) -> HttpResponse:
    response = HttpResponse(file.body, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    return response


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


class TimeFilters(Schema):
    since: dt.datetime | None = Field(None, description="Event time from (inclusive)")
    until: dt.datetime | None = Field(None, description="Event time until (exclusive)")

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value):
        return queries.aware(value)

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
        return queries.is_silent(link and link.last_seen, obj.heartbeat_seconds, timezone.now())


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

ZONE_EXTRA = {"x-anyuan-model": "registry.zone"}


class WindowFilters(Schema):
    from_: dt.datetime | None = Field(None, alias="from", description="From (inclusive)")
    to: dt.datetime | None = Field(None, description="To (exclusive)")

    @field_validator("from_", "to")
    @classmethod
    def _aware(cls, value):
        return queries.aware(value)


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
        raise queries.query_error("to", _("The end of the time window must be after its start."))
    return queries.presences(
        user, zone=filters.zone, person=filters.person, vehicle=filters.vehicle,
        credential=filters.credential, inside=filters.inside, start=filters.from_,
        end=filters.to,
    )  # fmt: skip


# -- trajectory


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
    truncated: bool = Field(
        description=f"More than {queries.TRAJECTORY_LIMIT} of a kind: narrow it"
    )
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
        subject, passages_of = queries.subject_of(request.auth, kind, pk)
        start, end = queries.window(query.from_, query.to)
        return queries.trajectory(request.auth, subject, passages_of, start, end)

    endpoint.__name__ = f"{kind}_trajectory"
    return endpoint


person_trajectory = _trajectory_endpoint("person")
vehicle_trajectory = _trajectory_endpoint("vehicle")


# -- occupancy and muster


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
    queries.require(user, VIEW)
    zone = queries.visible_zone(user, query.zone)
    zones, totals = queries.occupancy_rows(user, zone.path)
    capacity = next((z["capacity"] for z in zones if z["id"] == zone.pk), None)
    return {
        "zone": {"id": zone.pk, "name": zone.name},
        "capacity": capacity,
        "inside": totals[zone.pk],
        "zones": zones,
    }


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
    queries.require(user, VIEW)
    zone = queries.visible_zone(user, pk)
    rows = queries.muster_values(user, zone)
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
    queries.require(user, VIEW)
    zone = queries.visible_zone(user, pk)
    return download(queries.muster_file(user, zone, "csv", remote_addr=client_ip(request)))


@router.get(
    "/muster/{int:pk}.xlsx",
    operation_id="zone_muster_xlsx",
    summary="The muster list as XLSX (an export: needs the export permission; audited)",
    openapi_extra={
        **ZONE_EXTRA,
        "responses": {
            "200": {
                "description": "An Excel workbook with one sheet",
                "content": {queries.MUSTER_FORMATS["xlsx"]: {"schema": {"type": "string"}}},
            }
        },
    },
)
def zone_muster_xlsx(request, pk: DbInt):
    user = request.auth
    queries.require(user, VIEW)
    zone = queries.visible_zone(user, pk)
    return download(queries.muster_file(user, zone, "xlsx", remote_addr=client_ip(request)))


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


@router.get(
    "/quarantine",
    response=list[QuarantineOut],
    operation_id="list_quarantine",
    summary="Events the processor set aside (could not place), newest first",
)
@paginate(Pagination)
def list_quarantine(request, filters: Query[QuarantineFilters]):
    qs = queries.quarantine_rows(request.auth)
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
    queries.check_id(pk)
    entry = queries.quarantine_rows(request.auth, CHANGE).filter(pk=pk).first()
    if entry is None:
        raise Http404
    try:
        step(request.auth, entry, remote_addr=client_ip(request))
    except actions.StepRefused as e:
        return Status(409, {"detail": e.message})
    return Status(200, queries.quarantine_rows(request.auth).get(pk=pk))


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
