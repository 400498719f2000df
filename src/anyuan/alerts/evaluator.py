"""The rules evaluator: turns the processor's facts into alerts.

``Evaluator`` is the processor's ``on_facts`` hook (``anyuan process`` wires it in): it is
called with each batch's facts inside the batch's transaction, so the alerts it raises
commit together with the checkpoint — a crash and a restart from the checkpoint neither
lose nor repeat an alert.

Rules evaluated here (fact-driven): stranger, unauthorised zone, watchlist hit, after-hours
entry, anti-passback, qualification missing / expired, over capacity. Everything they
need — zones and their ancestry, rules, authorisations and access groups, qualifications,
the watchlist, names for titles — is loaded into memory at once and reloaded when the
registry changes (a count + max(updated) signature, checked every ``refresh_seconds``), so
a fact costs no queries unless it raises an alert; over capacity costs one occupancy query
per batch that enters or leaves a zone with a capacity.
"""

import time
from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace

from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.alerts.actions import raise_alert
from anyuan.alerts.models import Alert, Rule
from anyuan.alerts.rules import RuleBook, Settings, in_window
from anyuan.core.system import SYSTEM
from anyuan.events.models import SubjectKind
from anyuan.events.processor import (
    DOUBLE_ENTRY,
    ENTRY,
    EXIT,
    EXIT_WITHOUT_ENTRY,
    LATE_ENTRY,
    STRANGER,
    occupancy,
)
from anyuan.registry.models import (
    AccessGroup,
    Authorisation,
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
    models = (Rule, Zone, Person, Vehicle, AccessGroup, Authorisation, Qualification)
    parts = [tuple(m.objects.aggregate(n=Count("pk"), u=Max("updated")).values()) for m in models]
    parts.append(tuple(WatchlistEntry.objects.aggregate(n=Count("pk"), u=Max("updated")).values()))
    # membership and required qualifications do not touch ``updated``: count their rows
    parts.append(AccessGroup.members.through.objects.count())
    parts.append(Zone.required_qualifications.through.objects.count())
    return tuple(parts)


def _valid_on(day, valid_from, valid_until) -> bool:
    return (valid_from is None or valid_from <= day) and (valid_until is None or day <= valid_until)


class Evaluator:
    """Fact-driven alert rules, evaluated in memory; call it with a batch's facts."""

    def __init__(self, actor=SYSTEM, refresh_seconds: float = 10.0):
        self.actor = actor
        self.refresh_seconds = refresh_seconds
        self.raised = 0  # alerts raised or repeated, for the command's report
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

        self.people = {}  # pk → (name, home zone)
        digests = {}
        for pk, name, digest, home in Person.objects.values_list(
            "pk", "name", "id_number_digest", "home_zone_id"
        ):
            self.people[pk] = (name, home)
            if digest:
                digests[pk] = digest
        self.plates = dict(Vehicle.objects.values_list("pk", "plate"))

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
        self.refresh_if_due()
        counts = self._occupancy_before(facts)
        for fact in facts:
            zone = self.zones.get(fact["zone_id"])
            if zone is None:
                continue
            self.evaluate(fact, zone, counts)

    def _occupancy_before(self, facts) -> dict[int, int]:
        """Open presences per capacity-limited zone before the batch: the database (already
        written for this batch) minus the batch's own entries and exits."""
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
        now = occupancy(list(delta))
        return {zone: now.get(zone, 0) - change for zone, change in delta.items()}

    def settings(self, type: str, zone: _Zone) -> Settings:
        return self.rules.settings(type, zone.station, zone.chain, zone.enterprise, zone.park)

    def evaluate(self, fact: dict, zone: _Zone, counts: dict[int, int]) -> None:
        kind = fact["kind"]
        local = timezone.localtime(fact["event_time"])
        if kind == STRANGER:
            self.stranger(fact, zone)
            return
        self.watchlist(fact, zone)
        if kind in ENTERING:
            if fact["subject"] == SubjectKind.PERSON:
                self.unauthorised(fact, zone, local)
                self.qualification(fact, zone, local)
            self.after_hours(fact, zone, local)
        if kind in (DOUBLE_ENTRY, EXIT_WITHOUT_ENTRY):
            self.antipassback(fact, zone)
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
    ):
        """Raise (or repeat) an alert for a fact at a zone. ``enterprise`` "zone": the
        zone's owner sees it; ``None``: the police only; an id: that enterprise."""
        owner = zone.enterprise if enterprise == "zone" else enterprise
        person = fact["subject_id"] if fact["subject"] == SubjectKind.PERSON else None
        vehicle = fact["subject_id"] if fact["subject"] == SubjectKind.VEHICLE else None
        raise_alert(
            self.actor,
            type=settings.type,
            source_key=source_key[:200],
            station=zone.station,
            severity=severity or settings.severity,
            title=title,
            enterprise=owner,  # None: a police-only alert, even in an enterprise's zone
            zone=zone.pk,
            person=person,
            vehicle=vehicle,
            credential=fact["credential"],
            detail={
                "passage": fact["passage_id"],
                "passage_zone": fact["passage_zone_id"],
                "fact": fact["kind"],
                "method": fact["method"],
                **(detail or {}),
            },
            at=fact["event_time"],
        )
        self.raised += 1

    # --- the rules -------------------------------------------------------------------

    def stranger(self, fact, zone: _Zone) -> None:
        settings = self.settings(T.STRANGER, zone)
        if not settings.enabled:
            return
        if fact["credential"]:
            key = f"stranger:{zone.station}:{fact['method']}:{fact['credential']}"
        else:  # unrecognised face, unreadable plate: one alert per gate and method
            key = f"stranger:zone:{fact['passage_zone_id']}:{fact['method']}"
        title = _("Stranger at %(zone)s") % {"zone": zone.name}
        self.raise_(settings, fact, zone, key, title)

    def watchlist(self, fact, zone: _Zone) -> None:
        hits = []
        if fact["subject"] == SubjectKind.PERSON:
            hits += self.watch_person.get(fact["subject_id"], ())
        if fact["credential"]:
            if fact["method"] == "face":
                hits += self.watch_face.get((zone.station, fact["credential"]), ())
            elif fact["method"] == "plate":
                hits += self.watch_plate.get((zone.station, fact["credential"]), ())
        if not hits:
            return
        settings = self.settings(T.WATCHLIST_HIT, zone)
        if not settings.enabled:
            return
        day = timezone.localtime(fact["event_time"]).date()
        seen = set()
        for entry in hits:
            if entry.pk in seen or entry.station_id != zone.station:
                continue
            seen.add(entry.pk)
            if entry.valid_until is not None and entry.valid_until < day:
                continue
            # an enterprise's own list counts in its zones; the police list everywhere
            if entry.enterprise_id is not None and entry.enterprise_id != zone.enterprise:
                continue
            title = _("Watchlist hit: %(subject)s at %(zone)s") % {
                "subject": self.subject_name(fact),
                "zone": zone.name,
            }
            self.raise_(
                settings, fact, zone, f"watchlist:{entry.pk}", title,
                enterprise=entry.enterprise_id,
                detail={"watchlist_entry": entry.pk, "level": entry.level, "reason": entry.reason},
            )  # fmt: skip

    def authorised(self, person: int, zone: _Zone, local) -> bool:
        """An authorisation covers its zone, the zones inside it, and the zones around it
        (a person allowed into a dormitory room passes through the living area to reach it)."""
        chain = set(zone.chain)
        entered = zone.chain[0]

        def covers(target) -> bool:
            inner = self.zones.get(target)
            return target in chain or (inner is not None and entered in inner.chain)

        home = self.people.get(person, (None, None))[1]
        if home is not None and covers(home):
            return True
        day, weekday, moment = local.date(), str(local.isoweekday()), local.time()
        candidates = list(self.auth_person.get(person, ()))
        for group in self.groups.get(person, ()):
            candidates += self.auth_group.get(group, ())
        for target, weekdays, start, end, valid_from, valid_until in candidates:
            if (
                covers(target)
                and weekday in weekdays
                and _valid_on(day, valid_from, valid_until)
                and in_window(moment, start, end)
            ):
                return True
        return False

    def unauthorised(self, fact, zone: _Zone, local) -> None:
        if zone.transit or zone.ring not in GUARDED_RINGS:
            return
        if self.authorised(fact["subject_id"], zone, local):
            return
        settings = self.settings(T.UNAUTHORISED_ZONE, zone)
        if not settings.enabled:
            return
        title = _("Unauthorised entry: %(subject)s into %(zone)s") % {
            "subject": self.subject_name(fact),
            "zone": zone.name,
        }
        key = f"person:{fact['subject_id']}:zone:{zone.pk}"
        self.raise_(settings, fact, zone, key, title)

    def after_hours(self, fact, zone: _Zone, local) -> None:
        settings = self.settings(T.AFTER_HOURS, zone)
        if not settings.enabled or zone.ring not in settings.thresholds.get("rings", ()):
            return
        if settings.in_schedule(local):
            return
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
        limit = zone.capacity * float(settings.thresholds.get("factor", 1.0))
        if count <= limit:
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
