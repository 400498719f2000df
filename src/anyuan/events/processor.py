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

An event the processor cannot place — the person its card matched was deleted between
the maps' load and the batch's write (the database refuses the reference), a value the
code did not expect — does not stop it: the failed batch is narrowed down to the events
it fails on, those are set aside in :class:`~anyuan.events.models.Quarantine` with their
reason, in the transaction that commits the rest (:meth:`Processor._recover`), and the
police may replay them once the cause is fixed (:meth:`Processor.replay_queued`). The
database itself failing (:data:`OUTAGE`) is no event's fault: raised, and the caller
tries again.
"""

import contextlib
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from anyuan.core import write_turns
from anyuan.events import credentials
from anyuan.events.models import (
    DeviceAlarm,
    Passage,
    Presence,
    ProcessorCheckpoint,
    Quarantine,
    SubjectKind,
)
from anyuan.events.queries import registry_signature
from anyuan.live import actions as live
from anyuan.registry.models import Person, Vehicle, Zone

DEFAULT_NAME = "presence"
DEFAULT_BATCH = 5000

ENTRY, EXIT, STRANGER, ALARM = "entry", "exit", "stranger", "alarm"
DOUBLE_ENTRY, EXIT_WITHOUT_ENTRY, LATE_ENTRY = "double_entry", "exit_without_entry", "late_entry"

_AMBIGUOUS = -1  # an employee number held by several people of one station

log = logging.getLogger("anyuan.events.processor")

# The database itself failing — locked past its busy timeout, away, the connection lost:
# nothing to do with the batch's events. Raised; the caller waits and tries again.
# ``MemoryError`` too: no event is to blame for it.
OUTAGE = (OperationalError, InterfaceError, MemoryError)

PASSAGE_FIELDS = ("pk", "zone_id", "event_time", "direction", "method", "credential")
ALARM_FIELDS = ("pk", "device_id", "zone_id", "kind", "state", "event_time")
PASSAGE = "passage"  # with ALARM: the two logs, in the keys of set-aside events


def blame(exc: BaseException, fact: dict) -> None:
    """Note on ``exc`` the event the fact it was raised on comes from: a rules engine
    deciding on facts calls this before letting the error go, and the processor sets that
    event aside rather than narrowing the whole batch down."""
    if "alarm_id" in fact:
        exc.anyuan_event = (ALARM, fact["alarm_id"])
    elif fact.get("passage_id") is not None:
        exc.anyuan_event = (PASSAGE, fact["passage_id"])


def _in(key, passages, alarms) -> bool:
    kind, pk = key
    return any(row[0] == pk for row in (passages if kind == PASSAGE else alarms))


def _mark_replayed(ids: list[int]) -> None:
    now = timezone.now()
    Quarantine.objects.filter(pk__in=ids).update(
        state=Quarantine.State.REPLAYED, replayed_at=now, updated=now
    )


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


REGISTRY_MODELS = (Person, Vehicle, Zone)  # what the processor keeps of the registry


class Registry:
    """Credential → subject maps and zone facts, loaded with ``values_list`` in one go."""

    def __init__(self):
        self.signature = None
        self.load()

    @staticmethod
    def current_signature():
        return registry_signature(REGISTRY_MODELS)

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
    set_aside: int = 0  # events of the batch set aside in the quarantine
    replayed: int = 0  # set-aside events replayed before the batch


class Processor:
    """Presences and occupancy from the passage log; one instance per processor name.

    ``on_facts(facts)`` is called inside each batch's transaction: what a rules engine
    writes there commits (or is lost) together with the presences and the checkpoint.
    A hook with ``decide`` and ``write`` decides before the transaction (handed the
    processor's occupancy per zone after the batch) and writes inside it; if the
    transaction fails, its ``discard()`` is called and the processor resets.
    ``on_facts.check(now, processor, since)``, if the hook has it, runs the time-based
    rules from :meth:`check`, in a transaction that also saves how far they ran.
    ``on_facts.load()``, if it has it, reloads the rules' registry after a failed batch
    (with the processor's maps); a rule failing on a fact calls :func:`blame` so that
    the fact's event alone is set aside.
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
        self._replays_checked = float("-inf")  # the first batch looks for replays

    # --- state -----------------------------------------------------------------------

    def reset(self, registry: bool = True) -> None:
        """(Re)load everything from the database: checkpoint, registry (unless told
        not to), open presences."""
        checkpoint, _ = ProcessorCheckpoint.objects.get_or_create(name=self.name)
        self.last_passage_id = checkpoint.last_passage_id
        self.last_alarm_id = checkpoint.last_alarm_id
        self.checked_until = checkpoint.checked_until
        if registry or getattr(self, "registry", None) is None:
            self.registry = Registry()
            self._refreshed = time.monotonic()
        self.failed_on = None  # (PASSAGE | ALARM, id) a failed batch was known to fail on
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
        checkpoint, in one transaction.

        A batch that fails for another reason than the database itself (an
        :data:`OUTAGE`: raised, the caller waits and calls again) is narrowed down to the
        events it fails on, which are set aside in the quarantine with the rest
        committed (:meth:`_recover`); the normal path pays nothing for it."""
        replayed = 0
        if time.monotonic() - self._refreshed >= self.refresh_seconds:
            self.registry.refresh_if_changed()
            self._refreshed = time.monotonic()
        if time.monotonic() - self._replays_checked >= self.refresh_seconds:
            self._replays_checked = time.monotonic()
            replayed = self.replay_queued()
        passages = list(
            Passage.objects.filter(pk__gt=self.last_passage_id)
            .order_by("pk")
            .values_list(*PASSAGE_FIELDS)[: self.batch]
        )
        alarms = list(
            DeviceAlarm.objects.filter(pk__gt=self.last_alarm_id)
            .order_by("pk")
            .values_list(*ALARM_FIELDS)[: self.batch]
        )
        if not passages and not alarms:
            return BatchResult(0, self.last_passage_id, None, [], replayed=replayed)
        registry = self.registry  # the maps this attempt matches with
        set_aside = 0
        try:
            facts = self._commit(passages, alarms)
        except OUTAGE:
            raise
        except Exception as exc:
            facts, set_aside = self._recover(passages, alarms, exc, registry)
        last = self.last_passage_id
        lag = None
        if passages:
            received = (
                Passage.objects.filter(pk=last).values_list("received_time", flat=True).first()
            )
            lag = (dt.datetime.now(dt.UTC) - received).total_seconds() if received else None
        more = len(passages) >= self.batch or len(alarms) >= self.batch
        return BatchResult(len(passages), last, lag, facts, more, len(alarms), set_aside, replayed)

    def _commit(
        self,
        passages: list,
        alarms: list,
        held: dict | None = None,
        *,
        replay: dict | None = None,
        reload_registry: bool = True,
    ) -> list[dict]:
        """Apply ``passages`` and ``alarms`` (rows of :data:`PASSAGE_FIELDS`,
        :data:`ALARM_FIELDS`, in log order) and commit: presences, the rules' writes,
        rollups, the index by credential and the checkpoint (the last of each list) in
        one transaction; the batch's facts.

        ``held``: events of the lists not to apply but to set aside in the same
        transaction, ``{(PASSAGE | ALARM, id): (reason, message)}``. ``replay``: set-aside
        events taken again, ``{(kind, id): quarantine row id}`` — marked replayed; the
        checkpoint, the index by credential stay as they are.

        On failure the memory is reset from the database (the registry reloaded unless
        ``reload_registry`` is false), the rules' decisions are discarded, the event the
        failure is known to be about (if any) is noted in ``failed_on``, and the error
        raised."""
        if held:
            applied = [p for p in passages if (PASSAGE, p[0]) not in held]
            applied_alarms = [a for a in alarms if (ALARM, a[0]) not in held]
        else:
            applied, applied_alarms = passages, alarms
        touched: dict[int, _Stay] = {}
        facts: list[dict] = []
        if replay:
            last, last_alarm = self.last_passage_id, self.last_alarm_id
        else:
            last = passages[-1][0] if passages else self.last_passage_id
            last_alarm = alarms[-1][0] if alarms else self.last_alarm_id
        self.failed_on = None
        applying = True
        try:
            for passage in applied:
                self._apply(passage, touched, facts)
            applying = False
            for pk, device, zone, kind, state, event_time in applied_alarms:
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
                if self.rollups and applied:
                    from anyuan.dashboard.rollups import add_passages  # the app above events

                    add_passages((p[1], p[2], p[3]) for p in applied)
                if replay:
                    _mark_replayed(list(replay.values()))
                else:
                    if self.credential_index and passages:
                        credentials.add(self.last_passage_id, last)
                    if held:
                        self._set_aside(passages, alarms, held)
                self._publish_occupancy(facts)
                if not replay:
                    ProcessorCheckpoint.objects.filter(name=self.name).update(
                        last_passage_id=last, last_alarm_id=last_alarm
                    )
        except BaseException as exc:
            if applying and applied:
                self.failed_on = (PASSAGE, passage[0])  # the passage in hand
            else:
                self.failed_on = getattr(exc, "anyuan_event", None)  # see ``blame``
            # memory ran ahead of the database: start again from the checkpoint
            with contextlib.suppress(Exception):  # the first error is the one to report
                self.reset(registry=reload_registry)
            discard = getattr(self.on_facts, "discard", None)
            if discard is not None:
                with contextlib.suppress(Exception):
                    discard()
            raise
        self.last_passage_id, self.last_alarm_id = last, last_alarm
        return facts

    # --- what cannot be placed: the quarantine ---------------------------------------

    def _recover(self, passages, alarms, exc, registry) -> tuple[list[dict], int]:
        """The batch failed with ``exc`` (memory reset, the registry reloaded): set aside
        the events it fails on and commit the rest; (the facts, how many set aside).

        1. The cheap check: passages whose subject, as matched by the maps of the failed
           attempt, no longer exists (deleted between the maps' load and the write).
        2. The event the failure names (the passage in hand, or the fact the rules were
           deciding on: :func:`blame`), repeatedly, while each try names a new one.
        3. Else halves: each part that commits stays committed, an event that fails
           alone is set aside.
        """
        log.warning(
            "processor %s: the batch after passage %s failed (%s: %s); "
            "setting aside what it cannot place",
            self.name, self.last_passage_id, type(exc).__name__, exc,
        )  # fmt: skip
        self._reload_rules()
        held = self._dangling(passages, registry)
        failed_on = self.failed_on
        while True:  # the first try: with the maps reloaded, without the dangling ones
            if failed_on is not None and failed_on not in held and _in(failed_on, passages, alarms):
                held[failed_on] = self._reason(failed_on, exc, registry, passages)
            registry = self.registry
            try:
                facts = self._commit(passages, alarms, held, reload_registry=False)
                break
            except OUTAGE:
                raise
            except Exception as again:
                exc, failed_on = again, self.failed_on
                if failed_on is None or failed_on in held:
                    facts = []
                    self._narrow(passages, [], held, facts)
                    self._narrow([], alarms, held, facts)
                    break
        for key, (reason, message) in held.items():
            log.warning("processor %s: %s %s set aside: %s (%s)", self.name, *key, reason, message)
        return facts, len(held)

    def _narrow(self, passages, alarms, held, facts) -> None:
        """Commit these events (the next ones after the checkpoint) in the largest parts
        that succeed; an event that fails alone is set aside."""
        if not passages and not alarms:
            return
        registry = self.registry
        try:
            facts += self._commit(passages, alarms, held, reload_registry=False)
            return
        except OUTAGE:
            raise
        except Exception as exc:
            failure = exc
        if passages and alarms:
            self._narrow(passages, [], held, facts)
            self._narrow([], alarms, held, facts)
            return
        kind, rows = (PASSAGE, passages) if passages else (ALARM, alarms)
        left = [row for row in rows if (kind, row[0]) not in held]
        if len(left) <= 1:
            if left:
                key = (kind, left[0][0])
                held[key] = self._reason(key, failure, registry, passages)
            # nothing left to apply: sets aside and moves the checkpoint, or fails on the
            # database itself (raised: the caller tries again later)
            facts += self._commit(passages, alarms, held, reload_registry=False)
            return
        middle = len(rows) // 2
        for part in (rows[:middle], rows[middle:]):
            if kind == PASSAGE:
                self._narrow(part, [], held, facts)
            else:
                self._narrow([], part, held, facts)

    def _reload_rules(self) -> None:
        """The rules' own copy of the registry, reloaded with the processor's maps."""
        load = getattr(self.on_facts, "load", None)
        if load is not None:
            with contextlib.suppress(Exception):
                load()

    def _dangling(self, passages, registry) -> dict:
        """Passages whose subject, as ``registry`` matches it, no longer exists:
        ``{(PASSAGE, id): (reason, message)}``. Two queries at most."""
        matched = {}
        for pid, zone, _time, _direction, method, credential in passages:
            kind, subject = registry.match(zone, method, credential)
            if subject is not None:
                matched[pid] = (kind, subject, method, credential)
        existing = {}
        for kind, model in ((SubjectKind.PERSON, Person), (SubjectKind.VEHICLE, Vehicle)):
            ids = sorted({s for k, s, _m, _c in matched.values() if k == kind})
            found = set()
            for lo in range(0, len(ids), 500):
                found.update(
                    model.objects.filter(pk__in=ids[lo : lo + 500]).values_list("pk", flat=True)
                )
            existing[kind] = found
        return {
            (PASSAGE, pid): (
                Quarantine.Reason.SUBJECT_DELETED,
                f"{method} {credential} → {kind} {subject}",
            )
            for pid, (kind, subject, method, credential) in matched.items()
            if subject not in existing[kind]
        }

    def _reason(self, key, exc, registry, passages) -> tuple[str, str]:
        """Why the event ``key`` failed: its subject deleted (the cheap check on it
        alone), else the error."""
        if key[0] == PASSAGE:
            row = [p for p in passages if p[0] == key[1]]
            found = self._dangling(row, registry).get(key)
            if found is not None:
                return found
        reason = (
            Quarantine.Reason.INTEGRITY
            if isinstance(exc, IntegrityError)
            else Quarantine.Reason.UNEXPECTED
        )
        return reason, f"{type(exc).__name__}: {exc}"[:500]

    def _set_aside(self, passages, alarms, held) -> None:
        """Write the quarantine rows of ``held`` (inside the batch's transaction)."""
        now = timezone.now()
        zones = {(PASSAGE, p[0]): p[1] for p in passages}
        zones.update({(ALARM, a[0]): a[2] for a in alarms})
        rows = []
        for key, (reason, message) in held.items():
            zone = zones.get(key)
            if zone is None:  # not of this part of the batch
                continue
            kind, pk = key
            rows.append(
                Quarantine(
                    processor=self.name,
                    passage_id=pk if kind == PASSAGE else None,
                    alarm_id=pk if kind == ALARM else None,
                    zone_id=zone,
                    reason=reason,
                    message=message,
                    created=now,
                )
            )
        Quarantine.objects.bulk_create(rows, ignore_conflicts=True)

    def replay_queued(self) -> int:
        """Take again the set-aside events the police asked to replay
        (:func:`anyuan.events.actions.replay`), with the registry as it is now: the
        presences, facts and alerts they make are written, and they are marked replayed;
        one that fails again is held again with the new reason. The number replayed."""
        queued = list(
            Quarantine.objects.filter(state=Quarantine.State.QUEUED, processor=self.name)
            .order_by("pk")
            .values_list("pk", "passage_id", "alarm_id")[: self.batch]
        )
        if not queued:
            return 0
        passages = list(
            Passage.objects.filter(pk__in=[p for _q, p, _a in queued if p])
            .order_by("pk")
            .values_list(*PASSAGE_FIELDS)
        )
        alarms = list(
            DeviceAlarm.objects.filter(pk__in=[a for _q, _p, a in queued if a])
            .order_by("pk")
            .values_list(*ALARM_FIELDS)
        )
        replay = {(PASSAGE if p else ALARM, p or a): q for q, p, a in queued}
        self.registry.refresh_if_changed()
        self._reload_rules()
        try:
            self._commit(passages, alarms, replay=replay, reload_registry=False)
            return len(queued)
        except OUTAGE:
            raise
        except Exception as exc:
            log.info("processor %s: replaying together failed (%s); one by one", self.name, exc)
        done = 0
        for rows, kind in ((passages, PASSAGE), (alarms, ALARM)):
            for row in rows:
                key = (kind, row[0])
                one = ([row], []) if kind == PASSAGE else ([], [row])
                registry = self.registry
                try:
                    self._commit(*one, replay={key: replay[key]}, reload_registry=False)
                    done += 1
                except OUTAGE:
                    raise
                except Exception as exc:
                    reason, message = self._reason(key, exc, registry, one[0])
                    log.warning(
                        "processor %s: %s %s failed again: %s (%s)",
                        self.name, *key, reason, message,
                    )  # fmt: skip
                    Quarantine.objects.filter(pk=replay[key]).update(
                        state=Quarantine.State.HELD,
                        reason=reason,
                        message=message,
                        attempts=F("attempts") + 1,
                        updated=timezone.now(),
                    )
        return done

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
