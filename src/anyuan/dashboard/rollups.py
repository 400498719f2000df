"""Keeping the dashboard's rollups: passages per zone, local hour and direction.

- :func:`add_passages` — the processor calls it with each batch's passages inside the
  batch's transaction: one ``INSERT … ON CONFLICT DO UPDATE SET count = count +
  excluded.count`` (SQLite ≥ 3.24 and PostgreSQL), so the counts commit with the
  presences and the checkpoint, exactly once.
- :func:`rebuild` — recomputes the counts from the passage log, set-based (``GROUP BY``
  zone, UTC hour, direction in SQL; the UTC hours folded into local hours here), one
  local day per transaction: for a backfill, or after the log was changed by hand.
  ``anyuan rollups rebuild [--since DATE]``.

The hours are local hours of ``settings.TIME_ZONE`` (Asia/Shanghai): ``hour`` holds the
aware start of the local hour. The database groups by the UTC hour (the same expression
on SQLite and PostgreSQL) and each UTC hour maps to one local hour — true of every zone
whose offsets are whole hours; for one with half-hour offsets the database groups by
minute instead (:func:`granularity`).

Consistency with the processor: a rebuild counts the passages up to the processor's
checkpoint (``checkpoint``, default the processor ``presence``), read under a lock that
keeps the processor's own additions out for the transaction (SQLite: the write lock every
transaction takes at its start; PostgreSQL: ``LOCK TABLE … SHARE ROW EXCLUSIVE``). The
processor adds only passages after its checkpoint, so nothing is counted twice or missed.
"""

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable

from django.db import NotSupportedError, connection, transaction
from django.db.models import CharField, Count, Func, Max, Min
from django.utils import timezone

from anyuan.dashboard.models import PassageHour
from anyuan.events.models import Passage, ProcessorCheckpoint

DEFAULT_CHECKPOINT = "presence"  # anyuan.events.processor.DEFAULT_NAME
HOUR, MINUTE = "hour", "minute"
_FORMATS = {HOUR: "%Y-%m-%d %H", MINUTE: "%Y-%m-%d %H:%M"}


def local_zone():
    return timezone.get_default_timezone()


def local_hour(moment: dt.datetime, tz=None) -> dt.datetime:
    """The aware start of the local hour ``moment`` falls in (``settings.TIME_ZONE``)."""
    local = moment.astimezone(tz or local_zone())
    return local.replace(minute=0, second=0, microsecond=0)


def hour_key(moment: dt.datetime, tz=None) -> dt.datetime:
    """:func:`local_hour` in UTC: a key that keeps the two local hours of a night the
    clocks go back apart (Python compares datetimes of one zone ignoring ``fold``)."""
    return local_hour(moment, tz).astimezone(dt.UTC)


def local_midnight(day: dt.date, tz=None) -> dt.datetime:
    """The aware start of a local day."""
    tz = tz or local_zone()
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC).astimezone(tz)


def _whole_hours(tz, *moments: dt.datetime) -> bool:
    return all(m.astimezone(tz).utcoffset().total_seconds() % 3600 == 0 for m in moments)


def granularity(tz, start: dt.datetime, end: dt.datetime) -> str:
    """``HOUR`` when every UTC hour of [start, end) lies in one local hour (the zone's
    offsets there are whole hours), else ``MINUTE``."""
    return HOUR if _whole_hours(tz, start, end - dt.timedelta(microseconds=1)) else MINUTE


class UtcTrunc(Func):
    """A datetime column's UTC hour (or minute) as text, ``YYYY-MM-DD HH[:MM]``, computed
    by the database on SQLite (datetimes are stored as UTC text) and PostgreSQL."""

    output_field = CharField()

    def __init__(self, expression, kind: str = HOUR, **extra):
        if kind not in _FORMATS:
            raise ValueError(f"kind must be {HOUR!r} or {MINUTE!r}")
        self.kind = kind
        super().__init__(expression, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError("UtcTrunc supports SQLite and PostgreSQL")

    def as_sqlite(self, compiler, connection, **extra_context):
        length = 13 if self.kind == HOUR else 16
        return super().as_sql(
            compiler, connection, template=f"substr(%(expressions)s, 1, {length})", **extra_context
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        fmt = "YYYY-MM-DD HH24" if self.kind == HOUR else "YYYY-MM-DD HH24:MI"
        return super().as_sql(
            compiler,
            connection,
            template=f"to_char(%(expressions)s AT TIME ZONE 'UTC', '{fmt}')",
            **extra_context,
        )


def bucket_start(text: str, kind: str = HOUR) -> dt.datetime:
    """The aware UTC datetime of a :class:`UtcTrunc` value."""
    return dt.datetime.strptime(text, _FORMATS[kind]).replace(tzinfo=dt.UTC)


class LocalFold:
    """Maps :class:`UtcTrunc` values to local hours (their start in UTC, :func:`hour_key`)
    or local days, each distinct value once."""

    def __init__(self, kind: str = HOUR, tz=None):
        self.kind, self.tz = kind, tz or local_zone()
        self._hours: dict[str, dt.datetime] = {}

    def hour(self, text: str) -> dt.datetime:
        found = self._hours.get(text)
        if found is None:
            found = self._hours[text] = hour_key(bucket_start(text, self.kind), self.tz)
        return found

    def day(self, text: str) -> dt.date:
        return self.hour(text).astimezone(self.tz).date()


# --- writing -------------------------------------------------------------------------------


def _max_rows(columns: int) -> int:
    """How many rows of ``columns`` parameters one statement may carry."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        import sqlite3

        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    elif connection.vendor == "postgresql":
        limit = 65535
    else:  # pragma: no cover - SQLite and PostgreSQL are what the project runs on
        limit = connection.features.max_query_params or 999
    return max(1, limit // columns)


def _upsert(counts: dict[tuple[int, dt.datetime, str], int]) -> int:
    """Add ``counts`` ((zone, hour, direction) → n) to the stored counts: one statement
    (more only past the database's parameter limit). The number of rows written."""
    if not counts:
        return 0
    qn = connection.ops.quote_name
    meta = PassageHour._meta
    table, count = qn(meta.db_table), qn("count")
    prep = meta.get_field("hour").get_db_prep_value
    rows = sorted(counts.items(), key=lambda item: (item[0][0], item[0][1], item[0][2]))
    per = _max_rows(4)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            params = []
            for (zone, hour, direction), n in chunk:
                params += [zone, prep(hour, connection), direction, n]
            cursor.execute(
                f"INSERT INTO {table} ({qn('zone_id')}, {qn('hour')}, {qn('direction')}, {count}) "  # noqa: S608 — the model's own table and columns
                f"VALUES {values} ON CONFLICT ({qn('zone_id')}, {qn('hour')}, {qn('direction')}) "
                f"DO UPDATE SET {count} = {table}.{count} + excluded.{count}",
                params,
            )
    return len(rows)


def add_passages(rows: Iterable[tuple[int, dt.datetime, str]]) -> int:
    """Count passages into the hourly rollup: ``rows`` are ``(zone_id, event_time,
    direction)``; the hour is the local hour of the event time. One upsert statement;
    call it inside the transaction that processes the passages. Returns the number of
    (zone, hour, direction) rows written."""
    tz = local_zone()
    hours: dict[dt.datetime, dt.datetime] = {}  # minute → local hour (in UTC)
    counts: Counter = Counter()
    for zone, event_time, direction in rows:
        if event_time.tzinfo is not dt.UTC:  # the database gives UTC; a local time's fold
            event_time = event_time.astimezone(dt.UTC)  # would be lost in the cache key
        minute = event_time.replace(second=0, microsecond=0)
        hour = hours.get(minute)
        if hour is None:
            hour = hours[minute] = hour_key(minute, tz)
        counts[(zone, hour, direction)] += 1
    return _upsert(counts)


# --- rebuilding ----------------------------------------------------------------------------


def _lock() -> None:
    """Keep the processor's additions out until the transaction ends (SQLite: the write
    lock the transaction already holds; PostgreSQL: a table lock that waits for a batch
    in flight to commit)."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(PassageHour._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


def _counts(start: dt.datetime, end: dt.datetime, upto: int | None, tz) -> Counter:
    """(zone, local hour, direction) → passages with event time in [start, end) and id up
    to ``upto``: grouped by the database."""
    kind = granularity(tz, start, end)
    rows = Passage.objects.filter(event_time__gte=start, event_time__lt=end)
    if upto is not None:
        rows = rows.filter(pk__lte=upto)
    grouped = (
        rows.annotate(bucket=UtcTrunc("event_time", kind))
        .values_list("zone_id", "bucket", "direction")
        .annotate(n=Count("pk"))
        .order_by()
    )
    fold = LocalFold(kind, tz)
    counts: Counter = Counter()
    for zone, bucket, direction, n in grouped:
        counts[(zone, fold.hour(bucket), direction)] += n
    return counts


def rebuild(
    since: dt.date | None = None,
    *,
    checkpoint: str | None = DEFAULT_CHECKPOINT,
    on_day: Callable[[dt.date, int], None] | None = None,
) -> dict:
    """Recompute the hourly counts from the passage log, from the local day ``since``
    (``None``: everything), one local day per transaction.

    ``checkpoint`` names the processor that adds passages as it goes: only passages up to
    its checkpoint are counted (the rest it adds itself). ``None`` counts the whole log —
    when no processor feeds the rollups. ``on_day(day, rows)`` reports progress.
    Returns ``{"days", "rows", "passages"}``.
    """
    tz = local_zone()
    bounds = Passage.objects.all()
    if since is not None:
        bounds = bounds.filter(event_time__gte=local_midnight(since, tz))
    first, last = bounds.aggregate(a=Min("event_time"), b=Max("event_time")).values()
    start = local_midnight(since, tz) if since is not None else None
    if first is None:
        with transaction.atomic():
            _lock()
            stale = PassageHour.objects.all()
            if start is not None:
                stale = stale.filter(hour__gte=start)
            stale.delete()
        return {"days": 0, "rows": 0, "passages": 0}
    day = since if since is not None else first.astimezone(tz).date()
    end_day = last.astimezone(tz).date()
    days = rows_written = passages = 0
    while day <= end_day:
        a, b = local_midnight(day, tz), local_midnight(day + dt.timedelta(days=1), tz)
        with transaction.atomic():
            _lock()
            upto = None if checkpoint is None else ProcessorCheckpoint.last_passage(checkpoint)
            stale = PassageHour.objects.all()
            if since is not None or days:  # the first day of a full rebuild: all before it too
                stale = stale.filter(hour__gte=a)
            if day != end_day:  # the last day: all after it too
                stale = stale.filter(hour__lt=b)
            stale.delete()
            counts = _counts(a, b, upto, tz)
            written = _upsert(counts)
        days += 1
        rows_written += written
        passages += sum(counts.values())
        if on_day is not None:
            on_day(day, written)
        day += dt.timedelta(days=1)
    return {"days": days, "rows": rows_written, "passages": passages}
