"""REST endpoints of the event core, mounted at /api/v1/events.

Device endpoints (``/ingest/...``) authenticate the device by its token
(``Authorization: Bearer ayd_…``) and follow the contract of :mod:`anyuan.events.ingest`;
in a deployment the lean ASGI route (:mod:`anyuan.events.asgi_ingest`) answers the same
paths before Django sees them, with the same results. Reading endpoints are for people
(session or API token) and fetch rows only through ``restrict()``.
"""

import datetime as dt

from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.security import HttpBearer
from pydantic import field_validator

from anyuan.core.api import DbInt, Pagination
from anyuan.core.roles import VIEW
from anyuan.events import actions
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
from anyuan.events.models import DeviceAlarm, Passage
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


_RESULTS = {
    "200": {"description": "Accepted (a duplicate, or a batch: see each item's result)"},
    "201": {"description": "Stored"},
    "401": {"description": "No, unknown or revoked device token"},
    "403": {"description": "Deactivated device, or an event of another device"},
    "413": {"description": "Body too large, or too many events"},
    "422": {"description": "Refused: the reasons are in the body"},
}


@router.post(
    "/ingest/passages",
    auth=DEVICE_AUTH,
    operation_id="ingest_passages",
    summary="Report passages: one JSON object, or a JSON array",
    openapi_extra={**_body_schema(PassageIn, array=True, ndjson=False), "responses": _RESULTS},
)
def ingest_passages(request):
    return ingest_request(request, PASSAGE)


@router.post(
    "/ingest/passages/bulk",
    auth=DEVICE_AUTH,
    operation_id="ingest_passages_bulk",
    summary="Report up to 10,000 passages: a JSON array or NDJSON",
    openapi_extra={**_body_schema(PassageIn, array=True, ndjson=True), "responses": _RESULTS},
)
def ingest_passages_bulk(request):
    return ingest_request(request, PASSAGE, bulk=True)


@router.post(
    "/ingest/alarms",
    auth=DEVICE_AUTH,
    operation_id="ingest_alarms",
    summary="Report device alarms: one JSON object, a JSON array, or NDJSON",
    openapi_extra={**_body_schema(AlarmIn, array=True, ndjson=True), "responses": _RESULTS},
)
def ingest_alarms(request):
    return ingest_request(request, ALARM)


@router.post(
    "/ingest/heartbeat",
    auth=DEVICE_AUTH,
    operation_id="ingest_heartbeat",
    summary="A heartbeat carrying the device clock; answers the measured clock offset",
    openapi_extra={**_body_schema(HeartbeatIn, array=False, ndjson=False), "responses": _RESULTS},
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
        if value is None:
            return value
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        try:
            value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError(_("This date and time is out of range.")) from None
        return value

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
    for name in ("device", "zone", "credential"):
        value = getattr(filters, name)
        if value is not None:
            qs = qs.filter(**{name: value})
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
        if link is None or link.last_seen is None:
            return True
        quiet = timezone.now() - link.last_seen
        return quiet > dt.timedelta(seconds=3 * max(obj.heartbeat_seconds, 1))


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
