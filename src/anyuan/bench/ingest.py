"""Device ingestion over HTTP: single events and bulk batches through the lean ASGI route.

The benchmark migrates a fresh SQLite database in a new directory under ``var/bench``
(``ANYUAN_VAR`` points there; the configured database is never touched) — or, with
``--database-url``, a PostgreSQL database made for the benchmark — creates a
station, a park, a zone and ``--devices`` gate devices with tokens, and starts uvicorn
serving ``anyuan.events.asgi_ingest:application`` on a free port of 127.0.0.1. A client
in this process (asyncio, keep-alive HTTP/1.1 connections, loopback only) then sends:

1. single passages (one JSON object per request) over ``--connections`` connections for
   ``--seconds``, every ``--dup-every``-th request a repeated delivery of an earlier event;
2. ``--bulk-requests`` bulk requests of ``--bulk-batch`` passages (JSON arrays).

Afterwards it counts the log: every event answered "stored" or "duplicate" must be in the
database exactly once (``lost`` and ``stored_twice`` must be 0).

Figures: ``single_rps``, ``single_p50_ms``, ``single_p95_ms``, ``single_p99_ms``,
``bulk_events_per_s``, ``bulk_batch``, ``bulk_p50_ms``, ``stored``, ``duplicates_sent``,
``duplicates_answered``, ``refused``, ``errors``, ``lost``, ``stored_twice``,
``server_workers``, ``group_commit``.
"""

import asyncio
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER_APPS = {
    # the deployment: ingestion on the lean route, everything else to Django
    "lean": "anyuan.events.asgi_ingest:application",
    # for comparison: the same endpoints through Django and Ninja under ASGI
    "django": "anyuan.events.asgi_ingest:django_application",
}
PATH_SINGLE = b"/api/v1/events/ingest/passages"
PATH_BULK = b"/api/v1/events/ingest/passages/bulk"


def add_arguments(parser):
    parser.add_argument("--seconds", type=float, default=10, help="length of the single phase")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--devices", type=int, default=32, help="devices sending")
    parser.add_argument("--dup-every", type=int, default=10, help="every Nth request repeats")
    parser.add_argument("--bulk-batch", type=int, default=1000, help="passages per bulk request")
    parser.add_argument("--bulk-requests", type=int, default=40, help="bulk requests to send")
    parser.add_argument("--bulk-connections", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--route", choices=list(SERVER_APPS), default="lean", help="which route serves ingestion"
    )
    parser.add_argument(
        "--no-group-commit", action="store_true", help="one transaction per request"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database directory")
    parser.add_argument(
        "--database-url",
        help="benchmark on this PostgreSQL database instead of a fresh SQLite file; it is "
        "migrated and written to, so give one made for the benchmark",
    )


def run(options) -> dict:
    from django.conf import settings

    seconds = float(options.get("seconds") or 10)
    connections = int(options.get("connections") or 32)
    n_devices = int(options.get("devices") or 32)
    dup_every = int(options.get("dup_every") or 10)
    batch = int(options.get("bulk_batch") or 1000)
    bulk_requests = int(
        options.get("bulk_requests") if options.get("bulk_requests") is not None else 40
    )
    bulk_connections = int(options.get("bulk_connections") or 2)
    workers = int(options.get("workers") or 1)
    group = not options.get("no_group_commit")
    route = options.get("route") or "lean"
    if route not in SERVER_APPS:
        raise ValueError(f"--route must be one of {', '.join(SERVER_APPS)}")
    if not (0 < seconds <= 600):
        raise ValueError("--seconds must be between 0 and 600")
    if not (1 <= connections <= 1000 and 1 <= n_devices <= 10_000 and 1 <= workers <= 16):
        raise ValueError("--connections 1..1000, --devices 1..10000, --workers 1..16")
    if not (1 <= batch <= 10_000) or not (0 <= bulk_requests <= 10_000) or dup_every < 2:
        raise ValueError("--bulk-batch 1..10000, --bulk-requests 0..10000, --dup-every >= 2")

    base = Path(settings.VAR_DIR) / "bench"
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ingest-", dir=base))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ANYUAN_DATA_KEY")}
    database_url = options.get("database_url")
    if database_url:
        env["DATABASE_URL"] = database_url
    tag = os.urandom(3).hex().upper()
    env.update(
        ANYUAN_VAR=str(tmp),
        DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "anyuan.settings"),
        ANYUAN_INGEST_GROUP_COMMIT="1" if group else "0",
    )
    server = None
    try:
        _child(env, "migrate")
        tokens = json.loads(_child(env, "setup", str(n_devices), tag))
        port = _free_port()
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "uvicorn", SERVER_APPS[route], "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers), "--no-access-log",
             "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        _wait_for(port, server)
        figures = asyncio.run(
            _load(port, tokens, tag, seconds, connections, dup_every, batch, bulk_requests,
                  bulk_connections)
        )  # fmt: skip
        counts = json.loads(_child(env, "count", tag))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        if not options.get("keep"):
            shutil.rmtree(tmp, ignore_errors=True)

    accepted = figures.pop("_accepted")
    if not accepted:
        raise ValueError(
            f"nothing was accepted ({figures['errors']} errors): is the events router "
            "mounted at /api/v1/events?"
        )
    stored_ids = set(counts["ids"])
    figures["lost"] = len(accepted - stored_ids)
    figures["stored_twice"] = counts["rows"] - counts["distinct"]
    figures["rows_in_log"] = counts["rows"]
    figures["unexpected_rows"] = len(stored_ids - accepted)
    figures.update(
        route=route,
        server_workers=workers,
        group_commit=group,
        connections=connections,
        devices=n_devices,
        database="postgresql" if database_url else "sqlite",
        database_dir=str(tmp) if options.get("keep") else None,
        cpus=os.cpu_count(),
    )
    return figures


# --- the server side, in child processes ------------------------------------------------------


def _child(env, *args) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "anyuan.bench.ingest", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ValueError(f"benchmark step {args[0]} failed:\n{done.stderr[-4000:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ValueError(f"the server stopped:\n{server.stderr.read().decode()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ValueError("the server did not start in time")


def _setup(n_devices: int, tag: str) -> list[str]:
    from anyuan.registry import models as m

    station = m.Station.objects.create(code=f"BENCH-{tag}", name=f"基准派出所 {tag}")
    park = m.Park.objects.create(station=station, name="基准园区")
    zone = m.Zone.objects.create(park=park, name="园区大门", code="GATE", ring="park", kind="gate")
    tokens = []
    for i in range(n_devices):
        device = m.Device(
            zone=zone,
            name=f"闸机{i:03d}",
            kind="gate",
            serial=f"BENCH-{tag}-{i:04d}",
            direction="in",
        )
        tokens.append(device.new_token())
        device.save()
    return tokens


def _count(tag: str) -> dict:
    from django.db.models import Count

    from anyuan.events.models import Passage

    mine = Passage.objects.filter(device__serial__startswith=f"BENCH-{tag}-")
    ids = list(mine.values_list("device__serial", "device_event_id"))
    distinct = mine.values("device", "device_event_id").annotate(n=Count("id")).count()
    return {"rows": len(ids), "distinct": distinct, "ids": [f"{s}/{e}" for s, e in ids]}


# --- the client ---------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough of the protocol for this server."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, path: bytes, token: str, body: bytes, content_type=b"application/json"):
        head = (
            b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n"
            b"Content-Type: " + content_type + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        self.writer.write(head + body)
        await self.writer.drain()
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _sep, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        content = await self.reader.readexactly(length)
        try:
            return status, json.loads(content)
        except ValueError:
            return status, {}

    def close(self):
        if self.writer is not None:
            self.writer.close()


def _passage(event_id: str, when: dt.datetime) -> dict:
    return {
        "event_id": event_id,
        "event_time": when.isoformat(timespec="milliseconds"),
        "method": "card",
        "credential": f"C{event_id[-6:]}",
        "confidence": 0.95,
    }


async def _load(
    port, tokens, tag, seconds, connections, dup_every, batch, bulk_requests, bulk_conns
):
    accepted: set[str] = set()
    serial = {t: f"BENCH-{tag}-{i:04d}" for i, t in enumerate(tokens)}
    stats = {"stored": 0, "duplicates_sent": 0, "duplicates_answered": 0, "refused": 0, "errors": 0}
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def single_worker(w: int):
        conn = Connection(port)
        await conn.open()
        n = 0
        sent: list[tuple[str, str, dt.datetime]] = []
        try:
            while time.perf_counter() < deadline:
                token = tokens[(w + n * connections) % len(tokens)]
                if sent and n % dup_every == dup_every - 1:
                    token, event_id, when = sent[len(sent) // 2]
                    stats["duplicates_sent"] += 1
                else:
                    event_id, when = f"S{w}-{n}", dt.datetime.now(dt.UTC)
                    sent.append((token, event_id, when))
                body = json.dumps(_passage(event_id, when)).encode()
                started = time.perf_counter()
                status, answer = await conn.post(PATH_SINGLE, token, body)
                latencies.append(time.perf_counter() - started)
                _tally(stats, accepted, serial[token], status, answer, event_id)
                n += 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(single_worker(w) for w in range(connections)))
    single_s = time.perf_counter() - started

    bulk_latencies: list[float] = []
    bulk_events = 0
    queue = list(range(bulk_requests))

    async def bulk_worker(w: int):
        nonlocal bulk_events
        conn = Connection(port)
        await conn.open()
        try:
            while queue:
                r = queue.pop()
                token = tokens[r % len(tokens)]
                now = dt.datetime.now(dt.UTC)
                items = [
                    _passage(f"B{r}-{i}", now - dt.timedelta(milliseconds=batch - i))
                    for i in range(batch)
                ]
                body = json.dumps(items).encode()
                t0 = time.perf_counter()
                status, answer = await conn.post(PATH_BULK, token, body)
                bulk_latencies.append(time.perf_counter() - t0)
                if status != 200:
                    stats["errors"] += 1
                    continue
                for result in answer["results"]:
                    _tally(stats, accepted, serial[token], 200, result, result.get("event_id"))
                bulk_events += batch
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(bulk_worker(w) for w in range(bulk_conns)))
    bulk_s = time.perf_counter() - started

    latencies.sort()
    bulk_latencies.sort()
    return {
        "single_requests": len(latencies),
        "single_s": round(single_s, 2),
        "single_rps": round(len(latencies) / single_s),
        "single_p50_ms": _ms(latencies, 0.50),
        "single_p95_ms": _ms(latencies, 0.95),
        "single_p99_ms": _ms(latencies, 0.99),
        "bulk_batch": batch,
        "bulk_requests": len(bulk_latencies),
        "bulk_events_per_s": round(bulk_events / bulk_s) if bulk_s and bulk_events else 0,
        "bulk_p50_ms": _ms(bulk_latencies, 0.50),
        **stats,
        "_accepted": accepted,
    }


def _tally(stats, accepted, serial, status, answer, event_id):
    state = answer.get("status")
    if status in (200, 201) and state in ("stored", "duplicate"):
        accepted.add(f"{serial}/{event_id}")
        stats["stored" if state == "stored" else "duplicates_answered"] += 1
    elif state == "refused":
        stats["refused"] += 1
    else:
        stats["errors"] += 1


def _ms(values, q) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2)


if __name__ == "__main__":
    import django

    step = sys.argv[1]
    if step == "migrate":
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
    else:
        django.setup()
        if step == "setup":
            print(json.dumps(_setup(int(sys.argv[2]), sys.argv[3])))
        elif step == "count":
            print(json.dumps(_count(sys.argv[2])))
