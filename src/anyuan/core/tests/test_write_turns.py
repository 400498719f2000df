"""Turns at SQLite's write lock: a writer waits while another process holds the turn and
goes on as soon as it is released; on by default, never for in-memory databases."""

import fcntl
import os
import threading
import time

import pytest

from anyuan.core import write_turns


def test_a_writer_waits_for_the_turn_and_goes_on_when_it_is_released(
    tmp_path, monkeypatch, settings
):
    settings.ANYUAN_SQLITE_WRITE_TURNS = True
    database = tmp_path / "anyuan.sqlite3"
    monkeypatch.setattr(write_turns, "_database_file", lambda alias="default": database)
    monkeypatch.setattr(write_turns, "_files", {})
    # another process in its write transaction: its own open lock file
    other = os.open(tmp_path / "anyuan.sqlite3-write.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)
    inside = threading.Event()

    def writer():
        with write_turns.write_turn():
            inside.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert not inside.wait(0.3)  # waits for the turn
        fcntl.flock(other, fcntl.LOCK_UN)
        assert inside.wait(5)  # and is woken when it is released
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        thread.join(5)
        os.close(other)
    # released afterwards: the other process gets its turn at once
    again = os.open(tmp_path / "anyuan.sqlite3-write.lock", os.O_RDWR)
    try:
        fcntl.flock(again, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if still held
    finally:
        os.close(again)


@pytest.mark.django_db
def test_on_by_default_and_never_for_an_in_memory_database(settings, monkeypatch):
    from anyuan import settings as declared

    # the setting is read from the environment when the settings load: on unless "0"
    monkeypatch.delenv("ANYUAN_SQLITE_WRITE_TURNS", raising=False)
    assert declared._env_flag("ANYUAN_SQLITE_WRITE_TURNS", True)
    monkeypatch.setenv("ANYUAN_SQLITE_WRITE_TURNS", "0")
    assert not declared._env_flag("ANYUAN_SQLITE_WRITE_TURNS", True)
    settings.ANYUAN_SQLITE_WRITE_TURNS = False
    assert not write_turns.enabled()
    settings.ANYUAN_SQLITE_WRITE_TURNS = True
    assert write_turns.enabled()
    # the test database is in memory (or PostgreSQL): nothing to take turns at
    assert write_turns._lock_file("write") is None
    with write_turns.write_turn():
        pass


def test_a_backfill_holds_the_processor_back_at_most_the_yield(tmp_path, monkeypatch, settings):
    settings.ANYUAN_SQLITE_WRITE_TURNS = True
    settings.ANYUAN_INGEST_BACKFILL_ITEMS = 256
    settings.ANYUAN_PROCESSOR_YIELD_S = 0.3
    database = tmp_path / "anyuan.sqlite3"
    monkeypatch.setattr(write_turns, "_database_file", lambda alias="default": database)
    monkeypatch.setattr(write_turns, "_files", {})
    backfill = write_turns.Backfill()
    backfill.update(255)  # live traffic: in turn with the processor
    assert backfill.held is None and not write_turns.backfill_pending()
    backfill.update(256)  # a large group: the processor waits
    assert write_turns.backfill_pending()
    started = time.monotonic()
    with write_turns.processor_turn():
        waited = time.monotonic() - started
    assert waited >= 0.3  # it waited, but takes its turn after the yield: never starved
    backfill.update(256)
    backfill.update(10)  # a small group right after a large one: still the backfill
    assert write_turns.backfill_pending()
    backfill.last_large -= write_turns.Backfill.LINGER_S + 0.01
    backfill.update(10)  # no large group for a while: over
    assert not write_turns.backfill_pending()
