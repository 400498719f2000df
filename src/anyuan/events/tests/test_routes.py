"""The lean ASGI route and the Ninja endpoints answer the same input the same way; the
dispatcher sends only ingestion to the lean route; the committer thread commits requests
that arrive together in one transaction and answers each only after its commit."""

import asyncio
import datetime as dt
import json
import time

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from anyuan.events import actions
from anyuan.events.models import DeviceAlarm, DeviceLink, Passage
from anyuan.events.tests.conftest import (
    BASE,
    JSON,
    NDJSON,
    call_asgi,
    iso,
    lean_app,
    now,
    passage,
    via_lean,
    via_ninja,
)


def comparable(answer):
    body = dict(answer.body)
    body.pop("received_time", None)
    if "clock_offset_s" in body:  # measured against each request's own receipt time
        body["clock_offset_s"] = body["clock_offset_s"] is not None
    return answer.status, body


def cases(devices):
    t = now() - dt.timedelta(minutes=1)
    own, other = devices.own.token, devices.neighbour.token
    good = [passage(f"P{i}", t + dt.timedelta(seconds=i)) for i in range(5)]
    mixed = [
        *good[:2],
        passage("BAD", t, method="x"),
        "nope",
        passage("F", t + dt.timedelta(days=1)),
    ]
    return [
        ("/ingest/passages", good[0], own, JSON),
        ("/ingest/passages", [good[0], good[1]], own, JSON),
        ("/ingest/passages/bulk", mixed, own, JSON),
        ("/ingest/passages/bulk", mixed, own, NDJSON),
        ("/ingest/passages/bulk", b"{oops", own, JSON),
        ("/ingest/passages/bulk", b"", own, JSON),
        ("/ingest/passages", {**good[0], "device": devices.foreign.serial}, own, JSON),
        ("/ingest/passages", good[0], "ayd_nobody", JSON),
        ("/ingest/passages", good[0], None, JSON),
        ("/ingest/passages", passage("Q", t, method="x"), own, JSON),
        ("/ingest/passages", good[3], other, JSON),
        ("/ingest/passages", passage("BOTH", t), devices.both.token, JSON),
        ("/ingest/alarms", {"event_id": "A1", "event_time": iso(t), "kind": "tamper"}, own, JSON),
        ("/ingest/alarms", [{"event_id": "A2", "event_time": iso(t), "kind": "?"}], own, JSON),
        ("/ingest/heartbeat", {"event_time": iso(t)}, own, JSON),
        ("/ingest/heartbeat", {"event_time": "noon"}, own, JSON),
        ("/ingest/heartbeat", b"[]", own, JSON),
    ]


@pytest.mark.django_db
def test_lean_route_and_ninja_answer_alike(devices):
    for path, body, token, content_type in cases(devices):
        results, rows = [], []
        for route in (via_ninja, via_lean):
            # twice each: the second time shows how a repeated delivery is answered
            first = route(path, body, token, content_type=content_type)
            again = route(path, body, token, content_type=content_type)
            results.append((comparable(first), comparable(again)))
            rows.append(
                (
                    sorted(
                        Passage.objects.values_list("device_event_id", "direction", "credential")
                    ),
                    sorted(DeviceAlarm.objects.values_list("device_event_id", "kind")),
                    sorted(DeviceLink.objects.values_list("device_id", "clock_skew")),
                )
            )
            Passage.objects.all().delete()
            DeviceAlarm.objects.all().delete()
            DeviceLink.objects.all().delete()
        assert results[0] == results[1], (path, body)
        assert rows[0] == rows[1], (path, body)
        assert results[0][0][0] < 500


@pytest.mark.django_db
def test_lean_route_reads_a_body_sent_in_chunks(devices):
    data = json.dumps([passage(f"C{i}") for i in range(20)]).encode()
    chunks = [data[i : i + 100] for i in range(0, len(data), 100)]
    answer = via_lean("/ingest/passages/bulk", None, devices.own.token, chunks=chunks)
    assert answer.status == 200 and answer.body["stored"] == 20


@pytest.mark.django_db
def test_lean_route_refuses_a_long_chunked_body_without_a_length(devices, settings):
    settings.ANYUAN_INGEST_MAX_BYTES = 1000
    chunks = [b"[" + b" " * 600, b" " * 600 + b"]"]
    answer = via_lean("/ingest/passages/bulk", None, devices.own.token, chunks=chunks)
    assert answer.status == 413


@pytest.mark.django_db
def test_dispatcher_sends_everything_else_to_django(world, devices):
    app = lean_app()
    # a GET of an ingestion path is Django's (405 from Ninja), not the lean route's
    status, _headers, _body = async_to_sync(call_asgi)(app, "GET", BASE + "/ingest/passages")
    assert status == 405
    status, _headers, _body = async_to_sync(call_asgi)(app, "GET", "/api/v1/events/passages")
    assert status == 401  # the people's endpoints need a signed-in user
    status, _headers, _body = async_to_sync(call_asgi)(app, "GET", "/accounts/login/")
    assert status == 200


def test_lifespan_is_answered():
    from anyuan.events.asgi_ingest import Dispatcher, IngestApp

    class Runner:
        async def __call__(self, job):  # pragma: no cover - not called here
            raise AssertionError

    app = Dispatcher(IngestApp(Runner()), None)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message["type"])

    async_to_sync(app)({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.django_db(transaction=True)
def test_committer_thread_commits_concurrent_requests_together(world):
    """Many devices at once through the real committer thread (its own connection):
    every event stored exactly once, each answered after commit, fewer transactions
    than requests."""
    from anyuan.events.asgi_ingest import Committer, Dispatcher, IngestApp
    from anyuan.registry.models import Device

    tokens = []
    for i in range(8):
        device = Device.objects.create(
            zone=world.own.zone, name=f"G{i}", kind="gate", serial=f"G-{i}", direction="in"
        )
        tokens.append(device.new_token())
        device.save()
    committer = Committer()
    app = Dispatcher(IngestApp(committer), None)
    t = now() - dt.timedelta(minutes=1)

    async def one(token, n):
        body = json.dumps(passage(f"E{n}", t)).encode()
        headers = [("authorization", f"Bearer {token}"), ("content-type", JSON)]
        status, _h, content = await call_asgi(app, "POST", BASE + "/ingest/passages", body, headers)
        # answered only after the commit: another connection sees the row now
        return status, json.loads(content)

    async def burst():
        jobs = [one(tokens[n % 8], n) for n in range(200)]
        jobs += [one(tokens[n % 8], n) for n in range(0, 200, 4)]  # repeated deliveries
        return await asyncio.gather(*jobs)

    try:
        answers = asyncio.run(burst())
    finally:
        committer.stop()
    statuses = [s for s, _b in answers]
    assert statuses.count(201) == 200
    assert statuses.count(200) == 50
    assert all(b["status"] in ("stored", "duplicate") for _s, b in answers)
    assert Passage.objects.filter(device__serial__startswith="G-").count() == 200
    assert committer.jobs == 250
    assert committer.groups < 250


@pytest.mark.django_db(transaction=True)
def test_committer_checkpoints_the_log_in_the_background_on_sqlite(world):
    """SQLite: the committer's connection leaves the write-ahead log to a checkpoint
    thread of its own, which runs until the committer stops."""
    from django.db import connection

    from anyuan.events.asgi_ingest import Committer
    from anyuan.events.ingest import too_large

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    committer = Committer()
    try:
        reply = committer.submit(actions.Job(too_large(1))).result(timeout=30)
        assert reply.status == 401  # no device token: nothing stored, but the thread runs
        checkpointer = committer.checkpointer
        assert checkpointer is not None
        checkpointer.interval = 0.01
        deadline = time.monotonic() + 30
        while checkpointer.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.runs > 0
    finally:
        committer.stop()
    assert committer.checkpointer._thread is None

    plain = Committer(background_checkpoint=False)
    try:
        assert plain.submit(actions.Job(too_large(1))).result(timeout=30).status == 401
    finally:
        plain.stop()
    assert plain.checkpointer is None


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["event_id", "event_time", "method", "credential", "direction",
                     "confidence", "snapshot", "device", "kind", "detail", "sent_time"]
                ) | st.text(max_size=5),
                inner,
                max_size=8,
            ),
            max_leaves=20,
        ).map(lambda v: json.dumps(v, allow_nan=True).encode()),
    ),
    path=st.sampled_from(
        ["/ingest/passages", "/ingest/passages/bulk", "/ingest/alarms", "/ingest/heartbeat"]
    ),
    ndjson=st.booleans(),
)  # fmt: skip
def test_no_input_gives_a_server_error(devices, body, path, ndjson):
    content_type = NDJSON if ndjson else JSON
    answers = []
    for route in (via_ninja, via_lean):
        answers.append(comparable(route(path, body, devices.own.token, content_type=content_type)))
        Passage.objects.all().delete()
        DeviceAlarm.objects.all().delete()
    assert answers[0][0] < 500, answers[0]
    assert answers[0] == answers[1]
