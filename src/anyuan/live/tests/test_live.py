"""Live push: the outbox is written in the caller's transaction, and the event stream
(driven in-process through a minimal ASGI harness, with the real poller thread) sends each
client exactly what its user may view."""

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import signal
import time

import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.test import Client
from django.utils import timezone

from anyuan.accounts.actions import issue_token
from anyuan.core.roles import Role
from anyuan.core.system import SYSTEM
from anyuan.live import actions, stream
from anyuan.live.models import LiveMessage

PATH = "/live/events"


@pytest.fixture(autouse=True)
def fast_live(settings):
    settings.ANYUAN_LIVE_POLL_S = 0.01
    yield
    stream.close_connections()  # PostgreSQL: the test database can be dropped at the end


# --- the harness --------------------------------------------------------------------------


class Conn:
    """One client of an ASGI app: the request, what was sent back, and a hang-up."""

    def __init__(self, app, path=PATH, headers=(), query="", method="GET", slow=False):
        self.app = app
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.messages = []
        self.slow = slow  # stops accepting body chunks after the first
        self._request_sent = False
        self._gone = asyncio.Event()
        self._changed = asyncio.Event()
        self.task = None

    async def receive(self):
        if not self._request_sent:
            self._request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message):
        if self.slow and message["type"] == "http.response.body" and self.body:
            await asyncio.Event().wait()  # never reads again
        self.messages.append(message)
        self._changed.set()

    def open(self):
        self.task = asyncio.get_running_loop().create_task(
            self.app(self.scope, self.receive, self.send)
        )
        return self

    async def connect(self):
        """Open a stream and wait until it streams. One at a time: the tests' in-memory
        SQLite (shared cache) refuses concurrent writers at once, where a real database
        file waits (busy timeout) — and an API token's check writes its last use."""
        self.open()
        return await self.wait_for(streaming)

    async def run(self):
        """For answers that end by themselves (errors)."""
        await asyncio.wait_for(self.app(self.scope, self.receive, self.send), 5)
        return self

    async def hang_up(self):
        self._gone.set()
        await asyncio.wait_for(self.task, 5)

    @property
    def status(self):
        return next(m["status"] for m in self.messages if m["type"] == "http.response.start")

    @property
    def headers(self):
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        return dict(start["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(
            m.get("body", b"") for m in self.messages if m["type"] != "http.response.start"
        )

    @property
    def ended(self) -> bool:
        return any(
            m["type"] == "http.response.body" and not m.get("more_body") for m in self.messages
        )

    def frames(self) -> list[dict]:
        out = []
        for block in self.body.decode().split("\n\n"):
            if not block:
                continue
            fields = {}
            for line in block.split("\n"):
                name, _sep, value = line.partition(": ")
                fields[name] = value
            if "data" in fields:
                fields["data"] = json.loads(fields["data"])
            out.append(fields)
        return out

    def events(self) -> list[dict]:
        return [f for f in self.frames() if "event" in f]

    async def wait_for(self, predicate, timeout=5.0):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out; got {self.body!r}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self


def streaming(conn) -> bool:
    return any(m["type"] == "http.response.start" for m in conn.messages) and b"retry" in conn.body


def has_events(n):
    return lambda conn: len(conn.events()) >= n


def session_cookie(user) -> tuple[str, str]:
    client = Client()
    client.force_login(user)
    return (
        "cookie",
        f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}",
    )


def bearer(user) -> tuple[str, str]:
    _token, key = issue_token(user, user, "live test")
    return ("authorization", f"Bearer {key}")


def unlocked(fn):
    """Run ``fn`` again when the tests' in-memory SQLite (shared cache) reports a table
    locked by the poller's read: it fails at once where a database file would wait."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        for attempt in range(50):
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.01)

    return run


@unlocked
def publish(topic, payload, station, enterprise=None) -> int:
    with transaction.atomic():
        actions.publish(topic, payload, station=station, enterprise=enterprise)
    return LiveMessage.objects.order_by("-id").values_list("id", flat=True).first()


def in_thread(fn):
    """``fn`` for the event loop: run in a thread that closes its connection after."""

    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    async def call(*args, **kwargs):
        return await asyncio.to_thread(run, *args, **kwargs)

    return call


apublish = in_thread(publish)


def new_app():
    return stream.LiveApp(stream.Hub())


# --- publishing ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_publish_is_part_of_the_callers_transaction(world):
    before = LiveMessage.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        actions.publish("alert", {"id": 1}, station=world.home.station)
        raise RuntimeError("the change fails")
    assert LiveMessage.objects.count() == before  # rolled back: never published
    with transaction.atomic():
        actions.publish(
            "alert", {"id": 2}, station=world.home.station.pk, enterprise=world.own.enterprise
        )
    msg = LiveMessage.objects.get()
    assert (msg.topic, msg.payload, msg.station_id, msg.enterprise_id) == (
        "alert",
        {"id": 2},
        world.home.station.pk,
        world.own.enterprise.pk,
    )
    with pytest.raises(ValueError):
        actions.publish("bad\ntopic", {}, station=world.home.station)


@pytest.mark.django_db
def test_prune_deletes_old_messages(world, settings):
    old = publish("alert", {"n": 1}, world.home.station)
    LiveMessage.objects.filter(pk=old).update(created=timezone.now() - dt.timedelta(hours=2))
    publish("alert", {"n": 2}, world.home.station)
    assert actions.prune(dt.timedelta(hours=1)) == 1
    assert list(LiveMessage.objects.values_list("payload__n", flat=True)) == [2]
    settings.ANYUAN_LIVE_KEEP_S = 0
    assert actions.prune() == 1


@pytest.mark.django_db
def test_scoping_of_messages(world):
    """restrict() alone decides: police see their station, an enterprise its own rows
    (not police-only ones), informants and employees nothing."""
    home, own, neighbour = world.home.station, world.own.enterprise, world.neighbour.enterprise
    ids = {
        "own": publish("alert", {}, home, own),
        "police": publish("alert", {}, home),
        "neighbour": publish("alert", {}, home, neighbour),
        "foreign": publish("alert", {}, world.foreign_station.station, world.foreign.enterprise),
    }

    def seen(user):
        names = {v: k for k, v in ids.items()}
        return {names[i] for i in LiveMessage.objects.restrict(user).values_list("id", flat=True)}

    assert seen(world.users[Role.POLICE_OFFICER]) == {"own", "police", "neighbour"}
    assert seen(world.users[Role.ENTERPRISE_SECURITY]) == {"own"}
    assert seen(world.users[Role.EMPLOYEE]) == set()
    assert seen(world.foreign_users[Role.POLICE_ADMIN]) == {"foreign"}
    assert not LiveMessage.objects.restrict(world.users[Role.POLICE_ADMIN], "change").exists()


# --- the stream ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_each_client_gets_what_its_user_may_view(world):
    home, own, neighbour = world.home.station, world.own.enterprise, world.neighbour.enterprise
    police = session_cookie(world.users[Role.POLICE_ADMIN])
    firm = bearer(world.users[Role.ENTERPRISE_ADMIN])
    other_firm = session_cookie(world.neighbour_users[Role.ENTERPRISE_ADMIN])
    publish("alert", {"old": True}, home, own)  # before connecting: not replayed

    async def scenario():
        app = new_app()
        conns = [await Conn(app, headers=[h]).connect() for h in (police, firm, other_firm)]
        assert app.hub.running and len(app.hub.clients) == 3
        sent = {
            "own": await apublish("alert", {"n": "own"}, home, own),
            "police": await apublish("alert", {"n": "police"}, home),
            "neighbour": await apublish("alert", {"n": "neighbour"}, home, neighbour),
            "foreign": await apublish(
                "alert", {"n": "foreign"}, world.foreign_station.station, world.foreign.enterprise
            ),
        }
        await conns[0].wait_for(has_events(3))
        await conns[1].wait_for(has_events(1))
        await conns[2].wait_for(has_events(1))
        await asyncio.sleep(0.1)  # nothing more arrives
        for c in conns:
            await c.hang_up()
        return conns, sent, app

    (p, f, o), sent, app = asyncio.run(scenario())
    assert [e["data"]["n"] for e in p.events()] == ["own", "police", "neighbour"]
    assert [e["data"]["n"] for e in f.events()] == ["own"]
    assert [e["data"]["n"] for e in o.events()] == ["neighbour"]
    own_frame = f.events()[0]
    assert own_frame["id"] == str(sent["own"]) and own_frame["event"] == "alert"
    assert f.status == 200
    assert f.headers[b"content-type"].startswith(b"text/event-stream")
    assert f.body.startswith(b"retry: 2000\n\n")
    assert all(c.ended for c in (p, f, o))
    assert not app.hub.running and not app.hub.clients  # the last one out stops the poller


@pytest.mark.django_db(transaction=True)
def test_resume_with_last_event_id(world):
    home, own = world.home.station, world.own.enterprise
    user = world.users[Role.ENTERPRISE_SECURITY]
    first = publish("alert", {"n": 1}, home, own)
    publish("alert", {"n": 2}, home)  # police-only: not for this user, not replayed
    publish("alert", {"n": 3}, home, own)
    publish("occupancy", {"n": 4}, home, own)
    token = bearer(user)

    async def scenario():
        app = new_app()
        header = await Conn(app, headers=[token, ("last-event-id", str(first))]).connect()
        query = await Conn(app, headers=[token], query=f"last_event_id={first}").connect()
        both = await Conn(  # the header wins: the browser's own id after a reconnect
            app, headers=[token, ("last-event-id", "0")], query=f"last_event_id={first}"
        ).connect()
        fresh = await Conn(app, headers=[token]).connect()
        await apublish("alert", {"n": 5}, home, own)
        for c in (header, query):
            await c.wait_for(has_events(3))
        await both.wait_for(has_events(4))
        await fresh.wait_for(has_events(1))
        for c in (header, query, both, fresh):
            await c.hang_up()
        return header, query, both, fresh

    header, query, both, fresh = asyncio.run(scenario())
    assert [e["data"]["n"] for e in header.events()] == [3, 4, 5]
    assert [e["data"]["n"] for e in query.events()] == [3, 4, 5]
    assert [e["data"]["n"] for e in both.events()] == [1, 3, 4, 5]
    assert [e["data"]["n"] for e in fresh.events()] == [5]  # no history without an id
    ids = [int(e["id"]) for e in header.events()]
    assert ids == sorted(ids)


@pytest.mark.django_db(transaction=True)
def test_topics_filter(world):
    home, own = world.home.station, world.own.enterprise
    user = world.users[Role.POLICE_OFFICER]
    cookie, token = session_cookie(user), bearer(user)

    async def scenario():
        app = new_app()
        occ = await Conn(app, headers=[cookie], query="topics=occupancy").connect()
        every = await Conn(app, headers=[token]).connect()
        await apublish("alert", {"n": 1}, home, own)
        await apublish("occupancy", {"n": 2}, home, own)
        await every.wait_for(has_events(2))
        await occ.wait_for(has_events(1))
        await occ.hang_up()
        await every.hang_up()
        return occ, every

    occ, every = asyncio.run(scenario())
    assert [(e["event"], e["data"]["n"]) for e in occ.events()] == [("occupancy", 2)]
    assert [e["event"] for e in every.events()] == ["alert", "occupancy"]


@pytest.mark.django_db(transaction=True)
def test_refusals(world):
    user = world.users[Role.POLICE_ADMIN]
    token, key = issue_token(user, user, "revoked")
    token.revoked = True
    token.save()
    inactive = world.users[Role.ENTERPRISE_ADMIN]
    inactive_cookie = session_cookie(inactive)
    inactive.is_active = False
    inactive.save()
    good = session_cookie(user)

    async def scenario():
        app = new_app()
        cases = {
            "anonymous": Conn(app),
            "anonymous_en": Conn(app, headers=[("cookie", f"{settings.LANGUAGE_COOKIE_NAME}=en")]),
            "bad_token": Conn(app, headers=[("authorization", "Bearer ayu_nobody")]),
            "not_bearer": Conn(app, headers=[("authorization", "Basic eDp5")]),
            "revoked": Conn(app, headers=[("authorization", f"Bearer {key}")]),
            "bad_cookie": Conn(app, headers=[("cookie", f"{settings.SESSION_COOKIE_NAME}=nope")]),
            "inactive": Conn(app, headers=[inactive_cookie]),
            # a cookie does not rescue a bad token
            "token_wins": Conn(app, headers=[good, ("authorization", "Bearer ayu_x")]),
            "post": Conn(app, headers=[good], method="POST"),
        }
        for c in cases.values():
            await c.run()
        return cases, app

    cases, app = asyncio.run(scenario())
    for name, c in cases.items():
        expected = 405 if name == "post" else 401
        assert c.status == expected, name
        assert c.headers[b"content-type"] == b"application/json"
        assert json.loads(c.body)["detail"], name
    assert json.loads(cases["anonymous_en"].body) == {
        "detail": "Sign in, or send the header Authorization: Bearer <API token>."
    }
    assert cases["anonymous"].headers[b"content-language"] == b"zh-hans"
    assert not app.hub.running


@pytest.mark.django_db(transaction=True)
def test_alert_raised_reaches_the_right_subscribers(world):
    """End to end: raise_alert in a committed transaction → the stream."""
    from anyuan.alerts.actions import raise_alert

    conns = {
        "police": session_cookie(world.users[Role.POLICE_OFFICER]),
        "own": session_cookie(world.users[Role.ENTERPRISE_SECURITY]),
        "neighbour": session_cookie(world.neighbour_users[Role.ENTERPRISE_ADMIN]),
        "foreign": session_cookie(world.foreign_users[Role.POLICE_ADMIN]),
    }

    @unlocked
    def raise_one():
        with transaction.atomic():
            alert, _created = raise_alert(
                SYSTEM,
                type="stranger",
                source_key="stranger:live-test",
                station=world.home.station,
                severity="high",
                title="陌生人 · OWN 车间",
                zone=world.own.zone,
                detail={"passage": 4711},
            )
        return alert

    async def scenario():
        app = new_app()
        opened = {k: await Conn(app, headers=[h]).connect() for k, h in conns.items()}
        alert = await in_thread(raise_one)()
        await opened["police"].wait_for(has_events(1))
        await opened["own"].wait_for(has_events(1))
        await asyncio.sleep(0.1)
        for c in opened.values():
            await c.hang_up()
        return opened, alert

    opened, alert = asyncio.run(scenario())
    assert not opened["neighbour"].events() and not opened["foreign"].events()
    event = opened["own"].events()[0]
    assert event["event"] == "alert"
    data = event["data"]
    assert data["id"] == alert.pk and data["transition"] == "raise" and data["state"] == "new"
    assert data["severity"] == "high" and data["type"] == "stranger" and data["type_label"]
    assert data["title"] == "陌生人 · OWN 车间" and data["zone"] == world.own.zone.pk
    assert data["passage"] == 4711 and data["repeat_count"] == 1
    assert dt.datetime.fromisoformat(data["first_seen"]) == alert.first_seen
    assert data["last_seen"]
    assert opened["police"].events()[0]["data"] == data


@pytest.mark.django_db(transaction=True)
def test_keepalive_and_reauthentication(world, settings):
    settings.ANYUAN_LIVE_KEEPALIVE_S = 0.05
    settings.ANYUAN_LIVE_REAUTH_S = 0.2
    user = world.users[Role.POLICE_ADMIN]
    cookie = session_cookie(user)

    @unlocked
    def deactivate():
        user.is_active = False
        user.save()

    async def scenario():
        app = new_app()
        conn = await Conn(app, headers=[cookie]).connect()
        await conn.wait_for(lambda c: b": keepalive\n\n" in c.body)
        await in_thread(deactivate)()
        await asyncio.wait_for(conn.task, 5)  # closed by the server, no hang-up needed
        return conn, app

    conn, app = asyncio.run(scenario())
    assert conn.ended and not app.hub.running


@pytest.mark.django_db(transaction=True)
def test_slow_client_is_dropped_without_holding_up_others(world, settings, monkeypatch, caplog):
    settings.ANYUAN_LIVE_QUEUE = 3
    monkeypatch.setattr(stream, "SEND_TIMEOUT_S", 0.5)
    home = world.home.station
    police = session_cookie(world.users[Role.POLICE_ADMIN])

    async def scenario():
        app = new_app()
        slow = await Conn(app, headers=[police], slow=True).connect()
        fast = await Conn(app, headers=[police]).connect()
        for n in range(6):  # one poll each
            await apublish("alert", {"n": n}, home)
            await fast.wait_for(has_events(n + 1))
        await asyncio.wait_for(slow.task, 5)  # dropped by the server
        alive = len(app.hub.clients)
        await fast.hang_up()
        return app, alive

    with caplog.at_level(logging.WARNING, logger="anyuan.live"):
        app, alive = asyncio.run(scenario())
    assert alive == 1
    assert any("messages behind" in r.getMessage() for r in caplog.records)
    assert not app.hub.running


@pytest.mark.django_db(transaction=True)
def test_a_message_committed_late_is_still_sent(world):
    """An id drawn before a later one but committed after it (PostgreSQL): sent when it
    appears, without an id line (the client's resume point does not go back)."""
    home = world.home.station
    police = session_cookie(world.users[Role.POLICE_ADMIN])
    base = publish("alert", {"n": 0}, home)

    @unlocked
    def create(pk, n):
        LiveMessage.objects.create(id=pk, topic="alert", payload={"n": n}, station=home)

    async def scenario():
        app = new_app()
        conn = await Conn(app, headers=[police]).connect()
        await in_thread(create)(base + 2, 2)
        await conn.wait_for(has_events(1))
        assert base + 1 in app.hub.gaps
        await in_thread(create)(base + 1, 1)
        await conn.wait_for(has_events(2))
        await conn.hang_up()
        return conn, app

    conn, app = asyncio.run(scenario())
    first, late = conn.events()
    assert first["data"] == {"n": 2} and first["id"] == str(base + 2)
    assert late["data"] == {"n": 1} and "id" not in late
    assert not app.hub.gaps


@pytest.mark.django_db(transaction=True)
def test_a_round_whose_delivery_failed_is_delivered_later(world, monkeypatch, caplog):
    home = world.home.station
    police = session_cookie(world.users[Role.POLICE_ADMIN])
    real, calls = stream._visible, []

    def flaky(users, ids):
        calls.append(ids)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(users, ids)

    monkeypatch.setattr(stream, "_visible", flaky)

    async def scenario():
        app = new_app()
        conn = await Conn(app, headers=[police]).connect()
        await apublish("alert", {"n": 1}, home)
        await conn.wait_for(has_events(1))
        await conn.hang_up()
        return conn

    with caplog.at_level(logging.WARNING, logger="anyuan.live"):
        conn = asyncio.run(scenario())
    assert [e["data"] for e in conn.events()] == [{"n": 1}]
    assert len(calls) == 2 and calls[0] == calls[1]
    assert any("polling failed" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_streams_end_when_the_server_stops(world):
    """uvicorn waits for open responses before it shuts down: the poller ends the
    streams when the server's signal handler has set ``should_exit``."""
    police = session_cookie(world.users[Role.POLICE_ADMIN])

    class Server:  # stands in for uvicorn.Server
        should_exit = False

        def handle_exit(self, sig, frame):  # pragma: no cover
            self.should_exit = True

    server = Server()

    async def scenario():
        app = new_app()
        conn = await Conn(app, headers=[police]).connect()
        server.should_exit = True
        await asyncio.wait_for(conn.task, 5)
        return conn, app

    previous = signal.signal(signal.SIGTERM, server.handle_exit)
    try:
        conn, app = asyncio.run(scenario())
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert conn.ended and not app.hub.running


@pytest.mark.django_db(transaction=True)
def test_dispatcher_routes_the_stream_and_stops_it_at_shutdown(world):
    from anyuan.events.asgi_ingest import Dispatcher, IngestApp

    police = session_cookie(world.users[Role.POLICE_ADMIN])
    app = Dispatcher(IngestApp(None), None)  # neither ingestion nor Django may be reached

    async def scenario():
        refused = await Conn(app).run()
        conn = await Conn(app, headers=[police]).connect()
        assert stream.live_app.hub.running
        sent = []
        lifespan = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

        async def receive():
            return next(lifespan)

        async def send(message):
            sent.append(message["type"])

        await app({"type": "lifespan"}, receive, send)
        await asyncio.wait_for(conn.task, 5)
        return refused, conn, sent

    refused, conn, sent = asyncio.run(scenario())
    assert refused.status == 401
    assert conn.ended and not stream.live_app.hub.running
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.django_db
def test_the_page_includes_the_script_for_signed_in_users_only(world):
    client = Client()
    assert b"live/live.js" not in client.get("/accounts/login/").content
    client.force_login(world.users[Role.POLICE_OFFICER])
    page = client.get("/", follow=True).content.decode()
    assert "live/live.js" in page and 'data-close="' in page


# --- sign-out, a new password: the stream ends within seconds ------------------------------


def signed_in(user) -> tuple[Client, tuple[str, str]]:
    """A browser's client and the session cookie its stream sends."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return client, ("cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}")


@pytest.mark.django_db(transaction=True)
def test_the_stream_ends_within_seconds_of_signing_out(world, settings):
    """Measured with the default re-check interval: it used to run on for up to 60 s."""
    assert settings.ANYUAN_LIVE_REAUTH_S <= 5
    browser, cookie = signed_in(world.users[Role.ENTERPRISE_ADMIN])

    @unlocked
    def sign_out():
        assert browser.post("/accounts/logout/").status_code == 302

    async def scenario():
        app = new_app()
        conn = await Conn(app, headers=[cookie]).connect()
        loop = asyncio.get_running_loop()
        await in_thread(sign_out)()
        signed_out = loop.time()
        await asyncio.wait_for(conn.task, 30)  # closed by the server, no hang-up needed
        took = loop.time() - signed_out
        # the next message of the enterprise does not reach the signed-out stream
        await apublish("alert", {"after": "sign-out"}, world.home.station, world.own.enterprise)
        return conn, app, took

    conn, app, took = asyncio.run(scenario())
    assert conn.ended and not app.hub.running
    assert took <= settings.ANYUAN_LIVE_REAUTH_S + 1.0, took
    assert b"sign-out" not in conn.body
    # and a new stream with the old cookie is refused at once
    refused = asyncio.run(Conn(new_app(), headers=[cookie]).run())
    assert refused.status == 401


@pytest.mark.django_db(transaction=True)
def test_a_new_password_ends_the_user_s_streams_by_session_and_by_token(world, settings):
    settings.ANYUAN_LIVE_REAUTH_S = 0.2
    user = world.users[Role.ENTERPRISE_SECURITY]
    other = world.users[Role.ENTERPRISE_ADMIN]
    _browser, cookie = signed_in(user)
    token = bearer(user)
    _theirs, their_cookie = signed_in(other)

    @unlocked
    def new_password():
        from anyuan.accounts.actions import set_password

        set_password(other, user, "Zhong-guo-2026-anyuan")

    async def scenario():
        app = new_app()
        by_session = await Conn(app, headers=[cookie]).connect()
        by_token = await Conn(app, headers=[token]).connect()
        unrelated = await Conn(app, headers=[their_cookie]).connect()
        await in_thread(new_password)()
        await asyncio.wait_for(by_session.task, 5)
        await asyncio.wait_for(by_token.task, 5)
        await asyncio.sleep(0.5)  # two more re-checks: the other user's stream goes on
        still = not unrelated.task.done()
        await unrelated.hang_up()
        return by_session, by_token, still, app

    by_session, by_token, still, app = asyncio.run(scenario())
    assert by_session.ended and by_token.ended
    assert still
    assert not app.hub.running
