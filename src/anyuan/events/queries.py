"""The read model of the event core: what the processor keeps, as the pages, the API,
the dashboard, tracing and the alert rules read it.

Pure functions of (user, ...) or of querysets and parameters — no requests, no
responses; ``api.py`` (routes and schemas) and ``views.py`` (pages) call them. Every
read by a person goes through ``restrict()``; rows are read with ``values()`` and
set-based queries, never one query per row.

Concepts defined here once, with their thresholds as parameters (the pages and the
dashboard use the defaults, the alert rules pass their configured values):

- **silent device** (:func:`is_silent`): nothing heard for ``heartbeats`` heartbeat
  intervals (default ``SILENT_HEARTBEATS``; the ``device_silent`` rule's ``heartbeats``);
- **over capacity** (:func:`over_capacity`): more open presences in the zone itself
  than its capacity times ``factor`` (default ``CAPACITY_FACTOR``; the ``over_capacity``
  rule's ``factor``);
- **the registry signature** (:func:`registry_signature`): what tells the processor and
  the rules that the registry changed and their in-memory copy must be reloaded.

See docs/events.md, "Read model".
"""

import datetime as dt
import io
from collections import Counter
from typing import NamedTuple

from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Max, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja.errors import ValidationError

from anyuan.core import actions as core_actions
from anyuan.core import spreadsheets
from anyuan.core.roles import EXPORT, VIEW, user_can
from anyuan.events import credentials
from anyuan.events.models import DeviceLink, Method, Passage, Presence, Quarantine, SubjectKind
from anyuan.registry.models import Device, Person, Vehicle, Zone

# --- time windows ----------------------------------------------------------------------

TRAJECTORY_DEFAULT = dt.timedelta(hours=24)
TRAJECTORY_MAX = dt.timedelta(days=31)
TRAJECTORY_LIMIT = 5000  # of each kind (presences, passages); more: "truncated"


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


def require(user, action: str = VIEW) -> None:
    """Presences (and with them occupancy, muster lists, trajectories) at all?"""
    if not user_can(user, Presence, action):
        raise PermissionDenied(_("You may not do this."))


def check_id(pk) -> None:
    if not isinstance(pk, int) or not 0 < pk <= core_actions.DB_INT_MAX:
        raise Http404  # no row has such an id (and the database could not compare it)


def visible_zone(user, pk: int) -> Zone:
    """A zone the user may see; any other id is a 404 (its existence is not revealed)."""
    check_id(pk)
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


def presences(
    user,
    *,
    zone=None,
    person=None,
    vehicle=None,
    credential=None,
    inside=None,
    start=None,
    end=None,
):
    """The stays the user may see, latest entry first: in ``zone`` (and the zones below
    it), of a person, vehicle or credential, open (``inside``) or closed, overlapping
    [start, end)."""
    qs = Presence.objects.restrict(user, VIEW)
    if zone is not None:
        path = Zone.objects.restrict(user, VIEW).filter(pk=zone).values_list("path").first()
        qs = qs.filter(zone__path__startswith=path[0]) if path and path[0] else qs.none()
    for name, value in (("person", person), ("vehicle", vehicle), ("credential", credential)):
        if value is not None:
            qs = qs.filter(**{name: value})
    if inside is not None:
        qs = qs.filter(left_at__isnull=inside)
    qs = overlapping(qs, start, end)
    return presence_values(qs.order_by(F("entered_at").desc(nulls_last=True), "-id"))


# --- trajectory ------------------------------------------------------------------------------


class PassagesOf(NamedTuple):
    """A subject's passages: the condition on the log, and the credentials it names (to
    find them by the index, :func:`anyuan.events.credentials.passages_q`)."""

    condition: Q
    credentials: tuple[str, ...]


def person_subject(user, pk: int) -> tuple[dict, PassagesOf | None]:
    """(the person, the passages that are theirs) — the credentials matched the way the
    processor matches them, within the person's station; a 404 if not visible."""
    check_id(pk)
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
    check_id(pk)
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


# --- occupancy, capacity and muster lists -------------------------------------------------

CAPACITY_FACTOR = 1.0  # over capacity: more inside than capacity × this (the rule's default)


def over_capacity(
    inside: int | None, capacity: int | None, factor: float = CAPACITY_FACTOR
) -> bool:
    """Over capacity: more open presences in the zone itself than its ``capacity`` times
    ``factor`` (no capacity, or not counted: never). The occupancy page and API, the
    dashboard and the ``over_capacity`` rule (with its configured factor) ask this."""
    return capacity is not None and inside is not None and inside > capacity * float(factor)


def occupancy(zone_ids=None, queryset=None) -> dict[int, int]:
    """Open presences per zone (who is inside now) — of every zone, or of ``zone_ids``;
    pass ``Presence.objects.restrict(user)`` as ``queryset`` to scope it to a user."""
    rows = (queryset if queryset is not None else Presence.objects.all()).filter(
        left_at__isnull=True
    )
    if zone_ids is not None:
        rows = rows.filter(zone_id__in=zone_ids)
    return dict(rows.values_list("zone_id").annotate(n=Count("pk")).order_by())


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
        z["over_capacity"] = over_capacity(z["inside"], z["capacity"])
    return zones, totals


def muster(zone: Zone, queryset=None):
    """The open presences in a zone and every zone below it: the evacuation muster list.
    Pass ``Presence.objects.restrict(user)`` as ``queryset`` to scope it to a user."""
    rows = queryset if queryset is not None else Presence.objects.all()
    return rows.filter(left_at__isnull=True, zone__path__startswith=zone.path).order_by(
        "zone__path", "entered_at", "pk"
    )


MUSTER_COLUMNS = ("zone", "subject", "name", "plate", "credential", "entered_at")


def muster_rows(zone: Zone, queryset=None):
    """The muster list as plain rows (``MUSTER_COLUMNS``), for CSV export."""
    return muster(zone, queryset).values_list(
        "zone__name", "subject_kind", "person__name", "vehicle__plate", "credential", "entered_at"
    )


def muster_values(user, zone: Zone) -> list[dict]:
    """The muster list of ``zone`` (every zone below it too) as the user may see it."""
    rows = muster(zone, Presence.objects.restrict(user, VIEW)).values(
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


class Download(NamedTuple):
    """A file to send: its bytes (or text), content type and file name."""

    body: bytes | str
    content_type: str
    filename: str


def muster_file(user, zone: Zone, fmt: str = "csv", *, remote_addr=None) -> Download:
    """The muster list as a file (CSV, or XLSX for the people with the list in hand at
    the assembly point): an export — the ``export`` permission on presences, audited.
    Names, plates and credentials; no ID numbers or phones."""
    if fmt not in MUSTER_FORMATS:
        raise ValueError(fmt)
    require(user, EXPORT)
    rows = list(muster_rows(zone, Presence.objects.restrict(user, EXPORT)))
    core_actions.record_export(
        user, Presence, count=len(rows), fmt=fmt, personal=False, remote_addr=remote_addr
    )

    def text(value):
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            return timezone.localtime(value).isoformat(timespec="seconds")
        return str(value)

    lines = [list(MUSTER_COLUMNS), *([text(v) for v in row] for row in rows)]
    now = timezone.localtime()
    if fmt == "csv":
        body = "".join(spreadsheets.csv_chunks(lines))
    else:
        out = io.BytesIO()
        spreadsheets.write_xlsx(lines, out, f"muster {zone.code or zone.pk}")
        body = out.getvalue()
    return Download(body, MUSTER_FORMATS[fmt], f"muster-{zone.pk}-{now:%Y%m%d-%H%M}.{fmt}")


# --- device health ---------------------------------------------------------------------


SILENT_HEARTBEATS = 3  # silent: nothing heard for this many heartbeat intervals
DEVICE_STATUS_LABELS = {
    "silent": gettext_lazy("Silent"),
    "never_heard": gettext_lazy("Never heard"),
    "online": gettext_lazy("Online"),
    "inactive": gettext_lazy("Switched off"),
}


def silent_after(heartbeat_seconds: int, heartbeats: float = SILENT_HEARTBEATS) -> dt.timedelta:
    """How long a device may go unheard before it is silent: ``heartbeats`` of its
    heartbeat intervals (an interval of 0 counts as 1 second)."""
    return dt.timedelta(seconds=float(heartbeats) * max(heartbeat_seconds, 1))


def is_silent(
    last_seen, heartbeat_seconds: int, now, heartbeats: float = SILENT_HEARTBEATS
) -> bool:
    """Silent: nothing heard (an event or a heartbeat: ``DeviceLink.last_seen``) for
    ``heartbeats`` heartbeat intervals, or never. The device status page and API and the
    dashboard use the default; the ``device_silent`` rule passes its ``heartbeats``."""
    if last_seen is None:
        return True
    return now - last_seen > silent_after(heartbeat_seconds, heartbeats)


def device_status(
    active: bool, last_seen, heartbeat_seconds: int, now, heartbeats=SILENT_HEARTBEATS
) -> str:
    """A device's state: ``inactive`` (switched off), ``never_heard``, ``silent`` or
    ``online`` (keys of ``DEVICE_STATUS_LABELS``)."""
    if not active:
        return "inactive"
    if last_seen is None:
        return "never_heard"
    return "silent" if is_silent(last_seen, heartbeat_seconds, now, heartbeats) else "online"


def device_states(
    user, where: Q | None = None, now=None, heartbeats: float = SILENT_HEARTBEATS
) -> tuple[list[dict], dict]:
    """The devices in reach (narrowed by ``where`` on devices) with status — online,
    silent, never heard, switched off — last heard and clock state; silent ones first,
    the longest silence first. Two queries. Shared by the device status page and the
    dashboard (silent: :func:`is_silent` with ``heartbeats``)."""
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
        status = device_status(d["active"], seen, d["heartbeat_seconds"], now, heartbeats)
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


# --- events the processor set aside -------------------------------------------------------


def quarantine_rows(user, action: str = VIEW):
    """The set-aside events ``user`` may see (or change): the police of the zone's
    station; anyone else may not (403)."""
    if not user_can(user, Quarantine, action):
        raise PermissionDenied(_("You may not do this."))
    return Quarantine.objects.restrict(user, action)


# --- the registry signature ----------------------------------------------------------------


def registry_signature(models, links=()) -> tuple:
    """What changes when the registry does: each model's row count and latest ``updated``,
    and the row count of each many-to-many table in ``links`` (those rows have no
    ``updated``). The processor and the rules keep the registry in memory and reload it
    when this differs from the signature they loaded it with. One query per model."""
    parts = [tuple(m.objects.aggregate(n=Count("pk"), u=Max("updated")).values()) for m in models]
    parts += [through.objects.count() for through in links]
    return tuple(parts)
