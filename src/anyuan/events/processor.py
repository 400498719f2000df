"""The event processor: tails the passage log by id and keeps presences and occupancy.

For every passage, in log (id) order:

1. the credential is matched to a subject by the method — face → ``Person.face_id``,
   card → ``Person.card_number``, employee number → ``Person.employee_number`` (within
   the zone's enterprise first, then unique within the station), plate → ``Vehicle.plate``
   — always within the station of the passage's zone. No match: an *unknown* subject (a
   stranger), tracked by its credential; an empty credential (an unrecognised face, an
   unreadable plate) gives a ``stranger`` fact and no presence;
2. the passage's zone is resolved to the *staying zone*: a transit zone (a gate, a
   corridor) stands for the nearest non-transit zone above it — the zone the gate leads
   into (``PARK/G1`` → ``PARK``);
3. ``in`` opens a presence of (subject, zone), ``out`` closes it; intervals are placed by
   event time (see ``docs/events.md`` for double entries, exits without entry and
   out-of-order events).

Every passage yields *facts* (``entry``, ``exit``, ``stranger``, ``double_entry``,
``exit_without_entry``, ``late_entry``), and every device alarm (tailed by id from its own
log) an ``alarm`` fact: dicts a rules engine consumes through the ``on_facts`` hook — in
two steps if it has them: ``on_facts.decide(facts, occupancy=…)`` before the batch's
transaction (in memory: on SQLite the transaction holds the one write lock, and
ingestion waits for it), ``on_facts.write()`` inside it; a plain callable is called
inside it. :meth:`Processor.check` runs the time-based rules of the hook
(``on_facts.check``) and saves how far they ran.

Passages are read in batches (``values_list``, ordered by id); new presences are
inserted, closed ones updated, the rules' writes done, the rollups and the index by
credential (:mod:`anyuan.events.credentials`) added and the checkpoint saved in one
transaction, so a crash between batches loses nothing and repeats nothing. Open presences
and the credential maps live in memory: loaded once at start, the maps refreshed when the
registry changes.
"""

import contextlib
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Max, Q

from anyuan.core import write_turns
from anyuan.events import credentials
from anyuan.events.models import DeviceAlarm, Passage, Presence, ProcessorCheckpoint, SubjectKind
from anyuan.live import actions as live
from anyuan.registry.models import Person, Vehicle, Zone

DEFAULT_NAME = "presence"
DEFAULT_BATCH = 5000

ENTRY, EXIT, STRANGER, ALARM = "entry", "exit", "stranger", "alarm"
DOUBLE_ENTRY, EXIT_WITHOUT_ENTRY, LATE_ENTRY = "double_entry", "exit_without_entry", "late_entry"

_AMBIGUOUS = -1  # an employee number held by several people of one station


@dataclass
class _Stay:
    """An open presence (or an exit without entry) in memory; ``pk`` None until written."""

    subject_kind: str
    subject_id: int | None
    method: str
    credential: str
    zone_id: int
    entered_at: dt.datetime | None
    entry_passage_id: int | None
    left_at: dt.datetime | None = None
    exit_passage_id: int | None = None
    exit_first: bool = False
    pk: int | None = None


def _subject_key(kind: str, subject_id: int | None, method: str, credential: str) -> tuple:
    if kind == SubjectKind.UNKNOWN:
        return (kind, method, credential)
    return (kind, subject_id)


class Registry:
    """Credential → subject maps and zone facts, loaded with ``values_list`` in one go."""

    def __init__(self):
        self.signature = None
        self.load()

    @staticmethod
    def current_signature():
        return tuple(
            tuple(model.objects.aggregate(n=Count("pk"), u=Max("updated")).values())
            for model in (Person, Vehicle, Zone)
        )

    def load(self) -> None:
        self.signature = self.current_signature()
        zones = list(
            Zone.objects.values_list(
                "pk", "park__station_id", "enterprise_id", "is_transit", "parent_id"
            )
        )
        self.zone_station = {z: s for z, s, _e, _t, _p in zones}
        self.zone_enterprise = {z: e for z, _s, e, _t, _p in zones}
        transit = {z: t for z, _s, _e, t, _p in zones}
        parent = {z: p for z, _s, _e, _t, p in zones}
        self.staying_zone = {}
        for z in transit:
            target = z
            while target is not None and transit.get(target):
                target = parent.get(target)
            self.staying_zone[z] = target if target is not None else z

        self.face, self.card, self.employee, self.employee_station = {}, {}, {}, {}
        people = Person.objects.values_list(
            "pk", "station_id", "enterprise_id", "face_id", "card_number", "employee_number"
        )
        for pk, station, enterprise, face, card, number in people:
            if face:
                self.face[(station, face)] = pk
            if card:
                self.card[(station, card)] = pk
            if number:
                if enterprise:
                    self.employee[(enterprise, number)] = pk
                key = (station, number)
                self.employee_station[key] = _AMBIGUOUS if key in self.employee_station else pk
        self.plate = {
            (station, plate): pk
            for pk, station, plate in Vehicle.objects.values_list("pk", "station_id", "plate")
        }

    def refresh_if_changed(self) -> bool:
        if self.current_signature() != self.signature:
            self.load()
            return True
        return False

    def match(self, zone_id: int, method: str, credential: str) -> tuple[str, int | None]:
        """(subject kind, subject id) of a passage's credential."""
        if credential:
            station = self.zone_station.get(zone_id)
            found = None
            if method == "face":
                found = self.face.get((station, credential))
            elif method == "card":
                found = self.card.get((station, credential))
            elif method == "employee_number":
                enterprise = self.zone_enterprise.get(zone_id)
                if enterprise is not None:
                    found = self.employee.get((enterprise, credential))
                if found is None:
                    found = self.employee_station.get((station, credential))
                    if found == _AMBIGUOUS:
                        found = None
            elif method == "plate":
                pk = self.plate.get((station, credential))
                if pk is not None:
                    return SubjectKind.VEHICLE, pk
            if found is not None:
                return SubjectKind.PERSON, found
        return SubjectKind.UNKNOWN, None


PRESENCE_COLUMNS = (
    "subject_kind", "person_id", "vehicle_id", "method", "credential", "zone_id",
    "entered_at", "left_at", "entry_passage_id", "exit_passage_id", "exit_first",
)  # fmt: skip
INSERT_CHUNK_ROWS = 1000


def _adapter():
    """Aware datetime (or None) → its database form, without Django's per-value cost
    (the ingestion's adapter: :func:`anyuan.events.actions.datetime_adapter`)."""
    from anyuan.events.actions import datetime_adapter

    adapt = datetime_adapter()
    return lambda value: None if value is None else adapt(value)


def _insert(stays: list[_Stay]) -> None:
    """Insert new presences and set their ``pk``: multi-row ``INSERT … RETURNING id`` (the
    ids come back in row order on SQLite and PostgreSQL, as ``bulk_create`` relies on)
    — ``bulk_create`` builds a model instance and prepares every field of every row, five
    times slower."""
    if not stays:
        return
    adapt = _adapter()
    qn = connection.ops.quote_name
    table = qn(Presence._meta.db_table)
    names = ", ".join(qn(c) for c in PRESENCE_COLUMNS)
    one = "(" + ", ".join(["%s"] * len(PRESENCE_COLUMNS)) + ")"
    person, vehicle = SubjectKind.PERSON, SubjectKind.VEHICLE
    with connection.cursor() as cursor:
        for lo in range(0, len(stays), INSERT_CHUNK_ROWS):
            chunk = stays[lo : lo + INSERT_CHUNK_ROWS]
            params = []
            for s in chunk:
                kind = s.subject_kind
                params += (
                    kind,
                    s.subject_id if kind == person else None,
                    s.subject_id if kind == vehicle else None,
                    s.method,
                    s.credential,
                    s.zone_id,
                    adapt(s.entered_at),
                    adapt(s.left_at),
                    s.entry_passage_id,
                    s.exit_passage_id,
                    s.exit_first,
                )
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))}"  # noqa: S608 — quoted names, values are parameters
            cursor.execute(sql + f" RETURNING {qn('id')}", params)
            for stay, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                stay.pk = pk


def _update(stays: list[_Stay]) -> None:
    """Write the changed times of existing presences: one prepared UPDATE, executed for
    every row (``bulk_update`` builds a CASE expression per row, ten times slower)."""
    if not stays:
        return
    adapt = _adapter()
    sql = (
        f"UPDATE {connection.ops.quote_name(Presence._meta.db_table)} SET entered_at = %s,"  # noqa: S608 — the table name is the model's
        " entry_passage_id = %s, left_at = %s, exit_passage_id = %s WHERE id = %s"
    )
    params = [
        (adapt(s.entered_at), s.entry_passage_id, adapt(s.left_at), s.exit_passage_id, s.pk)
        for s in stays
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


@dataclass
class BatchResult:
    processed: int  # passages
    last_passage_id: int
    lag_s: float | None  # platform clock minus the received time of the batch's last passage
    facts: list
    more: bool = False  # a full batch was read: there may be more waiting
    alarms: int = 0  # device alarms


class Processor:
    """Presences and occupancy from the passage log; one instance per processor name.

    ``on_facts(facts)`` is called inside each batch's transaction: what a rules engine
    writes there commits (or is lost) together with the presences and the checkpoint.
    A hook with ``decide`` and ``write`` decides before the transaction (handed the
    processor's occupancy per zone after the batch) and writes inside it; if the
    transaction fails, its ``discard()`` is called and the processor resets.
    ``on_facts.check(now, processor, since)``, if the hook has it, runs the time-based
    rules from :meth:`check`, in a transaction that also saves how far they ran.
    """

    def __init__(
        self,
        name: str = DEFAULT_NAME,
        batch: int = DEFAULT_BATCH,
        on_facts: Callable[[list[dict]], None] | None = None,
        refresh_seconds: float = 10.0,
        rollups: bool | None = None,
    ):
        self.name, self.batch, self.on_facts = name, batch, on_facts
        self.refresh_seconds = refresh_seconds
        # the dashboard's hourly passage counts are kept by the default processor only
        # (``anyuan.dashboard.rollups``: a rebuild counts up to that checkpoint), and so
        # is the log's index by credential (``anyuan.events.credentials``)
        self.rollups = name == DEFAULT_NAME if rollups is None else rollups
        self.credential_index = name == DEFAULT_NAME
        self.reset()

    # --- state -----------------------------------------------------------------------

    def reset(self) -> None:
        """(Re)load everything from the database: checkpoint, registry, open presences."""
        checkpoint, _ = ProcessorCheckpoint.objects.get_or_create(name=self.name)
        self.last_passage_id = checkpoint.last_passage_id
        self.last_alarm_id = checkpoint.last_alarm_id
        self.checked_until = checkpoint.checked_until
        self.registry = Registry()
        self._refreshed = time.monotonic()
        self.open: dict[tuple, _Stay] = {}  # (subject key, zone) → open presence
        self.exits_first: dict[tuple, _Stay] = {}  # (subject key, zone) → latest exit-first
        # (subject key, zone) pairs this processor has seen enter or leave since it started:
        # an exit without entry of a pair never seen before is what every person inside
        # produces when the system starts, not a passback
        self.known: set[tuple] = set()
        fields = (
            "pk", "subject_kind", "person_id", "vehicle_id", "method", "credential", "zone_id",
            "entered_at", "left_at", "entry_passage_id", "exit_passage_id", "exit_first",
        )  # fmt: skip
        rows = Presence.objects.filter(left_at__isnull=True).values_list(*fields)
        later = Presence.objects.filter(exit_first=True).order_by("exit_passage_id")
        for target, rows_ in ((self.open, rows), (self.exits_first, later.values_list(*fields))):
            for (
                pk,
                kind,
                person,
                vehicle,
                method,
                cred,
                zone,
                entered,
                left,
                ein,
                eout,
                first,
            ) in rows_:
                stay = _Stay(kind, person or vehicle, method, cred, zone, entered, ein, left, eout, first, pk)  # fmt: skip
                target[(_subject_key(kind, stay.subject_id, method, cred), zone)] = stay
        self.occupancy = Counter(zone for _key, zone in self.open)
        # subject → the time of its latest passage; after a restart, of its latest entry or
        # exit among the presences since the earliest open one began
        self.last_activity: dict[tuple, dt.datetime] = {}
        entered = [s.entered_at for s in self.open.values() if s.entered_at is not None]
        if entered:
            recent = (
                Presence.objects.filter(Q(left_at__isnull=True) | Q(left_at__gte=min(entered)))
                .values_list("subject_kind", "person_id", "vehicle_id", "method", "credential")
                .annotate(entered=Max("entered_at"), left=Max("left_at"))
                .order_by()
            )
            for kind, person, vehicle, method, cred, last_in, last_out in recent:
                times = [t for t in (last_in, last_out) if t is not None]
                if not times:
                    continue
                subject = _subject_key(kind, person or vehicle, method, cred)
                seen = self.last_activity.get(subject)
                self.last_activity[subject] = max(times + ([seen] if seen else []))

    # --- one passage -----------------------------------------------------------------

    def _apply(self, passage, touched: dict[int, _Stay], facts: list) -> None:
        pid, passage_zone, event_time, direction, method, credential = passage
        kind, subject_id = self.registry.match(passage_zone, method, credential)
        zone = self.registry.staying_zone.get(passage_zone, passage_zone)
        fact = {
            "passage_id": pid, "subject": kind, "subject_id": subject_id, "method": method,
            "credential": credential, "zone_id": zone, "passage_zone_id": passage_zone,
            "event_time": event_time, "direction": direction,
        }  # fmt: skip
        if kind == SubjectKind.UNKNOWN:
            facts.append({**fact, "kind": STRANGER})
            if not credential:
                return
        subject = _subject_key(kind, subject_id, method, credential)
        seen = self.last_activity.get(subject)
        if seen is None or event_time > seen:
            self.last_activity[subject] = event_time
        key = (subject, zone)
        current = self.open.get(key)
        if direction == "in":
            earlier_exit = self.exits_first.get(key)
            if (
                earlier_exit is not None
                and earlier_exit.entered_at is None
                and event_time <= earlier_exit.left_at
            ):
                # the exit of this stay was processed first: the late entry completes it
                earlier_exit.entered_at, earlier_exit.entry_passage_id = event_time, pid
                touched[id(earlier_exit)] = earlier_exit
                facts.append({**fact, "kind": LATE_ENTRY})
            elif current is not None:
                facts.append({**fact, "kind": DOUBLE_ENTRY, "presence_entered_at": current.entered_at})  # fmt: skip
            else:
                stay = _Stay(kind, subject_id, method, credential, zone, event_time, pid)
                self.known.add(key)
                self.open[key] = stay
                self.occupancy[zone] += 1
                touched[id(stay)] = stay
                facts.append({**fact, "kind": ENTRY})
            return
        if current is not None and event_time >= current.entered_at:
            current.left_at, current.exit_passage_id = event_time, pid
            del self.open[key]
            self.occupancy[zone] -= 1
            touched[id(current)] = current
            facts.append(
                {
                    **fact,
                    "kind": EXIT,
                    "entered_at": current.entered_at,
                    "entry_passage_id": current.entry_passage_id,
                }
            )
            return
        # no open stay, or the open one began after this exit: an exit of an earlier stay
        stay = _Stay(kind, subject_id, method, credential, zone, None, None, event_time, pid, True)
        history = key in self.known or key in self.exits_first
        self.known.add(key)
        self.exits_first[key] = stay
        touched[id(stay)] = stay
        facts.append({**fact, "kind": EXIT_WITHOUT_ENTRY, "history": history})

    # --- batches ---------------------------------------------------------------------

    def process_batch(self) -> BatchResult:
        """Process up to ``batch`` passages and ``batch`` device alarms after the
        checkpoint, in one transaction."""
        if time.monotonic() - self._refreshed >= self.refresh_seconds:
            self.registry.refresh_if_changed()
            self._refreshed = time.monotonic()
        passages = list(
            Passage.objects.filter(pk__gt=self.last_passage_id)
            .order_by("pk")
            .values_list("pk", "zone_id", "event_time", "direction", "method", "credential")[
                : self.batch
            ]
        )
        alarms = list(
            DeviceAlarm.objects.filter(pk__gt=self.last_alarm_id)
            .order_by("pk")
            .values_list("pk", "device_id", "zone_id", "kind", "state", "event_time")[: self.batch]
        )
        if not passages and not alarms:
            return BatchResult(0, self.last_passage_id, None, [])
        touched: dict[int, _Stay] = {}
        facts: list[dict] = []
        last = passages[-1][0] if passages else self.last_passage_id
        last_alarm = alarms[-1][0] if alarms else self.last_alarm_id
        try:
            for passage in passages:
                self._apply(passage, touched, facts)
            for pk, device, zone, kind, state, event_time in alarms:
                facts.append(
                    {
                        "kind": ALARM, "alarm_id": pk, "device_id": device, "zone_id": zone,
                        "alarm_kind": kind, "state": state, "event_time": event_time,
                    }
                )  # fmt: skip
            # the rules decide in memory first (``on_facts.decide``): the transaction
            # below holds SQLite's one write lock, and ingestion waits for it
            decide = getattr(self.on_facts, "decide", None)
            if decide is not None:
                decide(facts, occupancy=self.occupancy)
            with write_turns.processor_turn(), transaction.atomic():
                stays = list(touched.values())
                _update([s for s in stays if s.pk is not None])
                _insert([s for s in stays if s.pk is None])
                if decide is not None:
                    self.on_facts.write()
                elif self.on_facts is not None:
                    self.on_facts(facts)
                if self.rollups and passages:
                    from anyuan.dashboard.rollups import add_passages  # the app above events

                    add_passages((p[1], p[2], p[3]) for p in passages)
                if self.credential_index and passages:
                    credentials.add(self.last_passage_id, last)
                self._publish_occupancy(facts)
                ProcessorCheckpoint.objects.filter(name=self.name).update(
                    last_passage_id=last, last_alarm_id=last_alarm
                )
        except BaseException:
            # memory ran ahead of the database: start again from the checkpoint
            with contextlib.suppress(Exception):  # the first error is the one to report
                self.reset()
            discard = getattr(self.on_facts, "discard", None)
            if discard is not None:
                with contextlib.suppress(Exception):
                    discard()
            raise
        self.last_passage_id, self.last_alarm_id = last, last_alarm
        lag = None
        if passages:
            received = (
                Passage.objects.filter(pk=last).values_list("received_time", flat=True).first()
            )
            lag = (dt.datetime.now(dt.UTC) - received).total_seconds() if received else None
        more = len(passages) >= self.batch or len(alarms) >= self.batch
        return BatchResult(len(passages), last, lag, facts, more, len(alarms))

    def _publish_occupancy(self, facts: list[dict]) -> None:
        """One live message per (station, owner enterprise) with the new counts of the zones
        this batch entered or left, in the batch's transaction (``anyuan.live``)."""
        changed = {f["zone_id"] for f in facts if f["kind"] in (ENTRY, EXIT)}
        if not changed:
            return
        groups: dict[tuple, dict] = {}
        for zone in changed:
            place = (self.registry.zone_station.get(zone), self.registry.zone_enterprise.get(zone))
            if place[0] is not None:
                groups.setdefault(place, {})[str(zone)] = self.occupancy[zone]
        at = max(f["event_time"] for f in facts if f["kind"] in (ENTRY, EXIT)).isoformat()
        for (station, enterprise), zones in groups.items():
            live.publish(
                "occupancy", {"zones": zones, "at": at}, station=station, enterprise=enterprise
            )

    def run_once(self) -> int:
        """Process everything there is now; the number of passages processed."""
        total = 0
        while True:
            result = self.process_batch()
            total += result.processed
            if not result.more:
                return total

    def check(self, now: dt.datetime | None = None) -> None:
        """Run the time-based rules (overstay, silent devices, exits left without an
        entry) as of ``now`` — the platform clock by default, the simulated clock in a
        replay. Call it when the log is caught up: a backlog still holds the exits and
        heartbeats that would have ended the conditions."""
        now = now or dt.datetime.now(dt.UTC)
        check = getattr(self.on_facts, "check", None)
        try:
            with write_turns.processor_turn(), transaction.atomic():
                if check is not None:
                    check(now, self, self.checked_until)
                ProcessorCheckpoint.objects.filter(name=self.name).update(checked_until=now)
        except BaseException:
            with contextlib.suppress(Exception):
                self.reset()
            raise
        self.checked_until = now

    def open_stays(self):
        """The open presences in memory: ``(subject kind, subject id, method, credential,
        zone, entered_at, entry passage id, the subject's latest passage time)`` each."""
        for (subject, _zone), stay in self.open.items():
            yield (
                stay.subject_kind, stay.subject_id, stay.method, stay.credential,
                stay.zone_id, stay.entered_at, stay.entry_passage_id,
                self.last_activity.get(subject, stay.entered_at),
            )  # fmt: skip


# --- reading -----------------------------------------------------------------------------


def occupancy(zone_ids=None) -> dict[int, int]:
    """Open presences per zone (who is inside now), from the database."""
    rows = Presence.objects.filter(left_at__isnull=True)
    if zone_ids is not None:
        rows = rows.filter(zone_id__in=zone_ids)
    return dict(rows.values_list("zone_id").annotate(n=Count("pk")).order_by())


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
