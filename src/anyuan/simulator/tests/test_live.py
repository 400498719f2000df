"""The live mode: the simulated stream played into ingestion (in-process, through the
project's own API) at a high speed-up — every passage stored once, stamped "now", a
retried batch stores nothing twice, refused items are counted and not retried."""

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from anyuan.simulator.live import INGEST, Live
from anyuan.simulator.run import DEFAULT_START

SEED = 7


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    out = tmp_path_factory.mktemp("live-tiny")
    call_command(
        "simulate", scale="tiny", days=2, seed=SEED, out=str(out), registry_only=True,
        no_progress=True, verbosity=0,
    )  # fmt: skip
    return out / "registry"


@pytest.fixture
def park(db, registry):
    from anyuan.core.system import SYSTEM
    from anyuan.registry.actions import issue_device_tokens
    from anyuan.registry.models import Device

    call_command("import", "all", str(registry), verbosity=0)
    return issue_device_tokens(SYSTEM, Device.objects.all())


class Transport:
    """Requests handed to the project's API in-process; records what it was given."""

    def __init__(self):
        self.client = Client(raise_request_exception=True)
        self.calls = []

    def __call__(self, path, token, body, content_type):
        self.calls.append((path, body))
        response = self.client.post(
            INGEST + path, body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        return response.status_code, response.json()


def live(tokens, transport, minutes=60, **kwargs):
    return Live(
        "tiny", SEED, DEFAULT_START, 1, tokens, transport, speed=7200,
        time_of_day=dt.time(7, 40), duration=dt.timedelta(minutes=minutes), tick=0.05,
        log=lambda line: None, **kwargs,
    )  # fmt: skip


def sent_ids(calls):
    ids = []
    for path, body in calls:
        if path.endswith("/bulk"):
            ids += [(x["device"], x["event_id"]) for x in map(json.loads, body.splitlines())]
    return ids


def test_plays_the_morning_into_ingestion_once_and_now(park):
    from anyuan.events.models import Passage

    transport = Transport()
    before = timezone.now()
    stats = live(park, transport).run()
    after = timezone.now()
    ids = sent_ids(transport.calls)
    assert len(ids) > 100 and stats.sent >= len(ids)
    distinct = set(ids)
    assert Passage.objects.count() == len(distinct) == stats.stored
    assert stats.duplicates == len(ids) - len(distinct)  # the stream's own re-deliveries
    assert stats.refused == 0 and stats.no_token == 0
    assert stats.heartbeats > 0
    times = sorted(Passage.objects.values_list("event_time", flat=True))
    median = times[len(times) // 2]
    assert before - dt.timedelta(seconds=5) <= median <= after + dt.timedelta(seconds=5)
    # a skewed door is minutes off; nothing else is
    assert all(abs(t - median) < dt.timedelta(minutes=20) for t in times)
    # a second delivery of a batch (a retry after a lost reply) stores nothing new
    path, body = next(c for c in transport.calls if c[0].endswith("/bulk"))
    token = park[json.loads(body.splitlines()[0])["device"]]
    status, reply = transport(path, token, body, "application/x-ndjson")
    assert status == 200 and reply["stored"] == 0 and reply["duplicates"] > 0
    assert Passage.objects.count() == len(distinct)


def test_a_lost_reply_is_retried_without_duplicates(park):
    from anyuan.events.models import Passage

    inner = Transport()
    lost = {"n": 0}

    def flaky(path, token, body, content_type):
        answer = inner(path, token, body, content_type)
        if path.endswith("/bulk") and lost["n"] < 3:
            lost["n"] += 1
            raise ConnectionResetError("reply lost")  # stored, but the sender cannot know
        return answer

    sender = live(park, flaky, minutes=30)
    sender.backoff_cap = 0.05
    stats = sender.run()
    assert lost["n"] == 3 and stats.retries == 3
    distinct = set(sent_ids(inner.calls))
    assert Passage.objects.count() == len(distinct)
    # the lost batches came back as duplicates: nothing stored twice, nothing missing
    assert stats.stored + stats.duplicates == stats.sent
    assert stats.stored < len(distinct)


def test_refused_items_are_counted_not_retried(park):
    from anyuan.events.models import Passage

    serials = sorted(park)
    # every device gets the token of another: each item names the wrong device
    swapped = {s: park[serials[(i + 1) % len(serials)]] for i, s in enumerate(serials)}
    transport = Transport()
    stats = live(swapped, transport, minutes=20).run()
    bulk = [c for c in transport.calls if c[0].endswith("/bulk")]
    assert bulk and stats.refused == stats.sent > 0
    assert len(sent_ids(bulk)) == stats.sent  # each item sent once: no retries
    assert stats.stored == 0 and Passage.objects.count() == 0


def test_the_command_explains_what_is_missing(tmp_path):
    with pytest.raises(CommandError, match="needs --tokens"):
        call_command("simulate", live="http://127.0.0.1:9")
    with pytest.raises(CommandError, match="no tokens file"):
        call_command("simulate", live="http://127.0.0.1:9", tokens=str(tmp_path / "none.json"))
    tokens = tmp_path / "t.json"
    tokens.write_text('{"X": "ayd_x"}')
    with pytest.raises(CommandError, match="not an http"):
        call_command("simulate", live="ftp://127.0.0.1", tokens=str(tokens))
    with pytest.raises(CommandError, match="does not answer"):
        call_command("simulate", live="http://127.0.0.1:9", tokens=str(tokens), wait=0)
