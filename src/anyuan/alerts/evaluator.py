"""The rules evaluator: turns the processor's facts into alerts.

``Evaluator`` is the processor's ``on_facts`` hook (``anyuan process`` wires it in): it
decides on each batch's facts in memory before the batch's transaction (``decide``: the
rules do not hold SQLite's write lock) and raises the alerts inside it (``write``), so
they commit together with the checkpoint — a crash and a restart from the checkpoint
neither lose nor repeat an alert. Called as a function it does both at once.

Rules evaluated here (fact-driven): stranger, unauthorised zone, watchlist hit, after-hours
entry, anti-passback, qualification missing / expired, over capacity. Everything they
need — zones and their ancestry, rules, authorisations and access groups, qualifications,
the watchlist, names for titles — is loaded into memory at once and reloaded when the
registry changes (a count + max(updated) signature, checked every ``refresh_seconds``), so
a fact costs no queries unless it raises an alert; over capacity costs one occupancy query
per batch that enters or leaves a zone with a capacity.
"""

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace

from django.conf import settings as django_settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.alerts.actions import OPEN, clear_alert, raise_alert
from anyuan.alerts.models import Alert, Rule
from anyuan.alerts.rules import ALL_DAYS, RuleBook, Settings, in_window
from anyuan.core.system import SYSTEM
from anyuan.events.models import AlarmKind, AlarmState, DeviceLink, Presence, SubjectKind
from anyuan.events.processor import (
    ALARM,
    DOUBLE_ENTRY,
    ENTRY,
    EXIT,
    EXIT_WITHOUT_ENTRY,
    LATE_ENTRY,
    STRANGER,
    blame,
)
from anyuan.events.queries import (
    CAPACITY_FACTOR,
    SILENT_HEARTBEATS,
    is_silent,
    occupancy,
    over_capacity,
    registry_signature,
    silent_after,
)
from anyuan.registry.models import (
    AccessGroup,
    Authorisation,
    Device,
    Enterprise,
    Person,
    Qualification,
    QualificationType,
    Vehicle,
    WatchlistEntry,
    Zone,
)

T = Alert.Type
ENTERING = frozenset({ENTRY, DOUBLE_ENTRY, LATE_ENTRY})
GUARDED_RINGS = frozenset({"living", "production", "core"})  # entry needs an authorisation
ALARM_TYPES = {
    AlarmKind.INTRUSION: T.INTRUSION,
    AlarmKind.DOOR_FORCED: T.INTRUSION,
    AlarmKind.OBJECT_MISSING: T.OBJECT_MISSING,
    AlarmKind.OBJECT_REMOVED: T.OBJECT_MISSING,
    AlarmKind.TAMPER: T.TAMPER,
}
NOW, LATER, NEVER = "now", "later", "never"  # what a person's authorisations allow
OPEN_RINGS = frozenset({"perimeter", "park"})  # the open areas, where nobody stays for long
NEARBY_CAMERAS = 4  # cameras linked to a device alarm, nearest first
# How long an exit without entry waits for its entry to arrive late (devices hold events
# back while offline) before it counts as anti-passback: settings.ANYUAN_EXIT_HOLD_S.


@dataclass(frozen=True)
class _Zone:
    pk: int
    name: str
    station: int
    park: int
    enterprise: int | None
    ring: str
    transit: bool
    capacity: int | None
    chain: tuple  # the zone and its ancestors, nearest first


def _signature():
    models = (Rule, Zone, Person, Vehicle, Device, AccessGroup, Authorisation, Qualification)
    # membership and required qualifications do not touch ``updated``: their rows counted
    links = (AccessGroup.members.through, Zone.required_qualifications.through)
    return registry_signature((*models, WatchlistEntry), links)


def _open_overstays() -> set:
    return set(
        Alert.objects.filter(type=T.VEHICLE_OVERSTAY, state__in=OPEN).values_list(
            "source_key", flat=True
        )
    )


def _valid_on(day, valid_from, valid_until) -> bool:
    return (valid_from is None or valid_from <= day) and (valid_until is None or day <= valid_until)


class Evaluator:
    """Fact-driven alert rules, evaluated in memory; call it with a batch's facts."""

    def __init__(
        self, actor=SYSTEM, refresh_seconds: float = 10.0, exit_hold_s: float | None = None
    ):
        self.actor = actor
        self.refresh_seconds = refresh_seconds
        self.exit_hold = dt.timedelta(
            seconds=exit_hold_s if exit_hold_s is not None else django_settings.ANYUAN_EXIT_HOLD_S
        )
        self.first_check = None  # the clock of the first time-based check
        self.raised = 0  # alerts raised or repeated, for the command's report
        self.record = None  # a list to append every raise to (the rules benchmark)
        self.pending = {}  # (type, source) → the raise held until the batch's end
        self.tz = timezone.get_current_timezone()
        self.clears = []  # clear_alert arguments held until the batch's end
        self.load()

    # --- the in-memory registry ------------------------------------------------------

    def load(self) -> None:
        self.signature = _signature()
        self._checked = time.monotonic()
        self.rules = RuleBook()

        rows = list(
            Zone.objects.values_list(
                "pk", "name", "park__station_id", "park_id", "enterprise_id", "ring",
                "is_transit", "capacity", "parent_id",
            )
        )  # fmt: skip
        parent = {r[0]: r[8] for r in rows}
        self.zones: dict[int, _Zone] = {}
        for pk, name, station, park, enterprise, ring, transit, capacity, _p in rows:
            chain, current = [], pk
            while current is not None and current not in chain:
                chain.append(current)
                current = parent.get(current)
            self.zones[pk] = _Zone(
                pk, name, station, park, enterprise, ring, transit, capacity, tuple(chain)
            )
        self.required = defaultdict(set)  # zone → qualification types required there
        for zone, qtype in Zone.required_qualifications.through.objects.values_list(
            "zone_id", "qualificationtype_id"
        ):
            self.required[zone].add(qtype)
        self.qtype_names = dict(QualificationType.objects.values_list("pk", "name"))
        self.enterprise_park = dict(Enterprise.objects.values_list("pk", "park_id"))

        self.people = {}  # pk → (name, home zone)
        digests = {}
        for pk, name, digest, home in Person.objects.values_list(
            "pk", "name", "id_number_digest", "home_zone_id"
        ):
            self.people[pk] = (name, home)
            if digest:
                digests[pk] = digest
        self.vehicles = {}  # pk → (plate, registered, allowed until, host enterprise)
        for pk, plate, registered, until, enterprise in Vehicle.objects.values_list(
            "pk", "plate", "registered", "valid_until", "enterprise_id"
        ):
            self.vehicles[pk] = (plate, registered, until, enterprise)
        self.plates = {pk: v[0] for pk, v in self.vehicles.items()}
        self.devices = {}  # pk → (serial, name, zone, heartbeat seconds)
        self.cameras = defaultdict(list)  # zone → active cameras there
        for pk, serial, name, zone, kind, heartbeat, active in Device.objects.values_list(
            "pk", "serial", "name", "zone_id", "kind", "heartbeat_seconds", "active"
        ).order_by("pk"):
            self.devices[pk] = (serial, name, zone, heartbeat)
            if active and kind == Device.Kind.CAMERA:
                self.cameras[zone].append(pk)
        self.children = defaultdict(list)
        for pk, zone in self.zones.items():
            if len(zone.chain) > 1:
                self.children[zone.chain[1]].append(pk)
        self.overstay_open = _open_overstays()

        self.groups = defaultdict(list)  # person → access groups
        for group, person in AccessGroup.members.through.objects.values_list(
            "accessgroup_id", "person_id"
        ):
            self.groups[person].append(group)
        self.auth_person, self.auth_group = defaultdict(list), defaultdict(list)
        for zone, person, group, *window in Authorisation.objects.values_list(
            "zone_id", "person_id", "group_id", "weekdays", "time_from", "time_until",
            "valid_from", "valid_until",
        ):  # fmt: skip
            target = self.auth_person[person] if person else self.auth_group[group]
            target.append((zone, *window))
        self.quals = defaultdict(list)  # (person, type) → [(issued_on, valid_until)]
        for person, qtype, issued, until in Qualification.objects.values_list(
            "person_id", "type_id", "issued_on", "valid_until"
        ):
            self.quals[(person, qtype)].append((issued, until))

        # the active watchlist: by registered person, ID-number digest, face id and plate
        self.watch_person, self.watch_face, self.watch_plate = (
            defaultdict(list),
            defaultdict(list),
            defaultdict(list),
        )
        by_digest = defaultdict(list)
        for entry in WatchlistEntry.objects.filter(active=True).values(
            "pk", "station_id", "enterprise_id", "kind", "person_id", "id_number_digest",
            "face_id", "plate", "valid_until", "level", "reason", "name",
        ):  # fmt: skip
            entry = SimpleNamespace(**entry)
            station = entry.station_id
            if entry.kind == WatchlistEntry.Kind.PLATE:
                if entry.plate:
                    self.watch_plate[(station, entry.plate)].append(entry)
                continue
            if entry.person_id:
                self.watch_person[entry.person_id].append(entry)
            if entry.face_id:
                self.watch_face[(station, entry.face_id)].append(entry)
            if entry.id_number_digest:
                by_digest[entry.id_number_digest].append(entry)
        for pk, digest in digests.items():
            for entry in by_digest.get(digest, ()):
                if entry.person_id != pk:
                    self.watch_person[pk].append(entry)

    def refresh_if_due(self) -> bool:
        if time.monotonic() - self._checked < self.refresh_seconds:
            return False
        self._checked = time.monotonic()
        if _signature() != self.signature:
            self.load()
            return True
        return False

    # --- the hook --------------------------------------------------------------------

    def __call__(self, facts: list[dict]) -> None:
        """Decide and write at once (for callers without the two steps)."""
        self.decide(facts)
        self.write()

    def decide(self, facts: list[dict], occupancy=None) -> None:
        """Evaluate a batch's facts in memory: what to raise and clear is held until
        :meth:`write`. The processor calls this *before* its batch transaction, so the
        rules do not hold the write lock; the reads here are of the registry (refreshed
        every ``refresh_seconds`` anyway) and, without ``occupancy``, of the occupancy.

        ``occupancy``: open presences per zone *after* the batch (the processor's own
        counts); without it the database is asked, which after the batch's presences
        are written (inside the transaction) is the same."""
        self.refresh_if_due()
        counts = self._occupancy_before(facts, occupancy)
        # local times in the current zone, looked up once a batch, not once a fact
        self.tz = timezone.get_current_timezone()
        for fact in facts:
            zone = self.zones.get(fact["zone_id"])
            if zone is None:
                continue
            try:
                if fact["kind"] == ALARM:
                    self.alarm(fact, zone)
                else:
                    self.evaluate(fact, zone, counts)
            except Exception as exc:
                blame(exc, fact)  # the processor sets that event aside and goes on
                raise

    def write(self) -> None:
        """Write what :meth:`decide` held, in the caller's transaction."""
        self.flush()

    def discard(self) -> None:
        """Forget what was decided and not written (the batch's transaction failed):
        the processor starts again from its checkpoint."""
        self.pending, self.clears = {}, []
        self.overstay_open = _open_overstays()

    def flush(self) -> None:
        """Write the clears and the raises held: one ``raise_alert`` per (type, source)
        with the number of occurrences, the first and the last time, the worst severity
        (a backlog repeating one condition thousands of times costs one write).

        Whether an alert is open is read here, in the transaction (``raise_alert``), not
        when deciding: a person may close it in between, and the raise must then open a
        new one rather than count a repeat on a closed one."""
        clears, self.clears = self.clears, []
        for kwargs in clears:
            clear_alert(actor=self.actor, **kwargs)
        order = list(Alert.SEVERITY_ORDER)
        pending, self.pending = self.pending, {}
        for held in pending.values():
            kwargs = held["kwargs"]
            if order.index(held["severity"]) > order.index(kwargs["severity"]):
                kwargs["severity"] = held["severity"]
            raise_alert(self.actor, count=held["count"], last_at=held["last_at"], **kwargs)

    def check(self, now: dt.datetime, processor, since: dt.datetime | None) -> None:
        """The time-based rules, as of ``now``: overstaying vehicles (from the processor's
        open presences), silent devices, and exits left without an entry past the hold
        time. Called by ``Processor.check`` in its transaction."""
        self.refresh_if_due()
        if self.first_check is None:
            self.first_check = now
        for step in (
            lambda: self.check_overstay(now, processor),
            lambda: self.check_silent(now),
            lambda: self.check_exits(now, since),
            lambda: self.check_missing_exits(now, processor),
        ):
            step()
            self.flush()  # each step reads the alerts the steps before it raised

    def _occupancy_before(self, facts, after=None) -> dict[int, int]:
        """Open presences per capacity-limited zone before the batch: the counts after
        it (``after``, or the database, already written for this batch) minus the
        batch's own entries and exits."""
        delta = defaultdict(int)
        for fact in facts:
            zone = self.zones.get(fact["zone_id"])
            if zone is None or zone.capacity is None:
                continue
            if fact["kind"] == ENTRY:
                delta[zone.pk] += 1
            elif fact["kind"] == EXIT:
                delta[zone.pk] -= 1
        if not delta:
            return {}
        now = occupancy(list(delta)) if after is None else after
        return {zone: now.get(zone, 0) - change for zone, change in delta.items()}

    def settings(self, type: str, zone: _Zone) -> Settings:
        return self.rules.settings(type, zone.station, zone.chain, zone.enterprise, zone.park)

    def evaluate(self, fact: dict, zone: _Zone, counts: dict[int, int]) -> None:
        kind = fact["kind"]
        local = fact["event_time"].astimezone(self.tz)
        if kind == STRANGER:
            self.stranger(fact, zone)
            return
        self.watchlist(fact, zone)
        if kind in ENTERING:
            authorisation = None
            if fact["subject"] == SubjectKind.PERSON:
                authorisation = self.unauthorised(fact, zone, local)
                self.qualification(fact, zone, local)
            if not self.after_hours(fact, zone, local, authorisation) and authorisation == LATER:
                # allowed there at other times, in a ring the after-hours rule does not
                # watch: an unauthorised entry
                self.unauthorised(fact, zone, local, authorisation)
        if kind == DOUBLE_ENTRY:
            self.antipassback(fact, zone)
        # an exit without entry waits for ``check_exits``: its entry may still come late
        if kind == EXIT and fact["subject"] != SubjectKind.PERSON:
            key = self.overstay_key(fact["subject"], fact["subject_id"], fact["method"],
                                    fact["credential"], zone, fact.get("entry_passage_id"))  # fmt: skip
            if key in self.overstay_open:
                self.overstay_open.discard(key)
                local = timezone.localtime(fact["event_time"])
                self.clears.append(
                    {
                        "type": T.VEHICLE_OVERSTAY,
                        "source_key": key,
                        "note": _("Cleared: left at %(time)s.")
                        % {"time": f"{local:%Y-%m-%d %H:%M}"},
                        "at": fact["event_time"],
                    }
                )
        if zone.pk in counts:
            if kind == ENTRY:
                counts[zone.pk] += 1
                self.over_capacity(fact, zone, counts[zone.pk])
            elif kind == EXIT:
                counts[zone.pk] -= 1

    # --- helpers ---------------------------------------------------------------------

    def subject_name(self, fact) -> str:
        if fact["subject"] == SubjectKind.PERSON:
            return self.people.get(fact["subject_id"], ("?", None))[0]
        if fact["subject"] == SubjectKind.VEHICLE:
            return self.plates.get(fact["subject_id"], fact["credential"])
        return fact["credential"] or _("unknown")

    def subject_key(self, fact, zone: _Zone) -> str:
        if fact["subject"] == SubjectKind.PERSON:
            return f"person:{fact['subject_id']}"
        if fact["subject"] == SubjectKind.VEHICLE:
            return f"vehicle:{fact['subject_id']}"
        return f"credential:{zone.station}:{fact['method']}:{fact['credential']}"

    def raise_(
        self,
        settings: Settings,
        fact,
        zone: _Zone,
        source_key: str,
        title: str,
        *,
        severity=None,
        enterprise="zone",
        detail=None,
        device=None,
        at=None,
    ):
        """Raise (or repeat) an alert for a fact at a zone. ``enterprise`` "zone": the
        zone's owner sees it; ``None``: the police only; an id: that enterprise."""
        owner = zone.enterprise if enterprise == "zone" else enterprise
        person = fact["subject_id"] if fact.get("subject") == SubjectKind.PERSON else None
        vehicle = fact["subject_id"] if fact.get("subject") == SubjectKind.VEHICLE else None
        if self.record is not None:
            self.record.append(
                {"type": settings.type, "source_key": source_key, "zone": zone.pk,
                 "fact": fact, "at": at or fact["event_time"], "device": device}
            )  # fmt: skip
        when = at or fact["event_time"]
        key = (settings.type, source_key[:200])
        held = self.pending.get(key)
        if held is not None:  # the same condition again in this batch: count it
            held["count"] += 1
            held["last_at"] = max(held["last_at"], when)
            order = list(Alert.SEVERITY_ORDER)
            worse = severity or settings.severity
            if order.index(worse) > order.index(held["severity"]):
                held["severity"] = worse
            self.raised += 1
            return
        kwargs = {
            "type": settings.type,
            "source_key": source_key[:200],
            "station": zone.station,
            "severity": severity or settings.severity,
            "title": title,
            "enterprise": owner,  # None: a police-only alert, even in an enterprise's zone
            "zone": zone.pk,
            "person": person,
            "vehicle": vehicle,
            "device": device,
            "credential": fact.get("credential") or "",
            "detail": {
                "passage": fact.get("passage_id"),
                "passage_zone": fact.get("passage_zone_id"),
                "fact": fact["kind"],
                "method": fact.get("method"),
                **(detail or {}),
            },
            "at": when,
        }
        self.pending[key] = {
            "kwargs": kwargs,
            "count": 1,
            "last_at": when,
            "severity": kwargs["severity"],
        }
        self.raised += 1

    # --- the rules -------------------------------------------------------------------

    def stranger(self, fact, zone: _Zone) -> None:
        settings = self.settings(T.STRANGER, zone)
        if not settings.enabled:
            return
        if self.watch_hits(fact, zone) and self.settings(T.WATCHLIST_HIT, zone).enabled:
            return  # a face or plate on the watchlist: the watchlist hit says more
        if fact["credential"]:
            key = f"stranger:{zone.station}:{fact['method']}:{fact['credential']}"
        else:  # unrecognised face, unreadable plate: one alert per gate and method
            key = f"stranger:zone:{fact['passage_zone_id']}:{fact['method']}"
        title = _("Stranger at %(zone)s") % {"zone": zone.name}
        self.raise_(settings, fact, zone, key, title)

    def watch_hits(self, fact, zone: _Zone) -> list:
        """The watchlist entries a fact hits at a zone: by the registered person, the face
        or the plate, valid on the day, of the zone's station. The police list counts
        everywhere; an enterprise's own list in its zones and the shared zones of its park
        (its gates), not in other firms' zones."""
        hits = []
        if fact["subject"] == SubjectKind.PERSON:
            hits += self.watch_person.get(fact["subject_id"], ())
        if fact["credential"]:
            if fact["method"] == "face":
                hits += self.watch_face.get((zone.station, fact["credential"]), ())
            elif fact["method"] == "plate":
                hits += self.watch_plate.get((zone.station, fact["credential"]), ())
        if not hits:
            return []
        day = timezone.localtime(fact["event_time"]).date()
        found, seen = [], set()
        for entry in hits:
            if entry.pk in seen or entry.station_id != zone.station:
                continue
            seen.add(entry.pk)
            if entry.valid_until is not None and entry.valid_until < day:
                continue
            owner = entry.enterprise_id
            in_own_park = zone.enterprise is None and self.enterprise_park.get(owner) == zone.park
            if owner is None or owner == zone.enterprise or in_own_park:
                found.append(entry)
        return found

    def watchlist(self, fact, zone: _Zone) -> None:
        hits = self.watch_hits(fact, zone)
        if not hits:
            return
        settings = self.settings(T.WATCHLIST_HIT, zone)
        if not settings.enabled:
            return
        for entry in hits:
            title = _("Watchlist hit: %(subject)s at %(zone)s") % {
                "subject": self.subject_name(fact),
                "zone": zone.name,
            }
            self.raise_(
                settings, fact, zone, f"watchlist:{entry.pk}", title,
                enterprise=entry.enterprise_id,
                detail={"watchlist_entry": entry.pk, "level": entry.level, "reason": entry.reason},
            )  # fmt: skip

    def authorisation(self, person: int, zone: _Zone, local) -> str:
        """``NOW`` if an authorisation lets ``person`` into ``zone`` at ``local``, ``LATER``
        if one covers the zone on that day but not at this time (weekday or hours), else
        ``NEVER``. An authorisation covers its zone, the zones inside it, and the zones
        around it (a person allowed into a dormitory room passes through the living area
        to reach it); a resident's home zone counts at any time."""
        chain = set(zone.chain)
        entered = zone.chain[0]

        def covers(target) -> bool:
            inner = self.zones.get(target)
            return target in chain or (inner is not None and entered in inner.chain)

        home = self.people.get(person, (None, None))[1]
        if home is not None and covers(home):
            return NOW
        day, weekday, moment = local.date(), str(local.isoweekday()), local.time()
        candidates = list(self.auth_person.get(person, ()))
        for group in self.groups.get(person, ()):
            candidates += self.auth_group.get(group, ())
        found = NEVER
        for target, weekdays, start, end, valid_from, valid_until in candidates:
            if not covers(target) or not _valid_on(day, valid_from, valid_until):
                continue
            if weekday in weekdays and in_window(moment, start, end):
                return NOW
            found = LATER
        return found

    def unauthorised(self, fact, zone: _Zone, local, state: str | None = None) -> str | None:
        """Raise if no authorisation covers the zone (or, given ``state`` ``LATER``, not at
        this time); the authorisation state, or ``None`` where none is needed (transit
        zones, the outer rings)."""
        if zone.transit or zone.ring not in GUARDED_RINGS:
            return None
        if state is None:
            state = self.authorisation(fact["subject_id"], zone, local)
            if state != NEVER:
                return state
        settings = self.settings(T.UNAUTHORISED_ZONE, zone)
        if not settings.enabled:
            return state
        title = _("Unauthorised entry: %(subject)s into %(zone)s") % {
            "subject": self.subject_name(fact),
            "zone": zone.name,
        }
        key = f"person:{fact['subject_id']}:zone:{zone.pk}"
        self.raise_(settings, fact, zone, key, title)
        return state

    def after_hours(self, fact, zone: _Zone, local, authorisation: str | None) -> bool:
        """Entry into a ring of the rule's ``rings`` outside the allowed time: outside the
        rule's schedule where a rule row sets one, else — for a person — outside the hours
        of the authorisation that lets them into the zone. Whether the rule watches this
        zone (and so judged the entry)."""
        settings = self.settings(T.AFTER_HOURS, zone)
        if not settings.enabled or zone.ring not in settings.thresholds.get("rings", ()):
            return False
        if settings.time_from is not None or settings.weekdays != ALL_DAYS:
            if settings.in_schedule(local):
                return True
        elif authorisation != LATER:
            return True
        severity = None
        row = self.rules.row_for(
            T.AFTER_HOURS, zone.station, zone.chain, zone.enterprise, zone.park
        )
        if row is None or not row.severity:
            severity = settings.thresholds.get("ring_severity", {}).get(zone.ring)
        title = _("After-hours entry: %(subject)s into %(zone)s") % {
            "subject": self.subject_name(fact),
            "zone": zone.name,
        }
        key = f"{self.subject_key(fact, zone)}:zone:{zone.pk}"
        self.raise_(settings, fact, zone, key, title, severity=severity)
        return True

    def antipassback(self, fact, zone: _Zone) -> None:
        settings = self.settings(T.ANTIPASSBACK, zone)
        if not settings.enabled:
            return
        if fact["kind"] != DOUBLE_ENTRY and not fact.get("history"):
            return  # the first exit of someone never seen here: inside since before we knew
        values = {"subject": self.subject_name(fact), "zone": zone.name}
        if fact["kind"] == DOUBLE_ENTRY:
            title = _("Double entry: %(subject)s at %(zone)s") % values
        else:
            title = _("Exit without entry: %(subject)s at %(zone)s") % values
        key = f"{self.subject_key(fact, zone)}:zone:{zone.pk}"
        self.raise_(settings, fact, zone, key, title)

    def qualification(self, fact, zone: _Zone, local) -> None:
        required = set()
        for z in zone.chain:
            required |= self.required.get(z, set())
        if not required:
            return
        person, day = fact["subject_id"], local.date()
        missing, expired = [], []
        for qtype in sorted(required):
            held = self.quals.get((person, qtype), ())
            if not held:
                missing.append(qtype)
            elif not any(_valid_on(day, issued, until) for issued, until in held):
                expired.append(qtype)
        titles = {
            T.QUALIFICATION_MISSING: _(
                "Qualification missing: %(subject)s in %(zone)s (%(types)s)"
            ),
            T.QUALIFICATION_EXPIRED: _(
                "Qualification expired: %(subject)s in %(zone)s (%(types)s)"
            ),
        }
        for type, lacking in (
            (T.QUALIFICATION_MISSING, missing),
            (T.QUALIFICATION_EXPIRED, expired),
        ):
            message = titles[type]
            if not lacking:
                continue
            settings = self.settings(type, zone)
            if not settings.enabled:
                continue
            title = message % {
                "subject": self.subject_name(fact),
                "zone": zone.name,
                "types": ", ".join(self.qtype_names.get(q, str(q)) for q in lacking),
            }
            key = f"person:{person}:zone:{zone.pk}"
            self.raise_(settings, fact, zone, key, title, detail={"qualification_types": lacking})

    def over_capacity(self, fact, zone: _Zone, count: int) -> None:
        settings = self.settings(T.OVER_CAPACITY, zone)
        if not settings.enabled:
            return
        if not over_capacity(
            count, zone.capacity, settings.thresholds.get("factor", CAPACITY_FACTOR)
        ):
            return
        title = _("Over capacity: %(zone)s (%(count)d of %(capacity)d)") % {
            "zone": zone.name,
            "count": count,
            "capacity": zone.capacity,
        }
        self.raise_(
            settings, fact, zone, f"zone:{zone.pk}", title,
            detail={"count": count, "capacity": zone.capacity},
        )  # fmt: skip

    # --- device alarms -----------------------------------------------------------------

    def nearby_cameras(self, zone: _Zone) -> list[int]:
        """Active cameras of the zone and the zones inside it, then of the zones around
        it, nearest first (at most ``NEARBY_CAMERAS``)."""
        found = list(self.cameras.get(zone.pk, ()))
        for child in self.children.get(zone.pk, ()):
            found += self.cameras.get(child, ())
        for above in zone.chain[1:]:
            if len(found) >= NEARBY_CAMERAS:
                break
            found += self.cameras.get(above, ())
        return found[:NEARBY_CAMERAS]

    def alarm(self, fact, zone: _Zone) -> None:
        type = ALARM_TYPES.get(fact["alarm_kind"])
        if type is None or fact["state"] == AlarmState.STOP:
            return  # the end of an alarm closes nothing by itself: a person checks
        settings = self.settings(type, zone)
        if not settings.enabled:
            return
        serial, name, _zone, _hb = self.devices.get(fact["device_id"], ("?", "?", None, 0))
        cameras = [
            {"id": pk, "serial": self.devices[pk][0], "name": self.devices[pk][1],
             "zone": self.devices[pk][2]}
            for pk in self.nearby_cameras(zone)
        ]  # fmt: skip
        title = _("%(alarm)s at %(zone)s (%(device)s)") % {
            "alarm": AlarmKind(fact["alarm_kind"]).label,
            "zone": zone.name,
            "device": name,
        }
        self.raise_(
            settings, fact, zone, f"device:{serial}", title,
            device=fact["device_id"],
            detail={"alarm": fact["alarm_id"], "alarm_kind": fact["alarm_kind"],
                    "cameras": cameras},
        )  # fmt: skip

    # --- time-based rules ---------------------------------------------------------------

    @staticmethod
    def overstay_key(kind, subject_id, method, credential, zone: _Zone, entry_passage_id):
        """The source of an overstay alert: one per vehicle and stay, so an alert a person
        closed is not raised again while the same stay goes on."""
        if kind == SubjectKind.VEHICLE:
            return f"vehicle:{subject_id}:entered:{entry_passage_id}"
        if kind == SubjectKind.UNKNOWN and method == "plate" and credential:
            return f"plate:{zone.station}:{credential}:entered:{entry_passage_id}"
        return None

    def check_overstay(self, now: dt.datetime, processor) -> None:
        inside, over = set(), {}
        for kind, sid, method, cred, zone_id, entered, entry_pid, _l in processor.open_stays():
            if kind == SubjectKind.PERSON or entered is None:
                continue
            zone = self.zones.get(zone_id)
            key = zone and self.overstay_key(kind, sid, method, cred, zone, entry_pid)
            if key is None:
                continue
            settings = self.settings(T.VEHICLE_OVERSTAY, zone)
            if not settings.enabled:
                continue
            minutes = dt.timedelta(minutes=float(settings.thresholds.get("minutes", 240)))
            grace = dt.timedelta(minutes=float(settings.thresholds.get("grace_minutes", 0)))
            plate, registered, until, host = self.vehicles.get(sid, (cred, False, None, None))
            if until is not None:
                limit = until + grace  # a visitor's car: until the end of the appointment
            elif kind == SubjectKind.UNKNOWN or not registered:
                limit = entered + minutes  # an outside vehicle: the longest stay allowed
            else:
                continue  # a registered vehicle with no end: may stay
            inside.add(key)
            if now > limit:
                over[key] = (kind, sid, method, cred, zone, entered, entry_pid, plate, host, limit)
        if over:
            done = set(
                Alert.objects.filter(
                    type=T.VEHICLE_OVERSTAY, source_key__in=list(over)
                ).values_list("source_key", flat=True)
            )
            for key, (
                kind,
                sid,
                method,
                cred,
                zone,
                entered,
                pid,
                plate,
                host,
                limit,
            ) in over.items():
                if key in done:
                    continue
                fact = {
                    "kind": "overstay", "subject": kind, "subject_id": sid, "method": method,
                    "credential": cred, "passage_id": pid, "passage_zone_id": None,
                    "event_time": now,
                }  # fmt: skip
                title = _("Vehicle overstay: %(plate)s in %(zone)s since %(entered)s") % {
                    "plate": plate,
                    "zone": zone.name,
                    "entered": f"{timezone.localtime(entered):%m-%d %H:%M}",
                }
                self.raise_(
                    self.settings(T.VEHICLE_OVERSTAY, zone), fact, zone, key, title,
                    enterprise=host if host is not None else "zone",
                    detail={"entered_at": entered.isoformat(), "allowed_until": limit.isoformat()},
                    at=limit,
                )  # fmt: skip
                self.overstay_open.add(key)
        # still inside but allowed longer now (the appointment was extended), or gone
        # without an exit this processor saw: the condition is over
        for key in [k for k in self.overstay_open if k not in over]:
            self.overstay_open.discard(key)
            note = (
                _("Cleared: allowed to stay longer now.")
                if key in inside
                else _("Cleared: no longer inside.")
            )
            clear_alert(
                type=T.VEHICLE_OVERSTAY, source_key=key, note=note, at=now, actor=self.actor
            )

    def check_silent(self, now: dt.datetime) -> None:
        """A device not heard from (no heartbeat, no event) for its rule's number of
        heartbeat intervals is silent; it clears when the device is heard again. A device
        is judged only once the check has run that long (a restarted platform first gives
        every device the time to report)."""
        silent = {}
        for device, seen, heartbeat in DeviceLink.objects.filter(device__active=True).values_list(
            "device_id", "last_seen", "last_heartbeat"
        ):
            info = self.devices.get(device)
            heard = max((t for t in (seen, heartbeat) if t is not None), default=None)
            if info is None or heard is None:
                continue
            zone = self.zones.get(info[2])
            if zone is None:
                continue
            settings = self.settings(T.DEVICE_SILENT, zone)
            if not settings.enabled:
                continue
            heartbeats = settings.thresholds.get("heartbeats", SILENT_HEARTBEATS)
            allowed = silent_after(info[3], heartbeats)
            if is_silent(heard, info[3], now, heartbeats) and now - self.first_check >= allowed:
                silent[device] = (heard, zone, settings)
        keys = {
            device: f"device:{self.devices[device][0]}:since:{heard:%Y%m%dT%H%M%SZ}"
            for device, (heard, _z, _s) in silent.items()
        }
        done = set()
        if keys:
            done = set(
                Alert.objects.filter(
                    type=T.DEVICE_SILENT, source_key__in=list(keys.values())
                ).values_list("source_key", flat=True)
            )
        for device, (heard, zone, settings) in silent.items():
            if keys[device] in done:
                continue
            name = self.devices[device][1]
            title = _("Device silent: %(device)s at %(zone)s since %(heard)s") % {
                "device": name,
                "zone": zone.name,
                "heard": f"{timezone.localtime(heard):%m-%d %H:%M}",
            }
            fact = {"kind": "silent", "credential": "", "event_time": now}
            self.raise_(
                settings, fact, zone, keys[device], title,
                device=device, detail={"last_heard": heard.isoformat()}, at=now,
            )  # fmt: skip
        heard_again = (
            Alert.objects.filter(type=T.DEVICE_SILENT, state__in=OPEN)
            .exclude(device_id__in=list(silent))
            .values_list("source_key", "device__link__last_seen")
        )
        for key, seen in list(heard_again):
            local = timezone.localtime(seen) if seen else None
            note = (
                _("Cleared: heard again at %(time)s.") % {"time": f"{local:%Y-%m-%d %H:%M}"}
                if local
                else _("Cleared: the device is no longer watched.")
            )
            clear_alert(
                type=T.DEVICE_SILENT, source_key=key, note=note, at=seen or now, actor=self.actor
            )

    def check_exits(self, now: dt.datetime, since: dt.datetime | None) -> None:
        """Exits without an entry whose hold time has passed and whose entry did not come
        late: anti-passback, if the subject was seen in the zone before (the first exit
        of someone never seen there was inside before the platform knew)."""
        upper = now - self.exit_hold
        # the first check looks back a day (a new processor does not judge the whole log)
        lower = (since - self.exit_hold) if since is not None else upper - dt.timedelta(days=1)
        if lower >= upper:
            return
        due = list(
            Presence.objects.filter(
                exit_first=True, entered_at__isnull=True, left_at__gt=lower, left_at__lte=upper
            )
            .order_by("left_at", "pk")
            .values_list(
                "pk", "subject_kind", "person_id", "vehicle_id", "method", "credential",
                "zone_id", "left_at", "exit_passage_id",
            )
        )  # fmt: skip
        if not due:
            return
        subjects = Q(pk__in=[])
        people = {r[2] for r in due if r[2]}
        vehicles = {r[3] for r in due if r[3]}
        credentials = {r[5] for r in due if r[1] == SubjectKind.UNKNOWN and r[5]}
        if people:
            subjects |= Q(person_id__in=people)
        if vehicles:
            subjects |= Q(vehicle_id__in=vehicles)
        if credentials:
            subjects |= Q(subject_kind=SubjectKind.UNKNOWN, credential__in=credentials)
        first_seen = {}  # (subject, zone) → the first presence row
        for pk, kind, person, vehicle, credential, zone in (
            Presence.objects.filter(subjects, zone_id__in={r[6] for r in due})
            .order_by("pk")
            .values_list("pk", "subject_kind", "person_id", "vehicle_id", "credential", "zone_id")
        ):
            first_seen.setdefault((kind, person or vehicle or credential, zone), pk)
        for pk, kind, person, vehicle, method, credential, zone_id, left, passage in due:
            zone = self.zones.get(zone_id)
            subject = person or vehicle or credential
            if zone is None or first_seen.get((kind, subject, zone_id), pk) >= pk:
                continue  # never seen here before this exit
            fact = {
                "kind": EXIT_WITHOUT_ENTRY, "subject": kind, "subject_id": person or vehicle,
                "method": method, "credential": credential, "passage_id": passage,
                "passage_zone_id": None, "zone_id": zone_id, "event_time": left,
                "history": True,
            }  # fmt: skip
            self.antipassback(fact, zone)

    def check_missing_exits(self, now: dt.datetime, processor) -> None:
        """Entry without exit: a registered person still inside with no passage anywhere
        for longer than the anti-passback rule allows — ``outside_hours`` when the person
        is in no zone deeper than the park ring (not at work, at a meal or at home: people
        do not stay hours in the open park), ``max_stay_hours`` otherwise. The exit was
        never recorded (a tailgate, a door held open). Residents are at home in their home
        zone and the zones around it. One alert per person and stay, for the outermost
        zone (the one entered first)."""
        stays = defaultdict(list)  # person → its open stays
        for kind, pid, _m, _c, zone_id, entered, entry_pid, last in processor.open_stays():
            zone = self.zones.get(zone_id)
            if kind == SubjectKind.PERSON and entered is not None and zone is not None:
                stays[pid].append((entered, zone, entry_pid, last))
        candidates = {}  # person → (entered, zone, entry passage, overdue since)
        for pid, open_stays in stays.items():
            entered, zone, entry_pid, last = min(open_stays, key=lambda s: s[0])
            home = self.zones.get(self.people.get(pid, (None, None))[1])
            if home is not None and zone.pk in home.chain:
                continue  # at home
            settings = self.settings(T.ANTIPASSBACK, zone)
            if not settings.enabled:
                continue
            deepest = max(open_stays, key=lambda s: len(s[1].chain))[1]
            key = "outside_hours" if deepest.ring in OPEN_RINGS else "max_stay_hours"
            hours = settings.thresholds.get(key)
            if not hours:
                continue
            overdue = last + dt.timedelta(hours=float(hours))
            if now > overdue:
                candidates[pid] = (entered, zone, entry_pid, overdue)
        if not candidates:
            return
        keys = {
            pid: f"person:{pid}:zone:{zone.pk}:entered:{entry_pid}"
            for pid, (_e, zone, entry_pid, _o) in candidates.items()
        }
        done = set(
            Alert.objects.filter(
                type=T.ANTIPASSBACK, source_key__in=list(keys.values())
            ).values_list("source_key", flat=True)
        )
        for pid, (entered, zone, entry_pid, overdue) in candidates.items():
            if keys[pid] in done:
                continue
            fact = {
                "kind": "entry_without_exit", "subject": SubjectKind.PERSON, "subject_id": pid,
                "method": None, "credential": "", "passage_id": entry_pid,
                "passage_zone_id": None, "zone_id": zone.pk, "event_time": overdue,
            }  # fmt: skip
            title = _("Entry without exit: %(subject)s in %(zone)s since %(entered)s") % {
                "subject": self.subject_name(fact),
                "zone": zone.name,
                "entered": f"{timezone.localtime(entered):%m-%d %H:%M}",
            }
            self.raise_(
                self.settings(T.ANTIPASSBACK, zone), fact, zone, keys[pid], title,
                detail={"entered_at": entered.isoformat()}, at=overdue,
            )  # fmt: skip
