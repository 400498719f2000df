"""Fair turns at SQLite's one write lock, for the ingestion committer and the processor.

SQLite lets one connection write at a time. A connection that finds the lock taken sleeps
and tries again (``busy_timeout``: 1, 2, 5, 10 … 100 ms), so a waiting writer often
sleeps on after the lock is free, and a writer that writes transaction after transaction
keeps winning it. Under a flood of uploads that writer is the ingestion committer: the
processor gets the lock rarely, falls behind, alerts come late, and a processor that
waited longer than ``busy_timeout`` (5 s) failed with "database is locked" (measured with
``anyuan bench ingest``).

So the ingestion committers and the processor hold a lock file beside the database
exclusively around each write transaction (``<db>-write.lock``, ``fcntl.flock``): the
kernel wakes the waiting one as soon as it is released, and the two alternate. Live
traffic (devices sending events as they happen) is served in turn with the processor,
which keeps pace, so alerts stay timely under load.

A backfill goes first: from a large group to commit (at least
``ANYUAN_INGEST_BACKFILL_ITEMS`` events, 256: devices or platforms uploading what they
buffered) until no large group has come for 0.25 s, a committer holds
``<db>-ingest.lock`` shared, and the processor waits before its next transaction — at most ``ANYUAN_PROCESSOR_YIELD_S`` (1 s) each
time, so it still takes a turn every second and can never be starved. The log fills
first; the processor catches up when the upload ends (docs/events.md).

``ANYUAN_SQLITE_WRITE_TURNS=0`` (environment, or the setting ``False``) switches both
off, for measurement.

Only an optimisation: other writers (the web pages) use SQLite's own waiting as before,
and a lock file that cannot be opened is skipped. Never used on PostgreSQL (no single
write lock) nor for in-memory databases (tests).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connections


class _LockFile:
    """One open lock file per process and purpose (flock locks belong to the open file)."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None
        self._guard = threading.Lock()

    def fd(self) -> int:
        with self._guard:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            return self._fd


_files: dict[str, _LockFile] = {}
_files_guard = threading.Lock()


def enabled() -> bool:
    return bool(settings.ANYUAN_SQLITE_WRITE_TURNS)


def _database_file(alias: str = "default") -> Path | None:
    db = connections[alias].settings_dict
    if db["ENGINE"] != "django.db.backends.sqlite3":
        return None
    if not enabled():
        return None
    name = str(db["NAME"])  # under the test runner, already the test database's
    if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return None
    return Path(name)


def _lock_file(suffix: str, alias: str = "default", user: str = "") -> _LockFile | None:
    """The lock file, opened once per process and ``user``: flock locks belong to the
    open file, so a probe must not share the holder's (it would convert its lock)."""
    database = _database_file(alias)
    if database is None:
        return None
    path = database.with_name(f"{database.name}-{suffix}.lock")
    with _files_guard:
        found = _files.get(f"{path}#{user}")
        if found is None:
            found = _files[f"{path}#{user}"] = _LockFile(path)
        return found


def _flock(lock: _LockFile | None, operation: int) -> bool:
    if lock is None:
        return False
    try:
        fcntl.flock(lock.fd(), operation)
    except OSError:
        return False
    return True


def _unlock(lock: _LockFile) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(lock.fd(), fcntl.LOCK_UN)


@contextlib.contextmanager
def write_turn(alias: str = "default"):
    """Held around a write transaction (``BEGIN`` … ``COMMIT``) by the writers that take
    turns (the ingestion committer and the processor): the waiting one is woken as soon
    as it is released. Does nothing when turns are off."""
    lock = _lock_file("write", alias)
    held = _flock(lock, fcntl.LOCK_EX)
    try:
        yield
    finally:
        if held:
            _unlock(lock)


class Backfill:
    """A committer's hold on ``<db>-ingest.lock``: taken when it starts a large group,
    kept while large groups follow within ``LINGER_S``, then released."""

    LINGER_S = 0.25

    def __init__(self, alias: str = "default"):
        self.alias = alias
        self.held: _LockFile | None = None
        self.last_large = 0.0

    def update(self, group_items: int) -> None:
        now = time.monotonic()
        if group_items >= int(settings.ANYUAN_INGEST_BACKFILL_ITEMS):
            self.last_large = now
            if self.held is None:
                lock = _lock_file("ingest", self.alias)
                if _flock(lock, fcntl.LOCK_SH):
                    self.held = lock
        elif now - self.last_large > self.LINGER_S:
            self.release()

    def release(self) -> None:
        if self.held is not None:
            _unlock(self.held)
            self.held = None


def backfill_pending(alias: str = "default") -> bool:
    """Is a committer (of any process) in the middle of a backfill?"""
    lock = _lock_file("ingest", alias, user="probe")
    if lock is None:
        return False
    try:
        fcntl.flock(lock.fd(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    _unlock(lock)
    return False


def processor_turn(alias: str = "default"):
    """The processor's turn: after a backfill in progress (at most
    ``ANYUAN_PROCESSOR_YIELD_S``), then in turn with live ingestion."""
    max_wait = float(settings.ANYUAN_PROCESSOR_YIELD_S)
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline and backfill_pending(alias):
        time.sleep(0.005)
    return write_turn(alias)
