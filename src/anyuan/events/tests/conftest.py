"""Fixtures for the event core: devices with tokens in the shared ``world``, and the two
ways a device reaches ingestion — the Ninja endpoints (through Django) and the lean ASGI
route (driven in-process by a minimal ASGI harness)."""

import asyncio
import datetime as dt
import json
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client
from django.utils import timezone

from anyuan.events import actions

BASE = "/api/v1/events"
JSON = "application/json"
NDJSON = "application/x-ndjson"


@pytest.fixture(autouse=True)
def events_urls(settings):
    settings.ROOT_URLCONF = "anyuan.events.tests.urls"


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def now() -> dt.datetime:
    return timezone.now()


@pytest.fixture
def devices(world):
    """Tokens for the world's gate devices: own (direction in), neighbour, foreign, and
    a two-way device in the own zone."""
    from anyuan.events.models import DeviceAlarm, Passage
    from anyuan.registry.models import Device

    # the tests count what they send: start from an empty log whatever the world holds
    Passage.objects.all().delete()
    DeviceAlarm.objects.all().delete()

    def with_token(device):
        token = device.new_token()
        device.save()
        return SimpleNamespace(device=device, token=token, serial=device.serial)

    both = Device.objects.create(
        zone=world.own.zone, name="OWN 双向闸机", kind="gate", serial="OWN-BOTH", direction="both"
    )
    return SimpleNamespace(
        own=with_token(world.own.device),
        neighbour=with_token(world.neighbour.device),
        foreign=with_token(world.foreign.device),
        both=with_token(both),
    )


def passage(event_id, when=None, **extra) -> dict:
    item = {
        "event_id": event_id,
        "event_time": iso(when or now()),
        "method": "card",
        "credential": "C-0001",
        "confidence": 0.97,
    }
    item.update(extra)
    return item


class Answer(SimpleNamespace):
    """status and parsed JSON of a reply."""


def encode(body, content_type):
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if content_type == NDJSON:
        return "\n".join(json.dumps(x, ensure_ascii=False) for x in body).encode()
    return json.dumps(body, ensure_ascii=False).encode()


def via_ninja(path, body, token=None, content_type=JSON, headers=None) -> Answer:
    client = Client(raise_request_exception=False)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response = client.post(
        BASE + path, encode(body, content_type), content_type=content_type, **extra
    )
    return Answer(status=response.status_code, body=response.json(), raw=response)


async def _inline(job):
    """Commit in the test's own thread (its database transaction)."""
    return (await sync_to_async(actions.commit_or_busy)([job]))[0]


async def call_asgi(app, method, path, body=b"", headers=(), chunks=None):
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    parts = list(chunks) if chunks is not None else [body]
    messages = []

    async def receive():
        if parts:
            part = parts.pop(0)
            return {"type": "http.request", "body": part, "more_body": bool(parts)}
        await asyncio.Event().wait()  # the client stays connected until the reply

    async def send(message):
        messages.append(message)

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), content


def lean_app():
    from anyuan.events.asgi_ingest import Dispatcher, IngestApp, django_application

    return Dispatcher(IngestApp(_inline), django_application)


def via_lean(path, body, token=None, content_type=JSON, headers=None, chunks=None) -> Answer:
    hdrs = [("content-type", content_type)]
    if token is not None:
        hdrs.append(("authorization", f"Bearer {token}"))
    for k, v in (headers or {}).items():
        hdrs.append((k, v))
    data = encode(body, content_type)
    if chunks is None:
        hdrs.append(("content-length", str(len(data))))
    status, _headers, content = async_to_sync(call_asgi)(
        lean_app(), "POST", BASE + path, data, hdrs, chunks=chunks
    )
    return Answer(status=status, body=json.loads(content), raw=content)


ROUTES = {"ninja": via_ninja, "lean": via_lean}


@pytest.fixture(params=list(ROUTES))
def send(request):
    """Send a request to ingestion, once through each route."""
    return ROUTES[request.param]
