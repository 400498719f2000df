"""PostgreSQL connection set-up.

Aware datetimes go to PostgreSQL as UTC. psycopg writes a datetime with its own UTC
offset, and Python allows offsets up to ±23:59 where PostgreSQL takes ±15:59 at most:
``2026-01-20T19:35:00-17:33`` — a valid ISO 8601 time from an API client — failed in the
database ("time zone displacement out of range", a 500) in every filter and every save.
The instant is the same in UTC, which is how PostgreSQL stores it anyway.
"""

import contextlib
import datetime as dt

from psycopg.types.datetime import DatetimeDumper


class UtcDatetimeDumper(DatetimeDumper):
    def dump(self, obj: dt.datetime):
        with contextlib.suppress(OverflowError):  # the first or last day of datetime: as is
            obj = obj.astimezone(dt.UTC)
        return super().dump(obj)


def set_up(sender, connection, **kwargs) -> None:
    """``connection_created``: register the dumper on each new PostgreSQL connection."""
    if connection.vendor == "postgresql":
        connection.connection.adapters.register_dumper(dt.datetime, UtcDatetimeDumper)
