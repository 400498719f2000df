"""The dashboard's data endpoints, mounted at /api/v1/dashboard.

Every endpoint reads through ``restrict(user, "view")`` of the models it counts — the
police see their station, an enterprise its own zones (and the park-shared zones' names,
without their counts, which are the police's) — with a few set-based queries whatever the
number of zones, never one query per row. Passages are read from the hourly rollup
(:mod:`anyuan.dashboard.rollups`), never from the raw log.

Police users may narrow every endpoint with ``grid`` (the zones of the enterprises of a
grid of their station) and ``enterprise``; for anyone else those parameters are refused
(422): an enterprise sees only its own. The functions of (user, place, ...) here are
shared with the pages (``views.py``).
"""

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import ValidationError

from anyuan.alerts.models import Alert
from anyuan.core.api import DbInt
from anyuan.core.roles import VIEW, is_police, user_can
from anyuan.dashboard.models import PassageHour
from anyuan.dashboard.rollups import LocalFold, UtcTrunc, granularity, local_midnight, local_zone
from anyuan.events.models import DeviceLink, Method, Presence, SubjectKind
from anyuan.events.queries import SILENT_HEARTBEATS, device_states, over_capacity
from anyuan.registry.models import Device, Enterprise, PoliceGrid, Ring, Zone

router = Router(tags=["dashboard"])

FEED_DEFAULT, FEED_MAX = 50, 200  # open alerts in the feed
ALERT_DAYS = 30  # alerts per day: today and the 29 days before
VISITOR_LIMIT = 100  # visitor vehicles listed (the count is of all)
ZONES_DEFAULT, ZONES_MAX = 50, 10_000  # the fullest zones listed by the occupancy endpoint
SILENT_LIMIT = 100  # silent devices listed (the count is of all)


# --- who may see what, and the police's filters ----------------------------------------------


def require(user, *models) -> None:
    """The user may view the models the endpoint counts at all (rows: restrict())."""
    if not all(user_can(user, model, VIEW) for model in models):
        raise PermissionDenied(_("You may not do this."))


def query_error(field: str, message: str) -> ValidationError:
    return ValidationError([{"loc": ["query", field], "msg": message, "type": "value_error"}])


class PlaceFilters(Schema):
    grid: DbInt | None = Field(
        None, description="Police only: the zones of the enterprises of this grid"
    )
    enterprise: DbInt | None = Field(None, description="Police only: this enterprise's zones")


@dataclass(frozen=True)
class Place:
    """The police's narrowing of the jurisdiction: a grid, an enterprise, or both."""

    grid: int | None = None
    enterprise: int | None = None

    def q(self, path: str) -> Q:
        """The condition on rows whose enterprise is at ``path`` (``"zone__enterprise"``)."""
        q = Q()
        if self.grid is not None:
            q &= Q(**{f"{path}__grid_id": self.grid})
        if self.enterprise is not None:
            q &= Q(**{f"{path}_id": self.enterprise})
        return q


def place_of(user, filters: PlaceFilters) -> Place:
    """The filters, checked: police users only, a grid and an enterprise they may see
    (anything else is an unknown reference, a 422 that does not tell whether it exists)."""
    if filters.grid is None and filters.enterprise is None:
        return Place()
    given = "grid" if filters.grid is not None else "enterprise"
    if not is_police(user):
        raise query_error(given, _("Only the police filter by grid or enterprise."))
    if filters.grid is not None and not (
        PoliceGrid.objects.restrict(user, VIEW).filter(pk=filters.grid).exists()
    ):
        raise query_error("grid", _("Unknown grid."))
    if filters.enterprise is not None and not (
        Enterprise.objects.restrict(user, VIEW).filter(pk=filters.enterprise).exists()
    ):
        raise query_error("enterprise", _("Unknown enterprise."))
    return Place(filters.grid, filters.enterprise)


def counted_for(user, enterprise_id: int | None) -> bool:
    """Whether the user sees the presences and alerts of a zone with this owner: a park-
    shared zone's (no owner) are the police's; an enterprise user sees the names of such
    zones (the tree around its own) but no counts there."""
    return is_police(user) or (enterprise_id is not None and enterprise_id == user.enterprise_id)


def _is_vehicle(subject_kind: str, method: str) -> bool:
    return subject_kind == SubjectKind.VEHICLE or (
        subject_kind == SubjectKind.UNKNOWN and method == Method.PLATE
    )


class Ref(Schema):
    id: int
    name: str


# --- occupancy -----------------------------------------------------------------------------


def open_presences(user, place: Place):
    return (
        Presence.objects.restrict(user, VIEW)
        .filter(left_at__isnull=True)
        .filter(place.q("zone__enterprise"))
    )


def occupancy(
    user, place: Place, now: dt.datetime | None = None, zone_limit: int | None = None
) -> dict:
    """Who is inside now, per ring and per zone, against capacity; the people and vehicles
    inside (distinct subjects: one can be in a building and a room of it at once); the
    visitor vehicles inside and how long they have stayed. Four queries."""
    now = now or timezone.now()
    inside = open_presences(user, place)
    per_zone: dict[int, Counter] = defaultdict(Counter)
    for zone, kind, method, n in (
        inside.values_list("zone_id", "subject_kind", "method").annotate(n=Count("pk")).order_by()
    ):
        per_zone[zone]["vehicles" if _is_vehicle(kind, method) else "people"] += n
    zones = list(
        Zone.objects.restrict(user, VIEW)
        .filter(place.q("enterprise"))
        .values("id", "name", "ring", "kind", "capacity", "enterprise_id")
        .order_by("path")
    )
    vehicle = Q(subject_kind=SubjectKind.VEHICLE)
    unknown_plate = Q(subject_kind=SubjectKind.UNKNOWN, method=Method.PLATE)
    visitor = vehicle & (Q(vehicle__registered=False) | Q(vehicle__valid_until__isnull=False))
    totals = inside.aggregate(
        presences=Count("pk"),
        people=Count("person_id", distinct=True),
        unknown_people=Count(
            "credential", distinct=True, filter=Q(subject_kind=SubjectKind.UNKNOWN) & ~unknown_plate
        ),
        vehicles=Count("vehicle_id", distinct=True),
        unknown_vehicles=Count("credential", distinct=True, filter=unknown_plate),
        visitors=Count("vehicle_id", distinct=True, filter=visitor),
    )
    visits = (
        inside.filter(visitor | unknown_plate)
        .order_by(F("entered_at").asc(nulls_last=True), "pk")
        .values(
            "subject_kind", "vehicle_id", "credential", "zone_id", "entered_at",
            plate=F("vehicle__plate"), registered=F("vehicle__registered"),
            valid_until=F("vehicle__valid_until"), zone_name=F("zone__name"),
        )[: 2 * VISITOR_LIMIT]
    )  # fmt: skip
    visitors, seen = [], set()
    for v in visits:
        key = v["vehicle_id"] or v["credential"]
        if key in seen:
            continue  # inside the park and a car park of it: the longer stay
        seen.add(key)
        entered = v["entered_at"]
        visitors.append(
            {
                "vehicle": v["vehicle_id"],
                "plate": v["plate"] or v["credential"],
                "known": v["vehicle_id"] is not None,
                "visitor": v["registered"] is False,
                "valid_until": v["valid_until"],
                "overdue": v["valid_until"] is not None and v["valid_until"] < now,
                "zone": {"id": v["zone_id"], "name": v["zone_name"]},
                "entered_at": entered,
                "minutes": int((now - entered).total_seconds() // 60) if entered else None,
            }
        )
        if len(visitors) >= VISITOR_LIMIT:
            break

    rings = {r: {"inside": 0, "people": 0, "vehicles": 0, "capacity": None, "zones": 0} for r in Ring.values}  # fmt: skip
    rows = []
    for z in zones:
        if not counted_for(user, z["enterprise_id"]):
            continue
        counts = per_zone.get(z["id"], Counter())
        n = counts["people"] + counts["vehicles"]
        ring = rings.setdefault(z["ring"], {"inside": 0, "people": 0, "vehicles": 0, "capacity": None, "zones": 0})  # fmt: skip
        ring["zones"] += 1
        ring["inside"] += n
        ring["people"] += counts["people"]
        ring["vehicles"] += counts["vehicles"]
        if z["capacity"] is not None:
            ring["capacity"] = (ring["capacity"] or 0) + z["capacity"]
        if n or z["capacity"] is not None:
            rows.append(
                {
                    "id": z["id"],
                    "name": z["name"],
                    "ring": z["ring"],
                    "kind": z["kind"],
                    "capacity": z["capacity"],
                    "inside": n,
                    "people": counts["people"],
                    "vehicles": counts["vehicles"],
                    "over_capacity": over_capacity(n, z["capacity"]),
                    "utilisation": round(n / z["capacity"], 3) if z["capacity"] else None,
                }
            )
    rows.sort(key=lambda r: (-(r["utilisation"] or 0), -r["inside"], r["name"]))
    zones_total = len(rows)
    if zone_limit is not None:
        rows = rows[:zone_limit]
    labels = dict(Ring.choices)
    return {
        "at": now,
        "presences": totals["presences"],
        "people": totals["people"] + totals["unknown_people"],
        "vehicles": totals["vehicles"] + totals["unknown_vehicles"],
        "visitor_vehicles_total": totals["visitors"] + totals["unknown_vehicles"],
        "rings": [
            {"ring": r, "label": str(labels.get(r, r)), **values}
            for r, values in rings.items()
            if values["zones"]
        ],
        "zones": rows,
        "zones_total": zones_total,
        "visitor_vehicles": visitors,
    }


class OccupancyQuery(PlaceFilters):
    zones: int = Field(
        ZONES_DEFAULT, ge=0, le=ZONES_MAX, description="How many of the fullest zones to list"
    )


class RingOccupancy(Schema):
    ring: str
    label: str
    zones: int = Field(description="Zones of the ring in reach")
    inside: int
    people: int
    vehicles: int
    capacity: int | None = Field(description="The sum of the capacities set in the ring")


class ZoneOccupancy(Schema):
    id: int
    name: str
    ring: str
    kind: str
    capacity: int | None
    inside: int = Field(description="Open presences in the zone itself")
    people: int
    vehicles: int
    over_capacity: bool
    utilisation: float | None = Field(description="inside / capacity")


class VisitorVehicle(Schema):
    vehicle: int | None = Field(description="The vehicle of the registry, if any")
    plate: str
    known: bool = Field(description="False: a plate in no registry")
    visitor: bool = Field(description="A vehicle registered as a visitor's")
    valid_until: dt.datetime | None
    overdue: bool = Field(description="Past its allowed time")
    zone: Ref
    entered_at: dt.datetime | None
    minutes: int | None = Field(description="Minutes since it entered")


class OccupancyOut(Schema):
    at: dt.datetime
    presences: int = Field(description="Open presences (one subject can be in several zones)")
    people: int = Field(description="People inside now (distinct, strangers by credential)")
    vehicles: int = Field(description="Vehicles inside now (distinct, unknown plates too)")
    visitor_vehicles_total: int
    rings: list[RingOccupancy]
    zones: list[ZoneOccupancy] = Field(
        description="Zones with someone inside or a capacity, fullest first (``zones`` of them)"
    )
    zones_total: int = Field(description="How many zones have someone inside or a capacity")
    visitor_vehicles: list[VisitorVehicle] = Field(
        description=f"Visitor and unknown vehicles inside, longest stay first (at most {VISITOR_LIMIT})"
    )


@router.get(
    "/occupancy",
    response=OccupancyOut,
    operation_id="dashboard_occupancy",
    url_name="dashboard_occupancy",
    summary="Who is inside now: per ring and zone against capacity, people, vehicles, visitors",
)
def occupancy_endpoint(request, query: Query[OccupancyQuery]):
    user = request.auth
    require(user, Presence, Zone)
    return occupancy(user, place_of(user, query), zone_limit=query.zones)


# --- passages per hour ------------------------------------------------------------------------


def day_hours(day: dt.date, tz=None) -> list[dt.datetime]:
    """The local hours of a day, in order (23 or 25 on a day the clocks change)."""
    tz = tz or local_zone()
    start, end = local_midnight(day, tz), local_midnight(day + dt.timedelta(days=1), tz)
    hours, at = [], start.astimezone(dt.UTC)
    while at < end:
        hours.append(at.astimezone(tz))
        at += dt.timedelta(hours=1)
    return hours


def passages_hourly(user, place: Place, day: dt.date | None = None, now=None) -> dict:
    """Passages per local hour of ``day`` (today) against the same weekday a week before,
    from the hourly rollup: one query."""
    tz = local_zone()
    now = now or timezone.now()
    day = day or now.astimezone(tz).date()
    before = day - dt.timedelta(days=7)
    one = dt.timedelta(days=1)
    (a, b), (c, d) = ((local_midnight(x, tz), local_midnight(x + one, tz)) for x in (day, before))
    rows = (
        PassageHour.objects.restrict(user, VIEW)
        .filter(place.q("zone__enterprise"))
        .filter(Q(hour__gte=a, hour__lt=b) | Q(hour__gte=c, hour__lt=d))
        .values_list("hour", "direction")
        .annotate(n=Sum("count"))
        .order_by()
    )
    counts: dict[tuple, int] = {}
    for hour, direction, n in rows:
        counts[(hour.astimezone(dt.UTC), direction)] = n or 0
    hours_now = now.astimezone(tz)
    out, totals = [], Counter()
    compare = day_hours(before, tz)
    for i, hour in enumerate(day_hours(day, tz)):
        key = hour.astimezone(dt.UTC)
        ins, outs = counts.get((key, "in"), 0), counts.get((key, "out"), 0)
        past = compare[i] if i < len(compare) else None
        pkey = past.astimezone(dt.UTC) if past else None
        p_in = counts.get((pkey, "in"), 0) if past else 0
        p_out = counts.get((pkey, "out"), 0) if past else 0
        started = hour <= hours_now
        out.append(
            {
                "start": hour,
                "label": hour.strftime("%H:00"),
                "in": ins,
                "out": outs,
                "total": ins + outs,
                "compare_in": p_in,
                "compare_out": p_out,
                "compare_total": p_in + p_out,
                "future": not started,
            }
        )
        totals["total"] += ins + outs
        totals["compare_total"] += p_in + p_out
        if started:
            totals["compare_until_now"] += p_in + p_out
    return {
        "day": day,
        "compare_day": before,
        "total": totals["total"],
        "compare_total": totals["compare_total"],
        "compare_until_now": totals["compare_until_now"],
        "hours": out,
    }


class HourlyQuery(PlaceFilters):
    day: dt.date | None = Field(None, description="The local day (default today)")


class HourPassages(Schema):
    start: dt.datetime
    label: str = Field(description="HH:00, local time")
    in_: int = Field(alias="in")
    out: int
    total: int
    compare_in: int = Field(description="The same hour of the same weekday a week before")
    compare_out: int
    compare_total: int
    future: bool = Field(description="The hour has not begun yet")


class HourlyOut(Schema):
    day: dt.date
    compare_day: dt.date = Field(description="The same weekday a week before")
    total: int
    compare_total: int
    compare_until_now: int = Field(
        description="The week-before day up to the current hour (today's fair comparison)"
    )
    hours: list[HourPassages]


@router.get(
    "/passages-hourly",
    response=HourlyOut,
    operation_id="dashboard_passages_hourly",
    url_name="dashboard_passages_hourly",
    summary="Passages per hour today (or on a day) against the same weekday last week",
    by_alias=True,
)
def passages_hourly_endpoint(request, query: Query[HourlyQuery]):
    user = request.auth
    require(user, PassageHour)
    place = place_of(user, query)
    if query.day is not None and not dt.date(1900, 1, 8) <= query.day <= dt.date(9999, 12, 30):
        raise query_error("day", _("This date is out of range."))
    return passages_hourly(user, place, query.day)


# --- alerts -------------------------------------------------------------------------------------


def alert_summary(user, place: Place, limit: int = FEED_DEFAULT, now=None) -> dict:
    """The open alerts, newest activity first; how many are open by severity; alerts by
    type today and per day over the last 30 days (by the day they were first seen). Three
    queries, on the alerts themselves (see docs/dashboard.md for why no rollup)."""
    tz = local_zone()
    now = now or timezone.now()
    today = now.astimezone(tz).date()
    alerts = Alert.objects.restrict(user, VIEW).filter(place.q("enterprise"))
    open_ = alerts.filter(state__in=Alert.OPEN_STATES)
    feed = list(
        open_.order_by("-last_seen", "-pk").values(
            "id", "type", "severity", "title", "zone_id", "first_seen", "last_seen",
            "repeat_count", "state", "escalation_level", zone_name=F("zone__name"),
        )[:limit]
    )  # fmt: skip
    by_severity = open_.aggregate(
        total=Count("pk"),
        **{s: Count("pk", filter=Q(severity=s)) for s in Alert.Severity.values},
    )
    first_day = today - dt.timedelta(days=ALERT_DAYS - 1)
    since = local_midnight(first_day, tz)
    kind = granularity(tz, since, now)
    # last_seen >= since holds for every alert first seen since then: it lets the
    # database use the last_seen index
    rows = (
        alerts.filter(last_seen__gte=since, first_seen__gte=since)
        .annotate(bucket=UtcTrunc("first_seen", kind))
        .values_list("type", "bucket")
        .annotate(n=Count("pk"))
        .order_by()
    )
    fold = LocalFold(kind, tz)
    per_day: dict[dt.date, Counter] = defaultdict(Counter)
    for type_, bucket, n in rows:
        per_day[fold.day(bucket)][type_] += n
    types = dict(Alert.Type.choices)
    severities, states = dict(Alert.Severity.choices), dict(Alert.State.choices)
    todays = per_day.get(today, Counter())
    return {
        "open": {
            "total": by_severity.pop("total"),
            "by_severity": by_severity,
        },
        "feed": [
            {
                "id": a["id"],
                "type": a["type"],
                "type_label": str(types.get(a["type"], a["type"])),
                "severity": a["severity"],
                "severity_label": str(severities.get(a["severity"], a["severity"])),
                "title": a["title"],
                "zone": {"id": a["zone_id"], "name": a["zone_name"]} if a["zone_id"] else None,
                "first_seen": a["first_seen"],
                "last_seen": a["last_seen"],
                "repeat_count": a["repeat_count"],
                "state": a["state"],
                "state_label": str(states.get(a["state"], a["state"])),
                "escalation_level": a["escalation_level"],
            }
            for a in feed
        ],
        "today": [
            {"type": t, "label": str(types.get(t, t)), "count": n}
            for t, n in sorted(todays.items(), key=lambda item: (-item[1], item[0]))
        ],
        "days": [
            {
                "day": d,
                "total": sum(per_day.get(d, Counter()).values()),
                "by_type": dict(per_day.get(d, Counter())),
            }
            for d in (first_day + dt.timedelta(days=i) for i in range(ALERT_DAYS))
        ],
        "types": [{"type": t, "label": str(label)} for t, label in Alert.Type.choices],
    }


class AlertQuery(PlaceFilters):
    limit: int = Field(FEED_DEFAULT, ge=1, le=FEED_MAX, description="Open alerts in the feed")


class FeedAlert(Schema):
    id: int
    type: str
    type_label: str
    severity: str
    severity_label: str
    title: str
    zone: Ref | None
    first_seen: dt.datetime
    last_seen: dt.datetime
    repeat_count: int
    state: str
    state_label: str
    escalation_level: int


class OpenAlerts(Schema):
    total: int
    by_severity: dict[str, int]


class TypeCount(Schema):
    type: str
    label: str
    count: int


class AlertDay(Schema):
    day: dt.date
    total: int
    by_type: dict[str, int]


class AlertType(Schema):
    type: str
    label: str


class AlertsOut(Schema):
    open: OpenAlerts
    feed: list[FeedAlert] = Field(description="Open alerts, newest activity first")
    today: list[TypeCount] = Field(description="Alerts first seen today, by type")
    days: list[AlertDay] = Field(
        description=f"Alerts first seen per day, the last {ALERT_DAYS} days"
    )
    types: list[AlertType]


@router.get(
    "/alerts",
    response=AlertsOut,
    operation_id="dashboard_alerts",
    url_name="dashboard_alerts",
    summary="The open-alert feed, and alerts by type today and per day over 30 days",
)
def alerts_endpoint(request, query: Query[AlertQuery]):
    user = request.auth
    require(user, Alert)
    return alert_summary(user, place_of(user, query), query.limit)


# --- zones --------------------------------------------------------------------------------------


def zone_map(user, place: Place) -> list[dict]:
    """Every zone in reach (the tree: parent ids, in path order) with who is inside now and
    how many alerts are open there: three queries whatever the number of zones. With a
    filter, a zone's parent may be outside the list (a park-level area)."""
    zones = list(
        Zone.objects.restrict(user, VIEW)
        .filter(place.q("enterprise"))
        .order_by("path")
        .values(
            "id", "parent_id", "name", "code", "ring", "kind", "capacity", "is_transit",
            "depth", "enterprise_id", "park_id",
        )
    )  # fmt: skip
    inside = dict(
        open_presences(user, place).values_list("zone_id").annotate(n=Count("pk")).order_by()
    )
    alerts = dict(
        Alert.objects.restrict(user, VIEW)
        .filter(place.q("enterprise"), state__in=Alert.OPEN_STATES, zone__isnull=False)
        .values_list("zone_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for z in zones:
        if counted_for(user, z["enterprise_id"]):
            z["inside"] = inside.get(z["id"], 0)
            z["open_alerts"] = alerts.get(z["id"], 0)
            z["over_capacity"] = over_capacity(z["inside"], z["capacity"])
        else:
            z["inside"] = z["open_alerts"] = None
            z["over_capacity"] = False
    return zones


class MapZone(Schema):
    id: int
    parent: int | None = Field(alias="parent_id")
    name: str
    code: str
    ring: str
    kind: str
    capacity: int | None
    is_transit: bool
    depth: int
    park: int = Field(alias="park_id")
    enterprise: int | None = Field(alias="enterprise_id")
    inside: int | None = Field(description="Open presences; empty: not yours to count")
    open_alerts: int | None
    over_capacity: bool


class ZonesOut(Schema):
    at: dt.datetime
    zones: list[MapZone]


@router.get(
    "/zones",
    response=ZonesOut,
    operation_id="dashboard_zones",
    url_name="dashboard_zones",
    summary="The zone tree with who is inside now and open alerts, for the schematic map",
)
def zones_endpoint(request, filters: Query[PlaceFilters]):
    user = request.auth
    require(user, Zone)
    place = place_of(user, filters)
    return {"at": timezone.now(), "zones": zone_map(user, place)}


# --- devices ------------------------------------------------------------------------------------


def device_status(user, place: Place, now=None) -> dict:
    """Active devices online (heard within three heartbeat intervals), silent, never heard;
    the silent ones, longest silence first (``events.queries.device_states``: two queries)."""
    now = now or timezone.now()
    rows, counts = device_states(user, place.q("zone__enterprise"), now)
    silent = [d for d in rows if d["status"] == "silent"]
    return {
        "at": now,
        "total": len(rows),
        "active": len(rows) - counts.get("inactive", 0),
        "online": counts.get("online", 0),
        "silent": counts.get("silent", 0),
        "never_heard": counts.get("never_heard", 0),
        "inactive": counts.get("inactive", 0),
        "clock_skew": sum(1 for d in rows if d["clock_skew"] and d["status"] != "inactive"),
        "silent_devices": [
            {
                "id": d["id"],
                "serial": d["serial"],
                "name": d["name"],
                "kind": d["kind"],
                "zone": {"id": d["zone_id"], "name": d["zone_name"]},
                "heartbeat_seconds": d["heartbeat_seconds"],
                "last_seen": d["last_seen"],
                "silent_minutes": d["quiet_minutes"],
            }
            for d in silent[:SILENT_LIMIT]
        ],
    }


class SilentDevice(Schema):
    id: int
    serial: str
    name: str
    kind: str
    zone: Ref
    heartbeat_seconds: int
    last_seen: dt.datetime
    silent_minutes: int


class DevicesOut(Schema):
    at: dt.datetime
    total: int
    active: int
    online: int = Field(description=f"Heard within {SILENT_HEARTBEATS} heartbeat intervals")
    silent: int
    never_heard: int
    inactive: int
    clock_skew: int = Field(description="Active devices whose clock is off")
    silent_devices: list[SilentDevice] = Field(
        description=f"Longest silence first (at most {SILENT_LIMIT})"
    )


@router.get(
    "/devices",
    response=DevicesOut,
    operation_id="dashboard_devices",
    url_name="dashboard_devices",
    summary="Device status: online, silent, never heard; the silent ones",
)
def devices_endpoint(request, filters: Query[PlaceFilters]):
    user = request.auth
    require(user, Device, DeviceLink)
    return device_status(user, place_of(user, filters))


# --- module tiles -------------------------------------------------------------------------------


class TileOut(Schema):
    key: str
    title: str
    value: int | float | str
    unit: str
    detail: str
    url: str
    level: str
    extra: dict


class TilesOut(Schema):
    tiles: list[TileOut]


@router.get(
    "/tiles",
    response=TilesOut,
    operation_id="dashboard_tiles",
    url_name="dashboard_tiles",
    summary="One figure per module (alerts, devices, disputes, incidents ...) in the user's reach",
)
def tiles_endpoint(request, filters: Query[PlaceFilters]):
    from anyuan.dashboard.tiles import collect

    user = request.auth
    return {"tiles": collect(user, place_of(user, filters))}
