"""Writing the event log: the one place passages, alarms and device links are stored.

:func:`commit` takes one or more prepared device requests (:mod:`anyuan.events.ingest`):
:func:`stage` authenticates each device, checks every item against it and builds the
rows (no writes); :func:`store` inserts them with ``INSERT … ON CONFLICT (device,
device_event_id) DO NOTHING`` — on PostgreSQL with ``RETURNING`` the keys stored, on
SQLite reading back the rows above the log's highest id only when some were not
inserted — and updates the devices' links, in one transaction; :func:`answer` makes the
replies. The caller answers only after the commit, so a 2xx always means committed. The
lean ASGI route commits the requests that arrive together in one go (group commit); the
Ninja endpoints commit one request at a time.

Device ingestion writes no audit entries: the log itself records the device and the
received time of every event, and nothing in it is ever changed. People's steps on the
events the processor set aside (:func:`replay`, :func:`dismiss`) are at the end.
"""

import contextlib
import datetime as dt
import functools
import logging
import sqlite3
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from anyuan.core import audit
from anyuan.core.events import publish_on_commit
from anyuan.core.models import AuditAction
from anyuan.core.roles import CHANGE, user_can
from anyuan.events.ingest import (
    ALARM,
    DUPLICATE,
    HEARTBEAT,
    PASSAGE,
    REFUSED,
    STORED,
    Item,
    Limits,
    Prepared,
    Reply,
    error_reply,
    limits,
)
from anyuan.events.models import DeviceAlarm, DeviceLink, Passage, Quarantine
from anyuan.registry.models import Device

log = logging.getLogger("anyuan.events")

PG_CHUNK_ROWS = 10_000
# SQLite: the row counts of the insert statements. A statement's rows are padded with
# rows of NULLs up to the next of these, so only these few statements are ever compiled
# (the driver keeps them; compiling a statement of n rows costs about as much as running
# it), and a large request takes a few statements: see ``_insert``.
SQLITE_STATEMENT_ROWS = (1, 4, 16, 64, 256, 1024, 2048, 4096)  # 2048: SQLite's default
# limit of 32,766 parameters holds 3,276 rows of ten columns
# PostgreSQL: writers take this transaction lock before inserting, so ids are committed
# in the order they are drawn and a reader tailing the log by id never misses a row.
LOG_LOCK_KEY = 0x616E7975616E  # "anyuan"

PASSAGE_COLUMNS = (
    "device_id",
    "zone_id",
    "device_event_id",
    "event_time",
    "received_time",
    "direction",
    "method",
    "credential",
    "confidence",
    "snapshot",
)
ALARM_COLUMNS = (
    "device_id",
    "zone_id",
    "device_event_id",
    "kind",
    "state",
    "event_time",
    "received_time",
    "snapshot",
    "detail",
)


LINK_FIELDS = ("last_seen", "last_heartbeat", "clock_offset_s", "clock_checked", "clock_skew")


class DeviceInfo(NamedTuple):
    id: int
    serial: str
    zone_id: int
    direction: str
    active: bool
    platform: bool = False  # uploads for the devices registered under it (``upstream``)


@dataclass
class Job:
    """One device request to commit: authenticated already (``device``) or by token."""

    prepared: Prepared | Reply
    token: str | None = None
    device: DeviceInfo | None = None
    lang: str | None = None


_DEVICE_COLUMNS = ("id", "serial", "zone_id", "direction", "active", "kind")


def _device_rows(where: str, params: list) -> list[tuple]:
    """Devices as rows (one indexed query, no ORM on the hot path): the columns of
    :data:`_DEVICE_COLUMNS` after those ``where`` names first."""
    qn = connection.ops.quote_name
    sql = (
        f"SELECT {where}, {', '.join(qn(c) for c in _DEVICE_COLUMNS)} "  # noqa: S608 - quoted names
        f"FROM {qn(Device._meta.db_table)} "
        f"WHERE {where} IN ({', '.join(['%s'] * len(params))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _info(row) -> DeviceInfo:
    return DeviceInfo(row[0], row[1], row[2], row[3], bool(row[4]), row[5] == Device.Kind.PLATFORM)


def _devices(digests) -> dict[str, DeviceInfo]:
    """The devices of these token digests."""
    rows = _device_rows(connection.ops.quote_name("token_digest"), list(digests))
    return {r[0]: _info(r[1:]) for r in rows}


def _downstream(platform_ids) -> dict[tuple[int, str], DeviceInfo]:
    """(platform, serial) → the device, for the devices registered under these platforms."""
    rows = _device_rows(connection.ops.quote_name("upstream_id"), list(platform_ids))
    return {(r[0], r[2]): _info(r[1:]) for r in rows}


def authenticate(token: str) -> DeviceInfo | Reply:
    """The device a token belongs to, or the 401/403 reply."""
    device = _devices([Device.hash_token(token)]).get(Device.hash_token(token))
    return _check(device)


def _check(device: DeviceInfo | None) -> DeviceInfo | Reply:
    if device is None:
        return error_reply(401, _("Unknown or revoked device token."))
    if not device.active:
        return error_reply(403, _("This device is deactivated."))
    return device


def language(lang: str | None):
    """Translate into ``lang``: nothing to do for the default language (the lean route and
    the committer thread never activate another one), an override otherwise."""
    if lang is None or lang == settings.LANGUAGE_CODE:
        return contextlib.nullcontext()
    return translation.override(lang)


@dataclass
class Rows:
    """The rows of one table to insert: the first of each (device, event id) key, with
    the item each one answers for."""

    items: list[Item] = field(default_factory=list)
    values: list[tuple] = field(default_factory=list)


@dataclass
class Staged:
    """Jobs authenticated and checked, their rows built: what :func:`store` writes."""

    replies: list[Reply | None]
    accepted: list[tuple[int, DeviceInfo, Prepared]]
    passages: Rows
    alarms: Rows


def commit(
    jobs: list[Job], lim: Limits | None = None, *, turn=contextlib.nullcontext
) -> list[Reply]:
    """Store the jobs' accepted items in one transaction; the replies, in job order.

    ``turn`` is held around the transaction only (the committer's turn at SQLite's write
    lock, :mod:`anyuan.core.write_turns`): authenticating, checking and building the rows
    happen before it, the replies after it, while another writer may write."""
    lim = lim or limits()
    staged = stage(jobs, lim)
    with turn(), transaction.atomic():
        store(staged, lim)
    return answer(jobs, staged, lim)


def commit_or_busy(
    jobs: list[Job],
    lim: Limits | None = None,
    *,
    reconnect: bool = True,
    turn=contextlib.nullcontext,
) -> list[Reply]:
    """:func:`commit`, answering 503 (send again) instead of raising when the database
    fails. A connection found broken (a restarted server, an idle timeout) is opened
    afresh and the jobs tried once more — safe, as a repeated insert is a duplicate; a
    group that still fails is tried request by request, so one cannot sink the rest."""
    lim = lim or limits()
    try:
        return commit(jobs, lim, turn=turn)
    except DatabaseError as exc:
        log.exception("the event log could not commit %d request(s)", len(jobs))
        if reconnect and _reconnectable(exc):
            return commit_or_busy(jobs, lim, reconnect=False, turn=turn)
        if len(jobs) > 1:
            return [commit_or_busy([job], lim, reconnect=False, turn=turn)[0] for job in jobs]
        with language(jobs[0].lang):
            return [
                error_reply(503, _("The event log cannot store events just now; send them again."))
            ]


def _reconnectable(exc: DatabaseError) -> bool:
    """Was the connection lost (a restarted server, an idle timeout)? Then the next query
    runs on a fresh one. SQLite connections are not lost: its errors (a lock held too
    long) are not tried again here."""
    if connection.in_atomic_block or connection.vendor == "sqlite":
        return False
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    if connection.connection is not None and not connection.is_usable():
        connection.close()
    return True


def stage(jobs: list[Job], lim: Limits) -> Staged:
    """Authenticate every job's device, check every item against it, and build the rows
    to insert — before the transaction: nothing here writes. (A device deactivated in
    the milliseconds between this and the commit still has these events stored.)"""
    digests = {Device.hash_token(j.token) for j in jobs if j.device is None and j.token}
    known = _devices(digests) if digests else {}
    platforms = {d.id for d in known.values() if d.platform}
    platforms |= {j.device.id for j in jobs if j.device is not None and j.device.platform}
    below = _downstream(platforms) if platforms else {}
    staged = Staged([None] * len(jobs), [], Rows(), Rows())
    tables = {PASSAGE: (staged.passages, _passage_row), ALARM: (staged.alarms, _alarm_row)}
    keys: dict[str, set] = {PASSAGE: set(), ALARM: set()}
    adapt = datetime_adapter()
    for n, job in enumerate(jobs):
        with language(job.lang):
            device = job.device
            if device is None:
                device = _check(known.get(Device.hash_token(job.token or "")))
            if isinstance(device, Reply):
                staged.replies[n] = device
                continue
            if isinstance(job.prepared, Reply):
                staged.replies[n] = job.prepared
                continue
            prepared = job.prepared
            kind = prepared.kind
            via_platform = device.platform and kind != HEARTBEAT
            if via_platform:
                _resolve_downstream(device, prepared, below)
            rows, make_row = tables.get(kind, (None, None))
            seen = keys.get(kind)
            received = adapt(prepared.received)
            for item in prepared.items:
                if item.status == REFUSED:
                    continue
                item.status = None  # tried again after a failed group: from the start
                data = item.data
                source = device
                if via_platform:
                    source = item.source
                elif data.device is not None and data.device != device.serial:
                    item.refuse("device", _("This token belongs to another device."), "device")
                    continue
                direction = None
                if kind == PASSAGE:
                    direction = data.direction or source.direction
                    if direction not in ("in", "out"):
                        item.refuse(
                            "direction",
                            _("This device reports both directions: give the direction."),
                            "required",
                        )
                        continue
                if rows is not None:
                    key = (source.id, data.event_id)
                    if key in seen:  # the same event twice in what arrived together
                        item.status = DUPLICATE
                        continue
                    seen.add(key)
                    rows.items.append(item)
                    rows.values.append(make_row(source, received, data, adapt, direction))
            staged.accepted.append((n, device, prepared))
    return staged


def store(staged: Staged, lim: Limits) -> None:
    """Insert the staged rows and update the devices' links; inside the caller's
    transaction. Marks every row's item stored or duplicate."""
    if staged.passages.values or staged.alarms.values:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOG_LOCK_KEY])
        _insert(Passage, PASSAGE_COLUMNS, staged.passages)
        _insert(DeviceAlarm, ALARM_COLUMNS, staged.alarms)
    _update_links(staged.accepted, lim)


def answer(jobs: list[Job], staged: Staged, lim: Limits) -> list[Reply]:
    """The replies, in job order, once :func:`store` has committed."""
    replies = staged.replies
    for n, device, prepared in staged.accepted:
        with language(jobs[n].lang):
            replies[n] = _reply(prepared, device, lim)
    return replies


def _resolve_downstream(platform: DeviceInfo, prepared: Prepared, below: dict) -> None:
    """A platform's token: every event names its device (``device``), one registered
    under the platform and active; the device goes into ``item.source``."""
    for item in prepared.items:
        if item.status == REFUSED:
            continue
        serial = item.data.device
        if serial is None:
            item.refuse(
                "device", _("A platform's token needs the device of every event."), "required"
            )
            continue
        source = below.get((platform.id, serial))
        if source is None:
            item.refuse("device", _("This device does not report through this platform."), "device")
        elif not source.active:
            item.refuse("device", _("This device is deactivated."), "device")
        else:
            item.source = source


def _sqlite_datetime(value: dt.datetime) -> str:
    # what Django's SQLite backend stores: UTC, without offset, str() of the naive value —
    # the same text as the UTC value's ISO form less "+00:00", without a naive copy
    return value.astimezone(dt.UTC).isoformat(" ")[:-6]


def datetime_adapter():
    """The database form of an aware datetime: Django's own, or for SQLite the same text
    made without Django's per-value overhead (a third of a bulk insert's time)."""
    if connection.vendor == "sqlite" and settings.USE_TZ and connection.timezone == dt.UTC:
        return _sqlite_datetime
    return connection.ops.adapt_datetimefield_value


def _passage_row(device: DeviceInfo, received, d, adapt, direction: str) -> tuple:
    return (
        device.id,
        device.zone_id,
        d.event_id,
        adapt(d.event_time),
        received,
        direction,
        d.method,
        d.credential,
        d.confidence,
        d.snapshot,
    )


_detail_field = DeviceAlarm._meta.get_field("detail")


def _alarm_row(device: DeviceInfo, received, d, adapt, _direction: None) -> tuple:
    return (
        device.id,
        device.zone_id,
        d.event_id,
        d.kind,
        d.state,
        adapt(d.event_time),
        received,
        d.snapshot,
        _detail_field.get_db_prep_save(d.detail or {}, connection),
    )


def _insert(model, columns, rows: Rows) -> None:
    """Insert the rows, ignoring keys already stored; mark each item stored or duplicate."""
    if not rows.values:
        return
    qn = connection.ops.quote_name
    # names come from the model and are quoted; every value is a query parameter
    table, names = qn(model._meta.db_table), ", ".join(qn(c) for c in columns)
    conflict = f" ON CONFLICT ({qn('device_id')}, {qn('device_event_id')}) DO NOTHING"
    if connection.vendor != "sqlite":
        _insert_returning(model, columns, rows, f"INSERT INTO {table} ({names})", conflict)
        return
    # SQLite: multi-row statements, each run in one step, so this thread lets go of the
    # GIL for all of it (one row a statement, or RETURNING, takes it back after every
    # row, and each time it may wait a switch interval for it); on the driver's own
    # cursor, as Django's wrapper rewrites every "%s" with a regular expression. Each
    # statement has one of SQLITE_STATEMENT_ROWS rows, the last padded with rows of
    # NULLs that its WHERE leaves out. The rows this transaction inserts are those above
    # the log's highest id before it (ids only grow, and the transaction holds the write
    # lock): when every row went in, that is all of them; otherwise they are read back.
    raw = connection.connection.cursor()
    with connection.wrap_database_errors:  # the driver's errors as Django's
        before = raw.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0  # noqa: S608
        inserted, start, values = 0, 0, rows.values
        while start < len(values):
            size = _statement_rows(len(values) - start, len(columns))
            chunk = values[start : start + size]
            params = [v for row in chunk for v in row]
            params += [None] * (len(columns) * (size - len(chunk)))
            raw.execute(_padded_insert(table, names, len(columns), size, conflict), params)
            inserted += raw.rowcount
            start += size
        if inserted == len(rows.values):
            for item in rows.items:
                item.status = STORED
            return
        stored = set(
            raw.execute(
                f"SELECT device_id, device_event_id FROM {table} WHERE id > ?",  # noqa: S608
                [before],
            ).fetchall()
        )
    for item, row in zip(rows.items, rows.values, strict=True):
        item.status = STORED if (row[0], row[2]) in stored else DUPLICATE


def _statement_rows(left: int, width: int) -> int:
    """The rows of the next statement: the smallest of SQLITE_STATEMENT_ROWS that holds
    what is left, or the largest the driver's parameter limit allows."""
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width
    sizes = [n for n in SQLITE_STATEMENT_ROWS if n <= limit] or [1]
    return next((n for n in sizes if n >= left), sizes[-1])


@functools.lru_cache(maxsize=64)
def _padded_insert(table: str, names: str, width: int, size: int, conflict: str) -> str:
    one = "(" + ", ".join(["?"] * width) + ")"
    values = ", ".join([one] * size)
    # SQLite names the columns of a VALUES list column1, column2, …; the first column
    # (the device) is never NULL in a real row; "WHERE" also keeps the upsert's ON
    # CONFLICT from being read as a join's ON
    return (
        f"INSERT INTO {table} ({names}) SELECT * FROM (VALUES {values}) "  # noqa: S608 - quoted names
        f"WHERE column1 IS NOT NULL{conflict}"
    )


def _insert_returning(model, columns, rows: Rows, insert: str, conflict: str) -> None:
    """PostgreSQL: one array per column, a statement of ten parameters however many rows
    (a VALUES list of 10,000 parameters costs PostgreSQL more to parse and plan); the
    keys it returns are the rows stored."""
    qn = connection.ops.quote_name
    types = [model._meta.get_field(c).db_type(connection) for c in columns]
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    sql = f"{insert} SELECT * FROM unnest({arrays}){conflict}"  # noqa: S608 - quoted names
    sql += f" RETURNING {qn('device_id')}, {qn('device_event_id')}"
    by_key = {(row[0], row[2]): item for item, row in zip(rows.items, rows.values, strict=True)}
    for item in rows.items:
        item.status = DUPLICATE  # until the insert returns its key
    with connection.cursor() as cursor:
        for start in range(0, len(rows.values), PG_CHUNK_ROWS):
            chunk = rows.values[start : start + PG_CHUNK_ROWS]
            cursor.execute(sql, [list(col) for col in zip(*chunk, strict=True)])
            for device_id, event_id in cursor.fetchall():
                by_key[(device_id, event_id)].status = STORED


def _clock_offset(prepared: Prepared, lim: Limits, by_event_time: bool = True) -> float | None:
    """Device clock minus platform clock (seconds), if this request measures it.

    A heartbeat is sent at once, so its time is the device clock at receipt (less a
    network delay of a second or so); so is an event's ``sent_time``. An event's own time
    cannot tell a slow clock from an event the device kept while offline, but an event
    stamped later than its receipt shows a clock that is ahead.
    """
    received = prepared.received
    if prepared.kind == HEARTBEAT:
        item = prepared.items[0]
        return (item.data.event_time - received).total_seconds() if item.data else None
    sent = [i.data.sent_time for i in prepared.items if i.data is not None and i.data.sent_time]
    if sent:
        return (max(sent) - received).total_seconds()
    if by_event_time and prepared.latest_event_time is not None:
        ahead = (prepared.latest_event_time - received).total_seconds()
        if ahead > lim.skew_tolerance:
            return ahead
    return None


def _update_links(accepted, lim: Limits) -> None:
    links: dict[int, dict] = {}
    for _n, device, prepared in accepted:
        link = links.setdefault(device.id, {"device_id": device.id})
        link["last_seen"] = prepared.received
        if prepared.kind == HEARTBEAT and prepared.items[0].data is not None:
            link["last_heartbeat"] = prepared.received
        if device.platform:
            # the devices under it were heard of now; the event times are their clocks,
            # so only a sent_time measures the platform's own
            for item in prepared.items:
                if item.source is not None and item.status != REFUSED:
                    seen = links.setdefault(item.source.id, {"device_id": item.source.id})
                    seen["last_seen"] = prepared.received
        offset = _clock_offset(prepared, lim, by_event_time=not device.platform)
        if offset is not None:
            link["clock_offset_s"] = round(offset, 3)
            link["clock_checked"] = prepared.received
            link["clock_skew"] = abs(offset) > lim.skew_tolerance
    groups: dict[tuple[str, ...], list[dict]] = {}
    for link in links.values():
        fields = tuple(sorted(k for k in link if k != "device_id"))
        groups.setdefault(fields, []).append(link)
    adapt = datetime_adapter()
    qn = connection.ops.quote_name
    columns = ("device_id", *LINK_FIELDS)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for fields, rows in groups.items():
            # a new row takes what is known and the defaults; an existing row changes
            # only the fields this request measured
            values = []
            for link in rows:
                values.append(link["device_id"])
                for name in LINK_FIELDS:
                    value = link.get(name, False if name == "clock_skew" else None)
                    values.append(adapt(value) if isinstance(value, dt.datetime) else value)
            update = ", ".join(f"{qn(f)} = excluded.{qn(f)}" for f in fields)
            cursor.execute(
                f"INSERT INTO {qn(DeviceLink._meta.db_table)} "  # noqa: S608 - quoted names
                f"({', '.join(qn(c) for c in columns)}) VALUES {', '.join([one] * len(rows))} "
                f"ON CONFLICT ({qn('device_id')}) DO UPDATE SET {update}",
                values,
            )


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def _reply(prepared: Prepared, device: DeviceInfo, lim: Limits) -> Reply:
    received = _iso(prepared.received)
    if prepared.kind == HEARTBEAT:
        item = prepared.items[0]
        if item.status == REFUSED:
            return _refused_reply(item, received)
        offset = _clock_offset(prepared, lim)
        return Reply(
            200,
            {
                "status": "ok",
                "received_time": received,
                "clock_offset_s": round(offset, 3),
                "clock_skew": abs(offset) > lim.skew_tolerance,
            },
        )
    if prepared.single:
        item = prepared.items[0]
        if item.status == REFUSED:
            return _refused_reply(item, received)
        body = {"status": item.status, "event_id": item.event_id, "received_time": received}
        return Reply(201 if item.status == STORED else 200, body)
    counts = {STORED: 0, DUPLICATE: 0, REFUSED: 0}
    for item in prepared.items:
        counts[item.status] += 1
    body = {
        "received_time": received,
        "stored": counts[STORED],
        "duplicates": counts[DUPLICATE],
        "refused": counts[REFUSED],
        "results": [item.result() for item in prepared.items],
    }
    everything_refused = prepared.items and counts[REFUSED] == len(prepared.items)
    return Reply(422 if everything_refused else 200, body)


def _refused_reply(item: Item, received: str) -> Reply:
    body = {
        "status": REFUSED,
        "event_id": item.event_id,
        "received_time": received,
        "error": item.error,
        "detail": item.error["message"],
    }
    return Reply(403 if item.error["code"] == "device" else 422, body)


# --- the processor's quarantine: replay or dismiss a set-aside event ---------------------
#
# People's actions, unlike the devices' writes above: permission and scope checked, one
# transaction, one audit record each. A replay does not process the event here (the
# running processor holds the open presences in memory): it asks the processor that set
# it aside to take it again in its next batch (``Processor.replay_queued``).

# step → (states it may start from, state it leads to)
QUARANTINE_STEPS = {
    "replay": (frozenset({"held"}), "queued"),
    "dismiss": (frozenset({"held"}), "dismissed"),
}


class StepRefused(Exception):
    """The set-aside event's state does not allow this step (the API answers 409)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _quarantine_step(actor, entry, step: str, *, remote_addr=None):
    if not user_can(actor, Quarantine, CHANGE):
        raise PermissionDenied(_("You may not do this."))
    sources, target = QUARANTINE_STEPS[step]
    pk = getattr(entry, "pk", entry)
    with transaction.atomic():
        row = Quarantine.objects.restrict(actor, CHANGE).select_for_update().filter(pk=pk).first()
        if row is None:
            raise PermissionDenied(_("This object is outside your scope."))
        if row.state not in sources:
            raise StepRefused(
                _("This event is %(state)s; it cannot be %(step)s now.")
                % {"state": row.get_state_display(), "step": QUARANTINE_STEP_LABELS[step]}
            )
        before = {"state": row.state}
        row.state = target
        row.save(update_fields=["state", "updated"])
        audit.record(
            actor,
            AuditAction.UPDATE,
            row,
            before=before,
            after={"transition": step, "state": row.state},
            remote_addr=remote_addr,
        )
        publish_on_commit("events.quarantine.updated", {"id": row.pk})
    return row


QUARANTINE_STEP_LABELS = {
    "replay": _lazy("replayed"),
    "dismiss": _lazy("dismissed"),
}


def replay(actor, entry, *, remote_addr=None):
    """Ask the processor to take a set-aside event again (once its cause is fixed, e.g.
    the registry corrected): its presences, facts and alerts are then made with the
    registry as it is. Audited."""
    return _quarantine_step(actor, entry, "replay", remote_addr=remote_addr)


def dismiss(actor, entry, *, remote_addr=None):
    """Leave a set-aside event unprocessed for good (it stays in the log). Audited."""
    return _quarantine_step(actor, entry, "dismiss", remote_addr=remote_addr)
