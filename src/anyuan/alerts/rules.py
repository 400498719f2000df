"""Alert rules as data: the defaults, and which ``Rule`` row applies to a zone.

A rule's settings for a place come from the most specific ``Rule`` row of the zone's
station: a row on the zone itself or the nearest zone above it, else a row on the zone's
owner enterprise, else on its park, else a station-wide row (no park, enterprise or zone),
else ``DEFAULTS``. A row's empty severity, schedule or missing thresholds fall back to the
defaults of its type. See docs/alerts.md, "Rules".
"""

import datetime as dt
from dataclasses import dataclass, field

from anyuan.alerts.models import Alert, Rule
from anyuan.events.queries import CAPACITY_FACTOR, SILENT_HEARTBEATS

T = Alert.Type
S = Alert.Severity

ALL_DAYS = "1234567"


@dataclass(frozen=True)
class Settings:
    """The effective settings of one rule type at one place."""

    type: str
    enabled: bool
    severity: str
    thresholds: dict = field(default_factory=dict)
    weekdays: str = ALL_DAYS
    time_from: dt.time | None = None
    time_until: dt.time | None = None

    def in_schedule(self, local: dt.datetime) -> bool:
        """Whether a local time falls in the schedule (allowed weekdays and time window;
        a window whose end is before its start runs over midnight)."""
        if str(local.isoweekday()) not in (self.weekdays or ALL_DAYS):
            return False
        return in_window(local.time(), self.time_from, self.time_until)


def in_window(t: dt.time, start: dt.time | None, end: dt.time | None) -> bool:
    if start is None or end is None:
        return True
    if start <= end:
        return start <= t < end
    return t >= start or t < end


# The defaults when no Rule row applies. after_hours: an entry into a ring of ``rings``
# outside the allowed time raises an alert, with the severity of ``ring_severity`` unless
# a rule row sets one. The allowed time is the rule's schedule where a row sets one (for
# everybody), else the hours of the person's authorisation for the zone (a day-only firm's
# workshop, a finance room on weekdays 08:00–18:00).
DEFAULTS: dict[str, Settings] = {
    T.STRANGER: Settings(T.STRANGER, True, S.HIGH),
    T.UNAUTHORISED_ZONE: Settings(T.UNAUTHORISED_ZONE, True, S.HIGH),
    T.WATCHLIST_HIT: Settings(T.WATCHLIST_HIT, True, S.CRITICAL),
    T.AFTER_HOURS: Settings(
        T.AFTER_HOURS,
        True,
        S.MEDIUM,
        {
            "rings": ["production", "core"],
            "ring_severity": {"production": "medium", "core": "high"},
        },
    ),
    # entry without exit: a person inside with no passage anywhere for ``max_stay_hours``
    # (``outside_hours`` when in no zone deeper than the park ring) left without an exit
    T.ANTIPASSBACK: Settings(
        T.ANTIPASSBACK, True, S.LOW, {"max_stay_hours": 16, "outside_hours": 3}
    ),
    T.QUALIFICATION_MISSING: Settings(T.QUALIFICATION_MISSING, True, S.HIGH),
    T.QUALIFICATION_EXPIRED: Settings(T.QUALIFICATION_EXPIRED, True, S.HIGH),
    T.OVER_CAPACITY: Settings(T.OVER_CAPACITY, True, S.HIGH, {"factor": CAPACITY_FACTOR}),
    # a visitor's car may stay until its allowed time (+ grace_minutes); an outside
    # vehicle (unregistered, or a plate in no registry) ``minutes`` from its entry
    T.VEHICLE_OVERSTAY: Settings(
        T.VEHICLE_OVERSTAY, True, S.MEDIUM, {"minutes": 240, "grace_minutes": 0}
    ),
    T.DEVICE_SILENT: Settings(T.DEVICE_SILENT, True, S.MEDIUM, {"heartbeats": SILENT_HEARTBEATS}),
    T.OBJECT_MISSING: Settings(T.OBJECT_MISSING, True, S.HIGH),
    T.INTRUSION: Settings(T.INTRUSION, True, S.HIGH),
    T.TAMPER: Settings(T.TAMPER, True, S.HIGH),
    # raised by anyuan.disputes, not by the event stream: ``cases`` dispute cases of one
    # type in one enterprise within ``days`` (a row per enterprise, park or station)
    T.GROUP_INCIDENT: Settings(T.GROUP_INCIDENT, True, S.HIGH, {"cases": 3, "days": 7}),
}


def settings_from(row: Rule | None, type: str) -> Settings:
    """A rule row's settings over the defaults of its type (``None``: the defaults)."""
    default = DEFAULTS[type]
    if row is None:
        return default
    window = (row.time_from, row.time_until) if row.time_from is not None else None
    return Settings(
        type=type,
        enabled=row.enabled,
        severity=row.severity or default.severity,
        thresholds={**default.thresholds, **(row.thresholds or {})},
        weekdays=row.weekdays or default.weekdays,
        time_from=window[0] if window else default.time_from,
        time_until=window[1] if window else default.time_until,
    )


class RuleBook:
    """Every ``Rule`` row in memory, indexed by place, to resolve a zone's settings."""

    def __init__(self, rows=None):
        rows = Rule.objects.all() if rows is None else rows
        # (station, type) → {"zone": {id: row}, "enterprise": {...}, "park": {...}, "station": row}
        self.index: dict[tuple, dict] = {}
        for row in sorted(rows, key=lambda r: r.pk or 0):
            places = self.index.setdefault(
                (row.station_id, row.type), {"zone": {}, "enterprise": {}, "park": {}}
            )
            if row.zone_id:
                places["zone"].setdefault(row.zone_id, row)
            elif row.enterprise_id:
                places["enterprise"].setdefault(row.enterprise_id, row)
            elif row.park_id:
                places["park"].setdefault(row.park_id, row)
            else:
                places.setdefault("station", row)
        self._cache: dict[tuple, Settings] = {}

    def row_for(self, type: str, station, zone_chain, enterprise, park) -> Rule | None:
        """The most specific row: ``zone_chain`` is the zone and its ancestors, nearest
        first."""
        places = self.index.get((station, type))
        if places is None:
            return None
        for zone in zone_chain:
            if zone in places["zone"]:
                return places["zone"][zone]
        if enterprise is not None and enterprise in places["enterprise"]:
            return places["enterprise"][enterprise]
        if park is not None and park in places["park"]:
            return places["park"][park]
        return places.get("station")

    def settings(self, type: str, station, zone_chain, enterprise, park) -> Settings:
        key = (type, station, tuple(zone_chain), enterprise, park)
        found = self._cache.get(key)
        if found is None:
            found = settings_from(self.row_for(type, station, zone_chain, enterprise, park), type)
            self._cache[key] = found
        return found
