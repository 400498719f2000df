"""The lean ASGI route for device ingestion, in front of Django.

``application`` sends ``POST /api/v1/events/ingest/{passages,passages/bulk,alarms,
heartbeat}`` to :class:`IngestApp` — plain ASGI, no Django request, middleware or URL
resolution — and everything else to Django's ASGI handler. The route speaks exactly the
contract of the Ninja endpoints (same parsing, schemas, auth and commit: see
:mod:`anyuan.events.ingest`), so a device cannot tell which one answered.

Database work runs in one committer thread that keeps its connection open. Requests that
arrive while it is committing are committed together in the next transaction (group
commit): one ``INSERT`` and one commit for many requests, each still answered only after
its events are committed.
"""

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import queue
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anyuan.settings")
_django = get_asgi_application()

from anyuan.core.bodylimit import BodyLimit, header, language, path_info  # noqa: E402

# Django reads a whole body before anything else runs: bounded first (core/bodylimit.py)
django_application = BodyLimit(_django)

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.translation import gettext as _  # noqa: E402

from anyuan.core import write_turns  # noqa: E402
from anyuan.events import actions  # noqa: E402
from anyuan.events.ingest import (  # noqa: E402
    ALARM,
    HEARTBEAT,
    PASSAGE,
    Reply,
    bearer,
    error_reply,
    limits,
    prepare,
    too_large,
)
from anyuan.live.stream import is_live, live_app  # noqa: E402

log = logging.getLogger("anyuan.events")

PREFIX = "/api/v1/events"
ROUTES = {
    f"{PREFIX}/ingest/passages": (PASSAGE, False),
    f"{PREFIX}/ingest/passages/bulk": (PASSAGE, True),
    f"{PREFIX}/ingest/alarms": (ALARM, False),
    f"{PREFIX}/ingest/heartbeat": (HEARTBEAT, False),
}
# bodies larger than this are parsed off the event loop
PARSE_INLINE_BYTES = 64 * 1024


class Checkpointer:
    """SQLite: copies the write-ahead log into the database file in the background
    (``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds, on its own
    connection), so that the committer's connection can turn the automatic checkpoint
    off. With it on, the commit that pushes the log past 1,000 pages runs the checkpoint
    (and its two ``fsync``) before it returns: every request of that group waits for it.
    A passive checkpoint takes no write lock; the next writer starts the log again from
    its beginning once all of it is copied."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="anyuan-ingest-checkpoint", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    with connection.cursor() as cursor:
                        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    self.runs += 1
                except Exception:  # a locked or busy database: try again next time
                    log.warning("WAL checkpoint failed", exc_info=True)
        finally:
            # the last one as the server stops
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            connection.close()


COMMITTER_CACHE_KB = 64 * 1024


class Committer:
    """One thread that commits what is queued, as many requests per transaction as wait.

    ``background_checkpoint`` (SQLite): the committer's connection does not checkpoint
    the write-ahead log itself (``wal_autocheckpoint=0``); a :class:`Checkpointer` thread
    does it meanwhile."""

    def __init__(
        self, max_items: int = 20_000, group: bool = True, background_checkpoint: bool = True
    ):
        self.max_items = max_items
        self.group = group
        self.background_checkpoint = background_checkpoint
        self.checkpointer: Checkpointer | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.groups = 0  # transactions committed, for the benchmark
        self.jobs = 0

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="anyuan-ingest-committer", daemon=True
                )
                self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)
        if self.checkpointer is not None:
            self.checkpointer.stop(timeout)

    def submit(self, job: actions.Job) -> concurrent.futures.Future:
        """Queue a job from any thread; the future holds its reply after the commit."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self.start()
        self._queue.put((job, None, future))
        return future

    async def __call__(self, job: actions.Job) -> Reply:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.start()
        self._queue.put((job, loop, future))
        return await future

    def _setup_connection(self) -> None:
        if connection.vendor != "sqlite":
            return
        with connection.cursor() as cursor:
            # the log's indexes take keys in random order (device, zone): a
            # page cache of 64 MB instead of 2 MB keeps more of them at hand (inserting
            # 10,000-event requests into a log of 100,000 rows: 28 against 32 µs an event)
            cursor.execute(f"PRAGMA cache_size=-{COMMITTER_CACHE_KB}")
        if not self.background_checkpoint:
            return
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        if self.checkpointer is None:
            self.checkpointer = Checkpointer()
        self.checkpointer.start()

    def _run(self) -> None:
        backfill = write_turns.Backfill()
        try:
            try:
                self._setup_connection()
            except Exception:  # the automatic checkpoint stays on
                log.exception("could not set up the background WAL checkpoint")
            stopping = False
            while not stopping:
                try:
                    first = self._queue.get(timeout=backfill.LINGER_S if backfill.held else None)
                except queue.Empty:  # the backfill is over
                    backfill.release()
                    continue
                if first is None:
                    break
                batch = [first]
                size = _size(first[0])
                while self.group and size < self.max_items:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stopping = True
                        break
                    batch.append(nxt)
                    size += _size(nxt[0])
                # large groups are a backfill: they go before the processor
                # (core.write_turns)
                backfill.update(size)
                self._commit(batch)
        finally:
            backfill.release()
            connection.close()

    def _commit(self, batch) -> None:
        try:
            # SQLite: the transaction in turn with the processor (core.write_turns)
            jobs = [job for job, _loop, _future in batch]
            outcomes = actions.commit_or_busy(jobs, turn=write_turns.write_turn)
            self.groups += 1
            self.jobs += len(batch)
        except Exception as exc:  # a bug: fail these requests, keep the thread
            log.exception("ingestion failed")
            outcomes = [exc] * len(batch)
        # one wake-up per event loop for the whole group, not one per request
        by_loop: dict = {}
        for (_job, loop, future), outcome in zip(batch, outcomes, strict=True):
            if loop is None:
                _settle(future, outcome)
            else:
                by_loop.setdefault(loop, []).append((future, outcome))
        for loop, settled in by_loop.items():
            # a closed loop raises RuntimeError: nobody waits for these replies any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle_all, settled)


def _settle(future, outcome) -> None:
    if future.done():  # the request was cancelled (the device hung up)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _settle_all(settled) -> None:
    for future, outcome in settled:
        _settle(future, outcome)


def _size(job: actions.Job) -> int:
    items = getattr(job.prepared, "items", None)
    return len(items) if items else 1


_header = header
_language = language


async def _read_body(receive, max_bytes: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError
        body = message.get("body", b"")
        size += len(body)
        if size > max_bytes:
            return None
        chunks.append(body)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_reply(send, reply: Reply, lang: str) -> None:
    body = reply.json()
    await send(
        {
            "type": "http.response.start",
            "status": reply.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"content-language", lang.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _prepare(kind, body, content_type, received, bulk, lim, lang):
    with actions.language(lang):
        return prepare(kind, body, content_type, received=received, bulk=bulk, lim=lim)


class IngestApp:
    """The ingestion endpoints as a framework-free ASGI app.

    ``run`` commits one job and returns its reply: a :class:`Committer` by default; tests
    pass one that runs in the calling thread.
    """

    def __init__(self, run=None):
        self.run = run or Committer()

    async def __call__(self, scope, receive, send):
        kind, bulk = ROUTES[_path(scope)]
        received = timezone.now()
        lang = _language(scope)
        lim = limits()
        try:
            with actions.language(lang):
                token = bearer(_header(scope, b"authorization"))
            if isinstance(token, Reply):
                await send_reply(send, token, lang)
                return
            content_type = _header(scope, b"content-type") or ""
            try:
                declared = int(_header(scope, b"content-length") or 0)
            except ValueError:
                declared = 0
            body = None if declared > lim.max_bytes else await _read_body(receive, lim.max_bytes)
            if body is None:
                with actions.language(lang):
                    prepared = too_large(lim.max_bytes)
            elif len(body) <= PARSE_INLINE_BYTES:
                prepared = _prepare(kind, body, content_type, received, bulk, lim, lang)
            else:
                prepared = await asyncio.get_running_loop().run_in_executor(
                    None, _prepare, kind, body, content_type, received, bulk, lim, lang
                )
            reply = await self.run(actions.Job(prepared, token=token, lang=lang))
        except ConnectionAbortedError:
            return  # the device hung up before sending its body: nothing was stored
        except Exception:
            log.exception("ingestion failed")
            with actions.language(lang):
                reply = error_reply(500, _("Internal error; nothing was stored. Send again."))
        await send_reply(send, reply, lang)


_path = path_info


def is_ingest(scope) -> bool:
    return scope["type"] == "http" and scope.get("method") == "POST" and _path(scope) in ROUTES


class Dispatcher:
    """Ingestion to the lean route, the live event stream (``GET /live/events``) to
    :mod:`anyuan.live.stream`, everything else to Django; handles ASGI lifespan."""

    def __init__(self, ingest: IngestApp, django_app):
        self.ingest = ingest
        self.django = django_app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif is_ingest(scope):
            await self.ingest(scope, receive, send)
        elif is_live(scope):
            await live_app(scope, receive, send)
        else:
            await self.django(scope, receive, send)

    async def _lifespan(self, receive, send):
        run = self.ingest.run
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if isinstance(run, Committer):
                    run.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await live_app.shutdown()
                if isinstance(run, Committer):
                    await asyncio.get_running_loop().run_in_executor(None, run.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return


committer = Committer(
    group=bool(settings.ANYUAN_INGEST_GROUP_COMMIT),
    background_checkpoint=settings.ANYUAN_INGEST_WAL_CHECKPOINT != "auto",
)
ingest_application = IngestApp(committer)
application = Dispatcher(ingest_application, django_application)
