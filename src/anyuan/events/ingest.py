"""The device ingestion contract, independent of any web framework.

One request from a device goes through three steps, the same behind the lean ASGI route
(:mod:`anyuan.events.asgi_ingest`) and behind the Ninja endpoints (:mod:`anyuan.events.api`):

1. :func:`bearer` takes the device token from the ``Authorization`` header;
2. :func:`prepare` reads the body (one JSON object, a JSON array or NDJSON) and validates
   every item with the same Pydantic schemas (no database work);
3. :func:`anyuan.events.actions.commit` authenticates the device, stores the accepted
   items with ``INSERT … ON CONFLICT DO NOTHING`` and commits; only then is the
   :class:`Reply` sent.

Limits come from settings (defaults in brackets): ``ANYUAN_INGEST_MAX_ITEMS`` [10,000]
items and ``ANYUAN_INGEST_MAX_BYTES`` [8 MiB] per request, ``ANYUAN_EVENT_MAX_FUTURE_S``
[1,800 s] an event may be ahead of the platform clock, ``ANYUAN_EVENT_MAX_AGE_S``
[30 days] it may be behind, ``ANYUAN_CLOCK_SKEW_TOLERANCE_S`` [120 s] before a device's
clock is flagged. See ``docs/events.md``.
"""

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from django.conf import settings
from django.utils.translation import gettext as _
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError, to_json

PASSAGE, ALARM, HEARTBEAT = "passage", "alarm", "heartbeat"
KINDS = (PASSAGE, ALARM, HEARTBEAT)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")

STORED, DUPLICATE, REFUSED = "stored", "duplicate", "refused"


@dataclass(frozen=True)
class Limits:
    max_items: int
    max_bytes: int
    max_future: dt.timedelta
    max_age: dt.timedelta
    skew_tolerance: float


def limits() -> Limits:
    return Limits(
        max_items=int(settings.ANYUAN_INGEST_MAX_ITEMS),
        max_bytes=int(settings.ANYUAN_INGEST_MAX_BYTES),
        max_future=dt.timedelta(seconds=settings.ANYUAN_EVENT_MAX_FUTURE_S),
        max_age=dt.timedelta(seconds=settings.ANYUAN_EVENT_MAX_AGE_S),
        skew_tolerance=float(settings.ANYUAN_CLOCK_SKEW_TOLERANCE_S),
    )


# --- the schemas ---------------------------------------------------------------------------

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_VISIBLE_ASCII = re.compile(r"^[\x21-\x7e]+$")


def _text(value: Any) -> Any:
    """Text without control characters or lone surrogates (no database stores them)."""
    if isinstance(value, str):
        value = value.strip()
        if _UNSAFE.search(value):
            raise PydanticCustomError("text", _("Contains characters that are not allowed."))
    return value


def _identifier(value: Any) -> Any:
    """An event id or a serial: text or a whole number, visible ASCII without spaces."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PydanticCustomError("identifier_type", _("Give text or a whole number."))
    value = str(value).strip()
    if value and not _VISIBLE_ASCII.match(value):
        raise PydanticCustomError(
            "identifier", _("Use letters, digits and punctuation only, without spaces.")
        )
    return value


def _time_text(value: Any) -> Any:
    if not isinstance(value, str) or len(value) > 40:
        raise PydanticCustomError(
            "time_format",
            _("Give the time as ISO 8601 text with a UTC offset, e.g. 2026-11-02T08:00:00+08:00."),
        )
    return value


Identifier = Annotated[str, BeforeValidator(_identifier), Field(min_length=1, max_length=64)]
Time = Annotated[AwareDatetime, BeforeValidator(_time_text)]
Text64 = Annotated[str, BeforeValidator(_text), Field(max_length=64)]
Serial = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=64)]
Text255 = Annotated[str, BeforeValidator(_text), Field(max_length=255)]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    device: Serial | None = Field(
        None,
        description=(
            "The device's serial number: the token's device if given; with a platform's "
            "token required, one of the devices registered under the platform."
        ),
    )
    event_id: Identifier = Field(
        description="The device's own id of the event; a repeated delivery is stored once."
    )
    event_time: Time = Field(description="When it happened, by the device clock (with offset).")
    sent_time: Time | None = Field(
        None, description="When the device sent it, by the device clock: measures clock skew."
    )


class PassageIn(EventIn):
    direction: Literal["in", "out"] | None = Field(
        None, description="Omitted: the device's own direction (if it has only one)."
    )
    method: Literal["face", "card", "employee_number", "plate"]
    credential: Text64 = Field(
        "", description="Face match id, card number, employee number or plate."
    )
    confidence: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    snapshot: Text255 = Field("", description="A reference to the snapshot image.")


class AlarmIn(EventIn):
    kind: Literal["intrusion", "object_missing", "object_removed", "tamper", "door_forced"]
    state: Literal["start", "stop", "pulse"] = "pulse"
    snapshot: Text255 = ""
    detail: dict[str, Any] | None = None


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    device: Serial | None = None
    event_time: Time = Field(description="The device clock when it sent the heartbeat.")


SCHEMAS: dict[str, type[BaseModel]] = {PASSAGE: PassageIn, ALARM: AlarmIn, HEARTBEAT: HeartbeatIn}

# The bulk fast path: the text fields checked by patterns inside Pydantic instead of by a
# Python function each (half the validation time of a 10,000-event body). These accept
# only text that needs no change — no surrounding spaces to strip, no number as an event
# id — and that the schemas above accept as it is, so both give the same data; anything
# else fails here and is validated by the schemas above, which give the precise message.
_CLEAN = r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?"
_FastSerial = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=f"^{_CLEAN}$")]
_FastId = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,64}$")]


def _fast_text(max_length: int):
    return Annotated[str, StringConstraints(max_length=max_length, pattern=f"^(?:{_CLEAN})?$")]


class _FastPassageIn(PassageIn):
    device: _FastSerial | None = None
    event_id: _FastId
    credential: _fast_text(64) = ""
    snapshot: _fast_text(255) = ""


class _FastAlarmIn(AlarmIn):
    device: _FastSerial | None = None
    event_id: _FastId
    snapshot: _fast_text(255) = ""


_FAST_SCHEMAS: dict[str, type[BaseModel]] = {PASSAGE: _FastPassageIn, ALARM: _FastAlarmIn}
MAX_DETAIL_BYTES = 4096


# --- results -------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: dict

    def json(self) -> bytes:
        return to_json(self.body)  # compact UTF-8, in Rust: a quarter of json.dumps's time


@dataclass(slots=True)
class Item:
    """One item of a request: validated (``data``) or refused (``error``)."""

    index: int
    event_id: str | None = None
    data: BaseModel | None = None
    error: dict | None = None
    status: str | None = None
    source: Any = None  # the device of an event a platform uploads (``actions.DeviceInfo``)

    def refuse(self, field_name: str, message: str, code: str = "invalid") -> None:
        self.data, self.status = None, REFUSED
        self.error = {"field": field_name, "message": str(message), "code": code}

    def result(self) -> dict:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.event_id is not None:
            out["event_id"] = self.event_id
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class Prepared:
    """A request's items, validated; what :func:`anyuan.events.actions.commit` stores."""

    kind: str
    single: bool  # one JSON object: answered with one result, not a list
    received: dt.datetime
    items: list[Item] = field(default_factory=list)
    # the highest event time of the request by the device clock (for refused items too):
    # a device clock far ahead shows here even when its events are refused
    latest_event_time: dt.datetime | None = None


def error_reply(status: int, message: str) -> Reply:
    return Reply(status, {"detail": str(message)})


def bearer(authorization: str | None) -> str | Reply:
    """The token of ``Authorization: Bearer <token>``, or the 401 reply."""
    scheme, _sep, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return error_reply(
            401, _("A device token is required: send the header Authorization: Bearer <token>.")
        )
    return token


def too_large(max_bytes: int) -> Reply:
    return error_reply(
        413,
        _("The request body is larger than %(size)d bytes; send fewer events per request.")
        % {"size": max_bytes},
    )


# --- parsing and validation ----------------------------------------------------------------


def _constant(name: str):
    raise ValueError(name)  # NaN and Infinity are not JSON


def _loads(data: bytes | str):
    return json.loads(data, parse_constant=_constant)


def prepare(
    kind: str,
    body: bytes | None,
    content_type: str = "",
    *,
    received: dt.datetime,
    bulk: bool = False,
    lim: Limits | None = None,
) -> Prepared | Reply:
    """Parse and validate a request body. ``body is None`` means it was too large to read."""
    lim = lim or limits()
    if body is None or len(body) > lim.max_bytes:
        return too_large(lim.max_bytes)
    if not body.strip():
        return error_reply(400, _("The request body is empty."))
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return error_reply(400, _("The request body is not UTF-8 text."))
    if mime in NDJSON_TYPES and kind != HEARTBEAT:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > lim.max_items:
            return _too_many(len(lines), lim)
        prepared = Prepared(kind, single=False, received=received)
        for index, line in enumerate(lines):
            try:
                raw = _loads(line)
            except (ValueError, RecursionError):
                item = Item(index)
                item.refuse("", _("This line is not valid JSON."), "json")
                prepared.items.append(item)
                continue
            prepared.items.append(_validate(kind, index, raw, prepared, lim))
        return prepared
    try:
        raw = _loads(text)
    except (ValueError, RecursionError):
        return error_reply(400, _("The request body is not valid JSON."))
    if kind == HEARTBEAT:
        if not isinstance(raw, dict):
            return error_reply(422, _("Send one JSON object."))
        prepared = Prepared(kind, single=True, received=received)
        prepared.items.append(_validate(kind, 0, raw, prepared, lim))
        return prepared
    if isinstance(raw, dict):
        values, single = [raw], not bulk
    elif isinstance(raw, list):
        values, single = raw, False
    else:
        return error_reply(422, _("Send one JSON object, a JSON array of objects, or NDJSON."))
    if len(values) > lim.max_items:
        return _too_many(len(values), lim)
    prepared = Prepared(kind, single=single, received=received)
    many = _validate_all(kind, values) if len(values) > 1 else None
    if many is not None:  # every item valid as far as the schema goes: one call for all
        prepared.items = _check_all(many, prepared, lim)
    else:
        prepared.items = [_validate(kind, i, v, prepared, lim) for i, v in enumerate(values)]
    return prepared


_LIST_ADAPTERS = {k: TypeAdapter(list[schema]) for k, schema in _FAST_SCHEMAS.items()}


def _validate_all(kind: str, values: list) -> list | None:
    """The items validated in one Pydantic call with the fast schemas (a third of the
    time of one call per item), or None when any does not pass: then each is validated
    on its own with the exact schema and gets its own result."""
    try:
        return _LIST_ADAPTERS[kind].validate_python(values)
    except ValidationError:
        return None


def _too_many(n: int, lim: Limits) -> Reply:
    return error_reply(
        413,
        _("A request holds at most %(max)d events; this one has %(n)d. Split it.")
        % {"max": lim.max_items, "n": n},
    )


def _validate(kind: str, index: int, raw: Any, prepared: Prepared, lim: Limits) -> Item:
    item = Item(index)
    if isinstance(raw, dict):
        eid = raw.get("event_id")
        if isinstance(eid, str | int) and not isinstance(eid, bool):
            item.event_id = str(eid)[:64]
    else:
        item.refuse("", _("Each event must be a JSON object."), "invalid")
        return item
    try:
        data = SCHEMAS[kind].model_validate(raw)
    except ValidationError as e:
        field_name, message = describe(e.errors()[0])
        item.refuse(field_name, message)
        return item
    return _check(item, data, prepared, lim)


def _check_all(many: list[BaseModel], prepared: Prepared, lim: Limits) -> list[Item]:
    """:func:`_check` for every item of a request: for passages whose event times all lie
    within the limits and that have no sent time (a platform's upload), the times are
    checked once for the request and each item only for its credential."""
    if prepared.kind != PASSAGE:
        return [_check(Item(i), d, prepared, lim) for i, d in enumerate(many)]
    times = [d.event_time for d in many]
    latest, earliest = max(times), min(times)
    received = prepared.received
    if (
        latest - received > lim.max_future
        or received - earliest > lim.max_age
        or any(d.sent_time is not None for d in many)
    ):
        return [_check(Item(i), d, prepared, lim) for i, d in enumerate(many)]
    if prepared.latest_event_time is None or latest > prepared.latest_event_time:
        prepared.latest_event_time = latest
    return [_check_credential(Item(i, d.event_id), d) for i, d in enumerate(many)]


_PLATE_NOISE = re.compile(r"[\s·•\-]")  # what a plate may be written with, not part of it


def _check_credential(item: Item, data: BaseModel) -> Item:
    """A passage's credential: a plate in one form, a card or employee number given."""
    method = data.method
    if method == "plate":
        data.credential = _PLATE_NOISE.sub("", data.credential).upper()
    elif method != "face" and not data.credential:
        item.refuse(
            "credential", _("A card or employee number passage needs the credential."), "required"
        )
        return item
    item.data = data
    return item


def _check(item: Item, data: BaseModel, prepared: Prepared, lim: Limits) -> Item:
    """The checks beyond the schema (times, plates, credentials, alarm details)."""
    kind = prepared.kind
    if kind != HEARTBEAT:
        item.event_id = data.event_id
    event_time = data.event_time
    if prepared.latest_event_time is None or event_time > prepared.latest_event_time:
        prepared.latest_event_time = event_time
    if kind == HEARTBEAT:
        # a heartbeat's time is the measurement of the device clock: never refused for it
        item.data = data
        return item
    ahead = event_time - prepared.received
    if ahead > lim.max_future:
        item.refuse(
            "event_time",
            _(
                "The event time is more than %(minutes)d minutes ahead of the platform clock; "
                "check the device clock."
            )
            % {"minutes": int(lim.max_future.total_seconds() // 60)},
            "future",
        )
        return item
    if -ahead > lim.max_age:
        item.refuse(
            "event_time",
            _("The event time is more than %(days)d days in the past.")
            % {"days": lim.max_age.days},
            "too_old",
        )
        return item
    sent = getattr(data, "sent_time", None)
    if sent is not None and abs(sent - prepared.received) > lim.max_age:
        item.refuse("sent_time", _("The sent time is not plausible."), "invalid")
        return item
    if kind == PASSAGE:
        return _check_credential(item, data)
    if kind == ALARM and data.detail is not None:
        try:
            encoded = json.dumps(data.detail, ensure_ascii=False).encode("utf-8")
        except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
            encoded = None
        if encoded is None or b"\\u0000" in encoded:
            item.refuse("detail", _("Contains characters that are not allowed."))
            return item
        if len(encoded) > MAX_DETAIL_BYTES:
            item.refuse(
                "detail",
                _("The detail is larger than %(size)d bytes.") % {"size": MAX_DETAIL_BYTES},
            )
            return item
    item.data = data
    return item


def describe(error: dict) -> tuple[str, str]:
    """(field, translated message) for one Pydantic error."""
    loc = [p for p in error.get("loc", ()) if isinstance(p, str)]
    field_name = loc[0] if loc else ""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return field_name, _("This field is required.")
    if kind in ("string_too_short",):
        return field_name, _("This field may not be empty.")
    if kind == "string_too_long":
        return field_name, _("At most %(max)d characters.") % {"max": ctx.get("max_length", 0)}
    if kind == "string_type":
        return field_name, _("Give text.")
    if kind == "literal_error":
        return field_name, _("Choose one of: %(choices)s.") % {"choices": ctx.get("expected", "")}
    if kind == "timezone_aware":
        return field_name, _("The time needs a UTC offset, e.g. 2026-11-02T08:00:00+08:00.")
    if kind.startswith(("datetime", "date_")):
        return field_name, _(
            "Not a valid date and time; use ISO 8601, e.g. 2026-11-02T08:00:00+08:00."
        )
    if kind in ("float_type", "float_parsing", "finite_number"):
        return field_name, _("Give a number.")
    if kind in ("greater_than_equal", "less_than_equal"):
        return field_name, _("Give a number from 0 to 1.")
    if kind in ("dict_type", "model_type"):
        return field_name, _("Give a JSON object.")
    if kind in ("text", "identifier", "identifier_type", "time_format"):
        return field_name, error["msg"]
    return field_name, _("This value is not valid.")
