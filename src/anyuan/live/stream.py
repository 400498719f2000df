"""``GET /live/events``: Server-Sent Events to browsers and integrations, served by the
lean ASGI layer (:mod:`anyuan.events.asgi_ingest` routes it) — no Django request, and no
thread held per connection.

The channel between the processes that write (``anyuan process``, the web processes
themselves) and the web processes that push is the outbox table
:class:`~anyuan.live.models.LiveMessage`. One poller per server process (an asyncio task,
started by the first subscriber and stopped when the last one leaves) reads the rows with
an id above the last it saw, every ``ANYUAN_LIVE_POLL_S`` (0.1 s), in its own worker
thread. That works the same on SQLite and PostgreSQL — ``LISTEN/NOTIFY`` would be
PostgreSQL's only — and costs one indexed query per poll and process.

When new rows exist, each connected client is sent the ones its user may view, decided by
the one scoping mechanism: ``LiveMessage.objects.restrict(user, "view")`` filtered to the
new ids (one query per connected user per non-empty poll).

Ids are drawn at insert and become visible at commit; on PostgreSQL a transaction may
commit after one that drew a later id. The poller remembers the ids it skipped (gaps) and
looks for them for ``GAP_S`` more seconds; such a late message is sent without an ``id:``
line so that the client's resume point does not go backwards.

Frames: ``retry: 2000`` first, then per message ``id: <id>\\nevent: <topic>\\ndata: <json>``,
and ``: keepalive`` after ``ANYUAN_LIVE_KEEPALIVE_S`` (15 s) without a frame. A client that
falls ``ANYUAN_LIVE_QUEUE`` (1,000) messages behind is dropped (its browser reconnects and
resumes). The session or token is checked again every ``ANYUAN_LIVE_REAUTH_S`` (5 s, two
indexed reads): after a sign-out, a new password (Django's session hash; every token
revoked), a revoked or expired token or a deactivated user the stream ends within that
time. Any error closes the stream with a log line; nothing answers 500.
"""

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import signal
import threading
from importlib import import_module
from types import SimpleNamespace
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib import auth
from django.db import close_old_connections, connection, connections
from django.http.cookie import parse_cookie
from django.utils import translation
from django.utils.translation import gettext as _

from anyuan.core.roles import VIEW
from anyuan.live.models import LiveMessage

log = logging.getLogger("anyuan.live")

PATH = "/live/events"
RETRY_MS = 2000
BATCH = 1000  # rows read per poll (more are read at once in the next round)
BACKLOG = 1000  # messages replayed at most on resume
GAP_S = 30.0  # how long a skipped id is looked for
MAX_GAPS = 1000
SEND_TIMEOUT_S = 30.0  # a client that takes longer to accept a frame is dropped
AUTH_THREADS = 4  # sign-ins, re-checks and replays on resume; each keeps its connection
_auth_threads = concurrent.futures.ThreadPoolExecutor(
    max_workers=AUTH_THREADS, thread_name_prefix="anyuan-live-auth"
)


def poll_interval() -> float:
    return float(settings.ANYUAN_LIVE_POLL_S)


def keepalive_interval() -> float:
    return float(settings.ANYUAN_LIVE_KEEPALIVE_S)


def reauth_interval() -> float:
    """How often a stream's session or token is checked again (``ANYUAN_LIVE_REAUTH_S``,
    5 s): a sign-out, a new password or a revoked token ends the stream within it."""
    return float(settings.ANYUAN_LIVE_REAUTH_S)


def queue_limit() -> int:
    return int(settings.ANYUAN_LIVE_QUEUE)


def is_live(scope) -> bool:
    if scope["type"] != "http":
        return False
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path == PATH


def frame(msg_id: int | None, topic: str, data: str) -> bytes:
    head = f"id: {msg_id}\n" if msg_id is not None else ""
    return f"{head}event: {topic}\ndata: {data}\n\n".encode()


def _rows(queryset) -> list[tuple[int, str, str]]:
    """(id, topic, payload as JSON text) of the messages; ``queryset`` is ordered by id."""
    return [
        (pk, topic, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
        for pk, topic, payload in queryset.values_list("id", "topic", "payload")
    ]


# --- authentication -------------------------------------------------------------------


def credentials(scope) -> tuple[str, str] | None:
    """("token", key) from ``Authorization: Bearer``, else ("session", key) from the
    session cookie, else None. A request with an Authorization header is judged by it."""
    authorization, cookies = None, []
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            authorization = value.decode("latin-1")
        elif key == b"cookie":
            cookies.append(value.decode("latin-1"))
    if authorization is not None:
        scheme, _sep, token = authorization.strip().partition(" ")
        token = token.strip()
        ok = scheme.lower() == "bearer" and token and len(token) <= 200
        return ("token", token) if ok else ("token", "")
    key = parse_cookie("; ".join(cookies)).get(settings.SESSION_COOKIE_NAME)
    return ("session", key) if key else None


def language(scope) -> str:
    """The language cookie, as ``core.middleware.LanguageMiddleware`` reads it."""
    cookies = "; ".join(v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"cookie")
    lang = parse_cookie(cookies).get(settings.LANGUAGE_COOKIE_NAME)
    return lang if lang in {code for code, _name in settings.LANGUAGES} else settings.LANGUAGE_CODE


def user_for(creds: tuple[str, str] | None, touch: bool = True):
    """The active user the credentials stand for, or None (runs in a thread). A session
    that was signed out, has expired or predates a new password stands for nobody;
    ``touch`` records a token's use (at connect, not on each re-check)."""
    if creds is None or not creds[1]:
        return None
    kind, key = creds
    close_old_connections()
    try:
        if kind == "token":
            from anyuan.accounts.models import ApiToken  # the API's check: expiry, revoked

            user = ApiToken.user_for_key(key, touch=touch)
        else:
            from anyuan.accounts import twofactor

            store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
            user = auth.get_user(SimpleNamespace(session=store))  # verifies the session hash
            if not twofactor.session_passed(user, store):
                user = None  # signed in with the password, second factor not passed yet
    finally:
        close_old_connections()
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return user


def _backlog(user, after: int, upto: int, topics) -> list[tuple[int, str, str]]:
    """The messages ``user`` may view with ``after`` < id <= ``upto``, the newest
    ``BACKLOG`` of them (runs in a thread)."""
    close_old_connections()
    try:
        qs = LiveMessage.objects.restrict(user, VIEW).filter(id__gt=after, id__lte=upto)
        if topics is not None:
            qs = qs.filter(topic__in=topics)
        newest = list(qs.order_by("-id").values_list("id", flat=True)[:BACKLOG])
        return _rows(LiveMessage.objects.filter(id__in=newest).order_by("id")) if newest else []
    finally:
        close_old_connections()


# --- the shared poller ----------------------------------------------------------------


class Client:
    """One connected stream: its user, topics, and the frames waiting to be sent."""

    def __init__(self, user, topics: frozenset | None):
        self.user = user
        self.topics = topics
        self.queue: asyncio.Queue = asyncio.Queue()
        self.after = 0  # live messages above this id are this client's
        self.floor = 0  # late (gap) messages above this id are too
        self.replayed: set[int] = set()
        self.closed: str | None = None

    def wants(self, topic: str) -> bool:
        return self.topics is None or topic in self.topics

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
            self.queue.put_nowait(None)  # wakes the stream


class Hub:
    """The one poller of this process and the clients it serves."""

    def __init__(self):
        self.clients: set[Client] = set()
        self.position: int | None = None  # the highest id read
        self.gaps: dict[int, float] = {}  # skipped id → when it was first missed
        self.polls = 0  # non-empty polls, for tests and measurement
        self._task: asyncio.Task | None = None
        self._ready: asyncio.Future | None = None
        self._pending = 0
        self._round = None  # rows read but not yet handed to the clients

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def add(self, client: Client) -> int:
        """Register ``client``; the id its stream starts after (the newest at connect)."""
        loop = asyncio.get_running_loop()
        self._pending += 1
        try:
            if not self.running or self._task.get_loop() is not loop:
                self._ready = loop.create_future()
                self._task = loop.create_task(self._run(self._ready), name="anyuan-live-poller")
            await asyncio.shield(self._ready)
            client.after = client.floor = self.position
            self.clients.add(client)
            return self.position
        finally:
            self._pending -= 1
            if not self.clients and not self._pending:
                self._stop()

    def remove(self, client: Client) -> None:
        self.clients.discard(client)
        if not self.clients and not self._pending:
            self._stop()

    def _stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def stop(self) -> None:
        """End every stream and the poller (server shutdown)."""
        for client in list(self.clients):
            client.close("shutdown")
        self.clients.clear()
        task, self._task = self._task, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, ready: asyncio.Future) -> None:
        loop = asyncio.get_running_loop()
        db = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="anyuan-live-poll")
        try:
            try:
                newest = await loop.run_in_executor(db, _newest_id)
            except Exception as exc:
                log.warning("live: cannot read the outbox: %s", exc)
                if not ready.done():
                    ready.set_exception(exc)
                return
            self.position, self.gaps, self._round = newest, {}, None
            ready.set_result(None)
            failures = 0
            while True:
                if _server_stopping():
                    for client in list(self.clients):
                        client.close("server stopping")
                try:
                    more = await self._poll(loop, db)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception:
                    failures += 1
                    log.warning("live: polling failed (%d in a row)", failures, exc_info=True)
                    db.submit(_close_connection)  # a fresh connection next time
                    await asyncio.sleep(min(5.0, poll_interval() * 2**failures))
                    continue
                if not more:
                    await asyncio.sleep(poll_interval())
        finally:
            if not ready.done():
                ready.cancel()
            db.submit(_close_connection)
            db.shutdown(wait=False)

    async def _poll(self, loop, db) -> bool:
        """Read and deliver one round; True when there may be more to read at once.

        A round read is delivered even if the visibility query fails: it stays pending
        (the position has moved past it) and is tried again before anything new is read.
        """
        if self._round is None:
            now = loop.time()
            self.gaps = {g: t for g, t in self.gaps.items() if now - t < GAP_S}
            rows, late = await loop.run_in_executor(db, _read, self.position, list(self.gaps))
            if not rows and not late:
                return False
            # From here to the snapshot of clients nothing awaits: a client registering
            # later starts after the new position, one registered before gets these rows.
            present = {r[0] for r in rows}
            for row_id in range(self.position + 1, rows[-1][0] if rows else 0):
                if len(self.gaps) >= MAX_GAPS:
                    break
                if row_id not in present:
                    self.gaps[row_id] = now
            for row_id, *_rest in late:
                self.gaps.pop(row_id, None)
            if rows:
                self.position = rows[-1][0]
            self._round = (rows, late, [c for c in self.clients if c.closed is None])
        rows, late, clients = self._round
        topics = {r[1] for r in rows} | {r[1] for r in late}
        users = {
            c.user.pk: c.user for c in clients if c.closed is None and any(map(c.wants, topics))
        }
        ids = [r[0] for r in rows] + [r[0] for r in late]
        visible = await loop.run_in_executor(db, _visible, users, ids) if users else {}
        self._round = None
        self.polls += 1
        limit = queue_limit()
        for client in clients:
            if client.closed is not None:
                continue
            seen = visible.get(client.user.pk, ())
            frames = [
                frame(row_id, topic, data)
                for row_id, topic, data in rows
                if row_id in seen and row_id > client.after and client.wants(topic)
            ]
            frames += [
                frame(None, topic, data)
                for row_id, topic, data in late
                if row_id in seen
                and row_id > client.floor
                and row_id not in client.replayed
                and client.wants(topic)
            ]
            if not frames:
                continue
            if client.queue.qsize() >= limit:  # what was queued before is still unsent
                log.warning("live: dropping %s, %d messages behind", _who(client.user), limit)
                self.clients.discard(client)
                client.close("too slow")
                continue
            for f in frames:
                client.queue.put_nowait(f)
        if not self.clients and not self._pending:
            self._stop()
        return len(rows) >= BATCH


def _close_connection() -> None:
    connection.close()  # this thread's: ``connection`` resolves in the thread that calls it


def _newest_id() -> int:
    return LiveMessage.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _read(after: int, gaps: list[int]):
    """The next rows above ``after`` (at most ``BATCH``), and those of ``gaps`` that have
    appeared since."""
    newer = LiveMessage.objects.filter(id__gt=after).order_by("id")[:BATCH]
    late = LiveMessage.objects.filter(id__in=gaps).order_by("id") if gaps else None
    return _rows(newer), (_rows(late) if late is not None else [])


def _visible(users: dict, ids: list[int]) -> dict[int, set[int]]:
    """Per user, which of ``ids`` the user may view — through ``restrict()`` only."""
    return {
        pk: set(
            LiveMessage.objects.restrict(user, VIEW).filter(id__in=ids).values_list("id", flat=True)
        )
        for pk, user in users.items()
    }


def _server_stopping() -> bool:
    """Is the server shutting down? uvicorn waits for every open response to finish
    before it stops, and an event stream never finishes by itself; its signal handler
    sets ``should_exit`` on the server, which we read (and otherwise leave alone)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            handler = signal.getsignal(sig)
        except (ValueError, OSError):  # pragma: no cover
            continue
        if getattr(getattr(handler, "__self__", None), "should_exit", False) is True:
            return True
    return False


def close_connections() -> None:
    """Close the database connections of the sign-in threads (at shutdown): one job per
    thread, each waiting for the others so that every thread runs one."""
    barrier = threading.Barrier(AUTH_THREADS)

    def close():
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=5)
        connections.close_all()

    jobs = [_auth_threads.submit(close) for _ in range(AUTH_THREADS)]
    concurrent.futures.wait(jobs, timeout=10)


def _who(user) -> str:
    return f"user {user.pk} ({user.get_username()})"


# --- the ASGI app ---------------------------------------------------------------------


class LiveApp:
    """The event stream as a framework-free ASGI app; one :class:`Hub` per app."""

    def __init__(self, hub: Hub | None = None):
        self.hub = hub or Hub()

    async def shutdown(self) -> None:
        await self.hub.stop()
        await asyncio.get_running_loop().run_in_executor(None, close_connections)

    async def __call__(self, scope, receive, send):
        state = {"started": False, "streaming": False}

        async def start(status, headers):
            await send({"type": "http.response.start", "status": status, "headers": headers})
            state["started"] = True
            state["streaming"] = status == 200

        lang = language(scope)
        try:
            await self._serve(scope, receive, send, start, lang)
        except Exception:
            log.exception("live: the stream failed")
            if not state["started"]:
                with contextlib.suppress(Exception):
                    await _error(start, send, 503, lang, _unavailable)
        if state["streaming"]:  # end the body (a no-op once the client has gone)
            end = send({"type": "http.response.body", "body": b"", "more_body": False})
            with contextlib.suppress(Exception):  # a client not reading: the server closes it
                await asyncio.wait_for(end, 1.0)

    async def _serve(self, scope, receive, send, start, lang):
        loop = asyncio.get_running_loop()
        if scope.get("method") != "GET":
            await _error(start, send, 405, lang, _not_allowed, [(b"allow", b"GET")])
            return
        creds = credentials(scope)
        try:
            user = await loop.run_in_executor(_auth_threads, user_for, creds)
        except Exception:
            log.warning("live: authentication failed", exc_info=True)
            await _error(start, send, 503, lang, _unavailable)
            return
        if user is None:
            message = _bad_token if creds is not None and creds[0] == "token" else _anonymous
            await _error(start, send, 401, lang, message)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        names = ",".join(query.get("topics", [])).split(",")
        topics = frozenset(t.strip() for t in names if t.strip()) or None
        # the header (sent by the browser when it reconnects) before the query parameter
        resume = _int(_header(scope, b"last-event-id"))
        if resume is None:
            resume = _int((query.get("last_event_id") or [None])[0])

        client = Client(user, topics)
        position = await self.hub.add(client)
        watcher = loop.create_task(_watch(receive, client))
        try:
            await start(
                200,
                [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache, no-store"),
                    (b"x-accel-buffering", b"no"),
                    (b"content-language", lang.encode()),
                ],
            )
            await _send(send, f"retry: {RETRY_MS}\n\n".encode())
            if resume is not None and resume < position:
                client.floor = resume
                rows = await loop.run_in_executor(
                    _auth_threads, _backlog, user, resume, position, topics
                )
                client.replayed = {r[0] for r in rows}
                if rows:
                    await _send(send, b"".join(frame(*r) for r in rows))
            await self._pump(loop, send, client, creds)
        finally:
            self.hub.remove(client)
            watcher.cancel()

    async def _pump(self, loop, send, client: Client, creds) -> None:
        keepalive = keepalive_interval()
        last_write = loop.time()
        reauth = reauth_interval()
        next_auth = loop.time() + reauth
        while client.closed is None:
            wait = min(keepalive - (loop.time() - last_write), next_auth - loop.time())
            try:
                item = await asyncio.wait_for(client.queue.get(), timeout=max(wait, 0))
            except TimeoutError:
                item = b""
            if client.closed is not None or item is None:
                break
            if loop.time() >= next_auth:
                user = await loop.run_in_executor(_auth_threads, user_for, creds, False)
                if user is None or user.pk != client.user.pk:
                    log.info("live: %s signed out; closing the stream", _who(client.user))
                    break
                client.user = user  # a changed role or place applies from now on
                next_auth = loop.time() + reauth
            chunks = [item] if item else []
            while not client.queue.empty() and len(chunks) < 100:
                nxt = client.queue.get_nowait()
                if nxt is None:
                    break
                chunks.append(nxt)
            if not chunks:
                if loop.time() - last_write < keepalive:
                    continue
                chunks = [b": keepalive\n\n"]
            try:
                await asyncio.wait_for(_send(send, b"".join(chunks)), SEND_TIMEOUT_S)
            except TimeoutError:
                log.warning("live: dropping %s, not reading", _who(client.user))
                break
            last_write = loop.time()


async def _watch(receive, client: Client) -> None:
    """End the stream as soon as the client goes."""
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    except Exception:
        log.warning("live: receiving failed", exc_info=True)
    client.close("disconnect")


async def _send(send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _int(value) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**63 else None


def _anonymous():
    return _("Sign in, or send the header Authorization: Bearer <API token>.")


def _bad_token():
    return _("The API token is unknown, expired or revoked.")


def _not_allowed():
    return _("Only GET is allowed here.")


def _unavailable():
    return _("Live updates are unavailable right now; try again shortly.")


async def _error(start, send, status: int, lang: str, message, extra=()) -> None:
    with translation.override(lang):
        body = json.dumps({"detail": message()}, ensure_ascii=False).encode()
    await start(
        status,
        [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"content-language", lang.encode()),
            *extra,
        ],
    )
    await send({"type": "http.response.body", "body": body})


live_app = LiveApp()
