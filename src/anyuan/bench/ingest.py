"""A simulated district day through the HTTP ingestion API, all rules on, on SQLite.

Targets (2 cores): bulk >= 50,000 events/s; single >= 3,000 events/s; alert p99 <= 500 ms.

Setup, in a child process whose ``ANYUAN_VAR`` is a new directory under ``var/bench`` (the
configured database is never touched): ``anyuan simulate --scale district --days 2 --seed
1`` from yesterday, ``migrate``, ``anyuan import all sim/registry``, ``anyuan
device_tokens``, and a police administrator of the simulated station with an API token for
the live push. A copy of that database is kept for the raw-insert limit. Then uvicorn
serves :mod:`anyuan.bench.asgi` (the real application plus a no-op endpoint) with one
worker (``--workers``; started as ``anyuan serve`` starts it), and ``anyuan process --poll 0.05`` (presences and every alert rule) tails the log
in another child.

The day is the simulated passages received in the 24 hours up to the start of the run,
with their own times: every event time is within minutes of its received time and of the
clock, the time of day is the simulated one (shift changes, nights), and the registry's
dates (visitors' days, authorisations) match. Each goes with its own device's serial and
token, the run's tag in its event id (as ``simulate --live``). The time-based rules (stays
without exit, overstaying vehicles) judge open stays against the clock, so they run once,
when the whole day is in (``time_rules_check_s``), not while its earlier hours are still
being replayed; every other rule runs on every batch.

The load client runs in this process (asyncio, keep-alive HTTP/1.1, loopback); every body
is encoded before the phase that sends it:

1. noop — ``POST /bench/noop`` over ``--connections`` connections for ``--noop-seconds``:
   the server and client alone (``noop_requests_per_s``);
2. single — the day from its start, one passage per request, over ``--connections``
   connections for ``--seconds``, in arrival order; a device never has two requests in
   flight, so the requests in flight are from distinct devices (``single_events_per_s``
   and latencies). Alert probes go meanwhile on one more connection (the latency under
   load);
3. bulk — the rest of the day uploaded in bulk requests. ``--bulk-via platform``
   (default): the setup registers one platform per park (its access-control and video
   platform, ``kind=platform``) with every device of the park under it, and each
   platform uploads its devices' events in arrival order, ``--bulk-batch`` (10,000) a
   request, the platforms taking turns (the chunk holding the earliest event first),
   never two requests of one platform at once: the largest bodies, the log in time order
   per park. ``--bulk-via device``: a district of devices uploading what they buffered,
   time slices of ``--bulk-window`` seconds of the stream (default 900: every device
   sends its last 15 minutes, 13 passages a request on average), slice after slice; in
   a slice each device's events go as one JSON array (a token names one device: a
   request cannot hold another device's events), up to ``--bulk-batch`` a request,
   over ``--bulk-connections`` connections (default 64), never two requests of one
   device at once (``bulk_events_per_s``). The log then holds the day in time order
   across devices, give or take a slice, as the processor sees it in production.
   ``--bulk-window 0`` sends each device's whole rest at once instead (a device
   emptying a day's buffer: the largest bodies, 140 passages on average, but the log
   ordered device by device — an evening's exit before a later-arriving morning
   entry, so thousands of false double entries and the alerts they raise);
4. catch-up — until the processor has processed the whole log. How far it had fallen
   behind when the bulk phase ended is reported, not hidden:
   ``processor_backlog_after_bulk`` passages, ``processor_lag_after_bulk_s`` seconds
   since the first of them was received, ``processor_catchup_s`` to clear them;
5. alert latency — ``--probes`` unregistered faces at a park gate, ``--probe-rate`` a
   second, each a new credential (a new ``stranger`` alert, not a repeat), with ingestion
   otherwise idle; the time from sending to the alert's frame on the live push
   (``GET /live/events``, Server-Sent Events), matched by the passage id;
6. raw — the same passage rows (read back from the log, same columns) inserted straight
   into the kept copy by ``executemany``, ``--raw-chunk`` rows per transaction.

Correctness: every event answered stored or duplicate is in the log exactly once
(``lost`` and ``stored_twice`` must be 0); refused items are counted by reason.
``cpu_cores`` gives, per phase, the CPU used by the server, the processor and the client.
"""

import asyncio
import collections
import contextlib
import datetime as dt
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from anyuan.bench import child_env, run_child

MODULE = "anyuan.bench.ingest"  # this module, run as the setup and check steps
PATH_SINGLE = b"/api/v1/events/ingest/passages"
PATH_BULK = b"/api/v1/events/ingest/passages/bulk"
PATH_NOOP = b"/bench/noop"
PATH_LIVE = "/live/events"
SERVER_APP = "anyuan.bench.asgi:application"

# figure → (comparison, target): the issue's targets on the project's 2-core machine
TARGETS = {
    "bulk_events_per_s": (">=", 50_000),
    "single_events_per_s": (">=", 3_000),
    "alert_latency_p99_ms": ("<=", 500),
}
TABLE = (
    "bulk_events_per_s",
    "single_events_per_s",
    "single_p50_ms",
    "single_p99_ms",
    "alert_latency_p50_ms",
    "alert_latency_p99_ms",
    "alert_latency_loaded_p50_ms",
    "alert_latency_loaded_p99_ms",
    "raw_insert_rows_per_s",
    "noop_requests_per_s",
    "processor_lag_after_bulk_s",
    "processor_catchup_s",
    "events",
    "lost",
    "stored_twice",
    "bulk_order",
    "database",
)
PASSAGE_COLUMNS = (
    "device_id",
    "zone_id",
    "device_event_id",
    "event_time",
    "received_time",
    "direction",
    "method",
    "credential",
    "confidence",
    "snapshot",
)


def add_arguments(parser):
    from anyuan.simulator.scales import SCALES

    parser.add_argument("--scale", choices=list(SCALES), default="district")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10, help="length of the single phase")
    parser.add_argument("--noop-seconds", type=float, default=5, help="length of the noop phase")
    parser.add_argument("--connections", type=int, default=64, help="single and noop phases")
    parser.add_argument(
        "--single-share",
        type=float,
        default=0.5,
        help="at most this share of the day goes in single requests",
    )
    parser.add_argument(
        "--bulk-batch", type=int, default=10_000, help="passages per bulk request, at most"
    )
    parser.add_argument("--bulk-connections", type=int, default=64)
    parser.add_argument(
        "--bulk-window",
        type=int,
        default=900,
        help="seconds of the stream per slice of bulk requests (0: each device's whole rest)",
    )
    parser.add_argument(
        "--bulk-via",
        choices=("platform", "device"),
        default="platform",
        help="bulk from each park's platform (default) or from each device with its own token",
    )
    parser.add_argument("--probes", type=int, default=100, help="alert probes, ingestion idle")
    parser.add_argument("--probe-rate", type=float, default=10, help="probes a second")
    parser.add_argument(
        "--no-loaded-probes", action="store_true", help="no probes during the single phase"
    )
    parser.add_argument("--raw-chunk", type=int, default=10_000, help="rows per transaction")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--no-group-commit", action="store_true", help="one transaction per request"
    )
    parser.add_argument(
        "--wal-checkpoint",
        choices=("background", "auto"),
        default="background",
        help="the ingestion's WAL checkpoint: a background thread, or SQLite's automatic one",
    )
    parser.add_argument(
        "--no-processor", action="store_true", help="for analysis: no processor, no rules"
    )
    parser.add_argument(
        "--catchup-timeout", type=float, default=600, help="seconds to wait for the processor"
    )
    parser.add_argument(
        "--live-wait", type=float, default=10, help="seconds to wait for the last alert frames"
    )
    parser.add_argument("--dir", help="make the benchmark directory here (default var/bench)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark directory")


@dataclass
class Config:
    scale: str = "district"
    seed: int = 1
    seconds: float = 10.0
    noop_seconds: float = 5.0
    connections: int = 64
    single_share: float = 0.5
    bulk_batch: int = 10_000
    bulk_connections: int = 64
    bulk_window: int = 900
    bulk_via: str = "platform"
    probes: int = 100
    probe_rate: float = 10.0
    loaded_probes: bool = True
    raw_chunk: int = 10_000
    workers: int = 1
    group: bool = True
    wal_checkpoint: str = "background"
    processor: bool = True
    catchup_timeout: float = 600.0
    live_wait: float = 10.0
    keep: bool = False

    @classmethod
    def from_options(cls, o: dict) -> "Config":
        c = cls()
        for name in (
            "scale", "seed", "seconds", "noop_seconds", "connections", "single_share",
            "bulk_batch", "bulk_connections", "bulk_window", "probes", "probe_rate", "raw_chunk", "workers",
            "catchup_timeout", "live_wait",
        ):  # fmt: skip
            if o.get(name) is not None:
                setattr(c, name, type(getattr(c, name))(o[name]))
        c.loaded_probes = not o.get("no_loaded_probes")
        c.group = not o.get("no_group_commit")
        c.wal_checkpoint = o.get("wal_checkpoint") or "background"
        c.bulk_via = o.get("bulk_via") or "platform"
        if c.bulk_via not in ("platform", "device"):
            raise ValueError("--bulk-via platform or device")
        c.processor = not o.get("no_processor")
        c.keep = bool(o.get("keep"))
        if not (0 < c.seconds <= 600 and 0 < c.noop_seconds <= 600):
            raise ValueError("--seconds and --noop-seconds: more than 0, at most 600")
        if not (1 <= c.connections <= 1000 and 1 <= c.bulk_connections <= 64):
            raise ValueError("--connections 1..1000, --bulk-connections 1..64")
        if not (1 <= c.bulk_batch <= 10_000 and 1 <= c.workers <= 16):
            raise ValueError("--bulk-batch 1..10000 (the server's limit), --workers 1..16")
        if not (0 <= c.single_share <= 1 and 0 <= c.probes <= 100_000 and c.probe_rate > 0):
            raise ValueError("--single-share 0..1, --probes 0..100000, --probe-rate > 0")
        if c.seed < 0 or c.raw_chunk < 1 or c.bulk_window < 0:
            raise ValueError("--seed >= 0, --raw-chunk >= 1, --bulk-window >= 0")
        return c


def run(options) -> dict:
    from django.conf import settings
    from django.utils import timezone

    cfg = Config.from_options(options)
    start = timezone.localdate() - dt.timedelta(days=1)
    base = Path(options.get("dir") or Path(settings.VAR_DIR) / "bench")
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ingest-", dir=base))
    env = child_env(tmp)
    env.update(
        ANYUAN_INGEST_GROUP_COMMIT="1" if cfg.group else "0",
        ANYUAN_INGEST_WAL_CHECKPOINT=cfg.wal_checkpoint,
    )
    tag = format(int(time.time()), "x")
    children: list[subprocess.Popen] = []
    try:
        setup_started = time.perf_counter()
        info = json.loads(
            run_child(MODULE, env, "setup", cfg.scale, cfg.seed, start.isoformat(), tmp, tag)
        )
        db = Path(info["database"])
        raw_db = tmp / "raw.sqlite3"
        _copy_database(db, raw_db)
        tokens = json.loads((tmp / "tokens.json").read_text())
        stream = Stream.load(tmp / "sim", tokens, tag, until=time.time())
        setup_s = time.perf_counter() - setup_started

        port = _free_port()
        # as ``anyuan serve`` does: several workers get TCP_NODELAY on their connections
        serve = (
            "from anyuan.core.management.commands.serve import run; "
            f"run({SERVER_APP!r}, host='127.0.0.1', port={port}, workers={cfg.workers})"
        )
        server = _spawn(env, tmp / "server.log", "-c", serve)
        children.append(server)
        _wait_for(port, server, tmp / "server.log")
        if cfg.processor:
            # the time-based rules judge the log against the clock: they run once the whole
            # day is in (below), not while its earlier hours are still being replayed
            command = ("process", "--poll", "0.05", "--check-every", "86400")
            children.append(_spawn(env, tmp / "processor.log", "-m", "anyuan.cli", *command))
        log = Log(db, info["tables"], children[-1] if cfg.processor else None)
        cpu = Cpu({"server": server.pid, "processor": children[-1].pid if cfg.processor else None})
        figures = asyncio.run(_phases(cfg, port, stream, info, tokens, tag, log, cpu))
        _stop(children)
        children = []
        if cfg.processor:
            started = time.perf_counter()
            run_child(MODULE, env, "check")
            figures["time_rules_check_s"] = round(time.perf_counter() - started, 2)
        figures.update(_verify(db, info, stream, figures.pop("_accepted")))
        figures.update(_alert_counts(db, info))
        figures.update(_raw_insert(db, raw_db, info["tables"]["passage"], cfg.raw_chunk))
    except BaseException:
        for path in (tmp / "server.log", tmp / "processor.log"):
            if path.exists():
                print(f"--- {path.name} ---\n{path.read_text()[-3000:]}", file=sys.stderr)
        raise
    finally:
        _stop(children)
        if not cfg.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    figures.update(
        scale=cfg.scale,
        seed=cfg.seed,
        day_from=stream.first,
        day_until=stream.last,
        day_passages=len(stream),
        setup_s=round(setup_s, 1),
        connections=cfg.connections,
        bulk_connections=cfg.bulk_connections,
        server_workers=cfg.workers,
        group_commit=cfg.group,
        wal_checkpoint=cfg.wal_checkpoint,
        processor=cfg.processor,
        database="sqlite",
        database_dir=str(tmp) if cfg.keep else None,
        cpus=os.cpu_count(),
    )
    order = [k for k in TABLE if k in figures]
    figures = {k: figures[k] for k in order} | {k: v for k, v in figures.items() if k not in order}
    print_table(figures)
    return figures


def print_table(figures: dict, file=None) -> None:
    """The headline figures as a table (figure | value | target), on stderr."""
    rows = [("figure", "value", "target"), *table(figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    out = file or sys.stderr
    for i, row in enumerate(rows):
        print(
            "  ".join(
                (v.rjust(w) if c == 1 and i else v.ljust(w))
                for c, (v, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip(),
            file=out,
        )
        if i == 0:
            print("  ".join("-" * w for w in widths), file=out)


def table(figures: dict) -> list[tuple[str, str, str]]:
    """(figure, value, target) rows for the command's table."""
    rows = []
    for name in TABLE:
        value = figures.get(name)
        if isinstance(value, float):
            text = f"{value:,.1f}"
        elif isinstance(value, int) and not isinstance(value, bool):
            text = f"{value:,}"
        else:
            text = "—" if value is None else str(value)
        target = ""
        if name in TARGETS:
            op, goal = TARGETS[name]
            target = f"{op} {goal:,}"
            if value is not None:
                met = value >= goal if op == ">=" else value <= goal
                target += " met" if met else " NOT met"
        elif name in ("lost", "stored_twice"):
            target = "= 0 " + ("met" if value == 0 else "NOT met")
        rows.append((name, text, target))
    return rows


# --- the stream -----------------------------------------------------------------------------


@dataclass
class Stream:
    """The day's passages in arrival order, each already encoded as one JSON object."""

    serials: list[str]  # device index → serial
    tokens: list[str | None]  # device index → token
    dev: list[int]  # per passage: device index
    event_ids: list[str]
    received_ms: list[int]
    lines: list[bytes]
    usage: collections.Counter = field(default_factory=collections.Counter)
    first: str | None = None  # the received time of the first passage, ISO 8601
    last: str | None = None

    def __len__(self) -> int:
        return len(self.lines)

    @classmethod
    def load(cls, sim: Path, tokens: dict[str, str], tag: str, until: float) -> "Stream":
        """The passages the simulator made received in the 24 hours up to ``until`` (a
        Unix time), in arrival order: the platform gets the last day as it happened, every
        event time within minutes of its received time, and time-based rules (stays
        without exit, overstaying vehicles) judge it against the clock as in a live run."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        files = sorted((sim / "events").glob("passages-*.parquet"))
        if not files:
            raise ValueError(f"the simulator wrote no passages into {sim}")
        tables = []
        for path in files:
            table = pq.read_table(path)
            for name in ("device_serial", "direction", "method"):
                column = table.column(name).cast(pa.string())
                table = table.set_column(table.schema.get_field_index(name), name, column)
            tables.append(table)
        table = pa.concat_tables(tables)
        received_all = table.column("received_time").cast("int64")
        end_ms = int(until * 1000)
        keep = pc.and_(
            pc.greater(received_all, end_ms - 86_400_000), pc.less_equal(received_all, end_ms)
        )
        table = table.filter(keep)
        table = table.take(pc.sort_indices(table, [("received_time", "ascending")]))
        serial_col = table.column("device_serial").combine_chunks().dictionary_encode()
        serials = serial_col.dictionary.to_pylist()
        dev = serial_col.indices.to_numpy(zero_copy_only=False).tolist()
        ids = table.column("event_id").to_numpy().tolist()
        event_ms = table.column("event_time").cast("int64").to_numpy()
        times = np.datetime_as_string(event_ms.astype("datetime64[ms]"), unit="ms").tolist()
        received = table.column("received_time").cast("int64").to_numpy().tolist()
        directions = table.column("direction").to_pylist()
        methods = table.column("method").to_pylist()
        credentials = table.column("credential").to_pylist()
        confidence = np.round(table.column("confidence").to_numpy().astype(np.float64), 3)
        confidence = confidence.tolist()
        event_ids, lines = [], []
        for i in range(len(ids)):
            event_id = f"{tag}-{ids[i]}"
            event_ids.append(event_id)
            item = {
                "device": serials[dev[i]],
                "event_id": event_id,
                "event_time": times[i] + "+00:00",
                "direction": directions[i],
                "method": methods[i],
                "credential": credentials[i] or "",
                "confidence": confidence[i],
            }
            lines.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode())
        stream = cls(serials, [tokens.get(s) for s in serials], dev, event_ids, received, lines)
        stream.usage.update(stream.serials[d] for d in dev)
        if received:
            stream.first, stream.last = (
                dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")
                for ms in (received[0], received[-1])
            )
        return stream


# --- the phases -----------------------------------------------------------------------------


@dataclass
class Tally:
    accepted: set = field(default_factory=set)  # (serial, event id) answered stored/duplicate
    stored: int = 0
    duplicates: int = 0
    refused: collections.Counter = field(default_factory=collections.Counter)
    errors: collections.Counter = field(default_factory=collections.Counter)

    def item(self, serial: str, status: int, answer: dict, event_id: str) -> None:
        state = answer.get("status")
        if status in (200, 201) and state in ("stored", "duplicate"):
            self.accepted.add((serial, event_id))
            if state == "stored":
                self.stored += 1
            else:
                self.duplicates += 1
        elif state == "refused":
            self.refused[(answer.get("error") or {}).get("code") or str(status)] += 1
        else:
            self.errors[str(status) if status else "connection"] += 1

    def batch(self, serials: list[str], status: int, answer: dict, event_ids: list[str]) -> None:
        results = answer.get("results")
        if status not in (200, 422) or not isinstance(results, list):
            self.errors[str(status) if status else "connection"] += len(event_ids)
            return
        for result in results:
            index = result["index"]
            self.item(serials[index], 200, result, event_ids[index])


async def _phases(cfg: Config, port, stream: Stream, info, tokens, tag, log, cpu) -> dict:
    tally = Tally()
    out: dict = {"cpu_cores": {}}
    live = LivePush(port, info["api_token"])
    live.start()
    live.ready.wait(10)
    out["live_push"] = live.state()
    probe_serial = min(info["probe_devices"], key=lambda s: stream.usage.get(s, 0))
    probes = Probes(port, probe_serial, tokens[probe_serial], tag, tally)

    # 1. noop
    cpu.mark()
    out["noop_requests_per_s"], out["noop_requests"] = await _noop(
        port, cfg.connections, cfg.noop_seconds, stream
    )
    out["cpu_cores"]["noop"] = cpu.mark()
    # 2. single, with probes on one more connection
    limit = int(len(stream) * cfg.single_share)
    single_task = asyncio.create_task(_single(port, stream, cfg, limit, tally))
    loaded = []
    if cfg.loaded_probes and cfg.probes:
        loaded = await probes.send(
            "L", int(cfg.seconds * cfg.probe_rate), cfg.probe_rate, until=single_task
        )
    single = await single_task
    out["cpu_cores"]["single"] = cpu.mark()
    sent_single = single.pop("_sent")
    out.update(single)
    # 3. bulk: the rest of the day
    bulk_requests = _bulk_requests(stream, sent_single, cfg, tally, info.get("platforms"))
    cpu.mark()
    out.update(await _bulk(port, stream, bulk_requests, cfg, tally))
    out["cpu_cores"]["bulk"] = cpu.mark()
    # 4. the processor catches up
    out.update(await log.catch_up(cfg.catchup_timeout if cfg.processor else 0))
    out["cpu_cores"]["catch_up"] = cpu.mark()
    # 5. alert latency, ingestion idle
    idle = await probes.send("I", cfg.probes, cfg.probe_rate) if cfg.probes else []
    out["cpu_cores"]["probes"] = cpu.mark()
    matched = await _match(log, live, probe_serial, idle + loaded, cfg.live_wait)
    live.stop()
    for name, sent in (("", idle), ("_loaded", loaded)):
        latencies = sorted(matched[e] for e, _t in sent if e in matched)
        out[f"alert_latency{name}_p50_ms"] = _ms(latencies, 0.50)
        out[f"alert_latency{name}_p95_ms"] = _ms(latencies, 0.95)
        out[f"alert_latency{name}_p99_ms"] = _ms(latencies, 0.99)
        out[f"alert_latency{name}_max_ms"] = _ms(latencies, 1.0)
        out[f"probes{name}"] = len(sent)
        out[f"probes{name}_seen"] = len(latencies)
    out["live_push"] = live.state()
    out["live_frames"] = len(live.frames)
    out["live_reconnects"] = live.reconnects
    lag = log.lag()
    out["processor_backlog_end"] = lag["backlog"]
    out["events"] = sent_single + out["bulk_events"] + len(idle) + len(loaded)
    out.update(
        stored=tally.stored,
        duplicates=tally.duplicates,
        refused=sum(tally.refused.values()),
        refused_by_code=dict(tally.refused),
        errors=dict(tally.errors),
        probe_device=probe_serial,
    )
    out["_accepted"] = tally.accepted
    return out


async def _noop(port: int, connections: int, seconds: float, stream: Stream):
    body, token = stream.lines[0], stream.tokens[stream.dev[0]] or "x"
    count = 0
    deadline = time.perf_counter() + seconds

    async def worker():
        nonlocal count
        conn = await Connection.open(port)
        try:
            while time.perf_counter() < deadline:
                status, _answer = await conn.post(PATH_NOOP, token, body)
                if status == 204:
                    count += 1
                elif status not in (0, 503):
                    raise ValueError(f"the no-op endpoint answered {status}")
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return round(count / (time.perf_counter() - started)), count


async def _single(port: int, stream: Stream, cfg: Config, limit: int, tally: Tally) -> dict:
    position = 0
    locks: dict[int, asyncio.Lock] = {}
    latencies: list[float] = []
    deadline = time.perf_counter() + cfg.seconds

    async def worker():
        nonlocal position
        conn = await Connection.open(port)
        try:
            while time.perf_counter() < deadline and position < limit:
                i = position
                position += 1
                dev = stream.dev[i]
                token = stream.tokens[dev]
                if token is None:
                    tally.errors["no_token"] += 1
                    continue
                # a device's events in order, never two of its requests at once
                async with locks.setdefault(dev, asyncio.Lock()):
                    t0 = time.perf_counter()
                    status, answer = await conn.post(PATH_SINGLE, token, stream.lines[i])
                    latencies.append(time.perf_counter() - t0)
                tally.item(stream.serials[dev], status, answer, stream.event_ids[i])
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(cfg.connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "single_events_per_s": round(len(latencies) / elapsed) if latencies else 0,
        "single_p50_ms": _ms(latencies, 0.50),
        "single_p95_ms": _ms(latencies, 0.95),
        "single_p99_ms": _ms(latencies, 0.99),
        "single_events": len(latencies),
        "single_s": round(elapsed, 2),
        "_sent": position,
    }


def _bulk_requests(stream: Stream, first: int, cfg: Config, tally: Tally, platforms=None) -> list:
    """The rest of the day as bulk requests, in sending order, each ``(sender, token,
    body, serials, event ids)``.

    ``bulk_via="device"``: per window of ``bulk_window`` seconds of the stream (the whole
    rest when 0), each device's events in arrival order with its own token, in chunks of
    at most ``bulk_batch``; the request holding the earliest event first.
    ``bulk_via="platform"``: each park's platform uploads the events of its devices in
    arrival order, in chunks of ``bulk_batch``, the chunks of the platforms taking turns
    (the earliest first)."""
    if cfg.bulk_via == "platform":
        return _platform_requests(stream, first, cfg, tally, platforms or {})
    requests = []
    windows: dict[int, dict[int, list[int]]] = {}
    start_ms = stream.received_ms[first] if first < len(stream) else 0
    width = cfg.bulk_window * 1000
    for i in range(first, len(stream)):
        window = (stream.received_ms[i] - start_ms) // width if width else 0
        windows.setdefault(window, {}).setdefault(stream.dev[i], []).append(i)
    for window in sorted(windows):
        for dev, indices in windows[window].items():
            if stream.tokens[dev] is None:
                tally.errors["no_token"] += len(indices)
                continue
            for lo in range(0, len(indices), cfg.bulk_batch):
                chunk = indices[lo : lo + cfg.bulk_batch]
                requests.append(_request(stream, ("device", dev), stream.tokens[dev], chunk))
    return requests


def _request(stream: Stream, sender, token: str, chunk: list[int]) -> tuple:
    body = b"[" + b",".join(stream.lines[i] for i in chunk) + b"]"
    serials = [stream.serials[stream.dev[i]] for i in chunk]
    return (sender, token, body, serials, [stream.event_ids[i] for i in chunk])


def _platform_requests(stream, first, cfg, tally, platforms: dict) -> list:
    owner = {serial: name for name, p in platforms.items() for serial in p["devices"]}
    per_platform: dict[str, list[int]] = {}
    for i in range(first, len(stream)):
        name = owner.get(stream.serials[stream.dev[i]])
        if name is None:
            tally.errors["no_platform"] += 1
            continue
        per_platform.setdefault(name, []).append(i)
    chunks = [
        (indices[lo], name, indices[lo : lo + cfg.bulk_batch])
        for name, indices in per_platform.items()
        for lo in range(0, len(indices), cfg.bulk_batch)
    ]
    chunks.sort()  # the chunk holding the earliest event first
    return [
        _request(stream, ("platform", name), platforms[name]["token"], chunk)
        for _first, name, chunk in chunks
    ]


async def _bulk(port: int, stream: Stream, requests: list, cfg: Config, tally: Tally) -> dict:
    sizes = [len(r[4]) for r in requests]
    senders = collections.Counter(f"{r[0][0]}:{r[0][1]}" for r in requests)
    requests = requests[::-1]  # popped from the end
    latencies: list[float] = []
    sent = 0

    locks: dict[int, asyncio.Lock] = {}

    async def worker():
        nonlocal sent
        conn = await Connection.open(port)
        try:
            while requests:
                sender, token, body, serials, event_ids = requests.pop()
                # a sender's requests in order, never two at once (as in the single phase)
                async with locks.setdefault(sender, asyncio.Lock()):
                    t0 = time.perf_counter()
                    status, answer = await conn.post(PATH_BULK, token, body)
                    latencies.append(time.perf_counter() - t0)
                tally.batch(serials, status, answer, event_ids)
                sent += len(event_ids)
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(cfg.bulk_connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "bulk_events_per_s": round(sent / elapsed) if sent else 0,
        "bulk_events": sent,
        "bulk_requests": len(sizes),
        "bulk_batch": cfg.bulk_batch,
        "bulk_window_s": cfg.bulk_window,
        "bulk_via": cfg.bulk_via,
        "bulk_order": (
            "each park's platform in arrival order, the platforms taking turns"
            if cfg.bulk_via == "platform"
            else f"time slices of {cfg.bulk_window} s across devices"
            if cfg.bulk_window
            else "device by device (each device's whole rest at once)"
        ),
        "bulk_requests_by_sender": dict(senders.most_common(5)),
        "bulk_mean_items": round(sum(sizes) / len(sizes), 1) if sizes else 0,
        "bulk_max_items": max(sizes, default=0),
        "bulk_p50_ms": _ms(latencies, 0.50),
        "bulk_s": round(elapsed, 2),
    }


class Probes:
    """Passages that must raise a new alert: an unregistered face at a park gate."""

    def __init__(self, port, serial, token, tag, tally):
        self.port, self.serial, self.token, self.tag, self.tally = port, serial, token, tag, tally

    async def send(self, series: str, count: int, rate: float, until=None) -> list:
        """``[(event id, time sent)]``; stops early when the task ``until`` is done."""
        sent = []
        conn = await Connection.open(self.port)
        try:
            started = time.perf_counter()
            for k in range(count):
                if until is not None and until.done():
                    break
                event_id = f"{self.tag}-probe-{series}{k}"
                now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
                body = json.dumps(
                    {
                        "device": self.serial,
                        "event_id": event_id,
                        "event_time": now,
                        "direction": "in",
                        "method": "face",
                        "credential": f"BENCH{self.tag}{series}{k}",
                        "confidence": 0.41,
                    }
                ).encode()
                t0 = time.perf_counter()
                status, answer = await conn.post(PATH_SINGLE, self.token, body)
                self.tally.item(self.serial, status, answer, event_id)
                sent.append((event_id, t0))
                delay = started + (k + 1) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
        finally:
            conn.close()
        return sent


async def _match(log, live, serial, sent, wait: float) -> dict[str, float]:
    """Event id → seconds from sending to the alert's frame, for the probes seen."""
    sent_at = dict(sent)
    deadline = time.perf_counter() + wait
    latencies: dict[str, float] = {}
    while True:
        log.check_processor()
        passages = log.passage_ids(serial, list(sent_at))  # event id → passage id
        seen = live.raised_by_passage()
        for event_id, passage in passages.items():
            if passage in seen:
                latencies[event_id] = seen[passage] - sent_at[event_id]
        if len(latencies) == len(sent_at) or time.perf_counter() > deadline or live.closed:
            return latencies
        await asyncio.sleep(0.2)


class Cpu:
    """CPU time of the server, the processor and this process (the client), in cores
    (CPU seconds per wall second) between two marks. Linux (``/proc``) only."""

    def __init__(self, pids: dict[str, int | None]):
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.last = self._read()

    def _proc(self, pid: int) -> float | None:
        total = 0.0
        try:
            pids = [pid]
            children = Path(f"/proc/{pid}/task/{pid}/children")
            if children.exists():
                pids += [int(p) for p in children.read_text().split()]
            for p in pids:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / self.tick
        except (OSError, ValueError, IndexError):
            return None
        return total

    def _read(self) -> dict:
        times = os.times()
        now = {name: self._proc(pid) for name, pid in self.pids.items()}
        now["client"] = times.user + times.system
        now["_wall"] = time.perf_counter()
        return now

    def mark(self) -> dict:
        now, last = self._read(), self.last
        self.last = now
        wall = now["_wall"] - last["_wall"]
        if wall < 0.5:
            return {}
        return {
            name: round((now[name] - last[name]) / wall, 2)
            for name in now
            if name != "_wall" and now[name] is not None and last.get(name) is not None
        }


# --- the live push ----------------------------------------------------------------------------


class LivePush(threading.Thread):
    """Reads ``GET /live/events`` (Server-Sent Events) and notes when each frame arrived.

    A stream that ends (the server drops a client that falls behind) is opened again with
    ``Last-Event-ID``, as a browser does; ``reconnects`` counts that."""

    def __init__(self, port: int, token: str):
        super().__init__(name="bench-live-push", daemon=True)
        self.port, self.token = port, token
        self.ready = threading.Event()
        self.frames: list[tuple[float, str, dict]] = []  # (arrival, event, data)
        self.status: int | None = None
        self.error: str | None = None
        self.closed = False
        self.reconnects = 0
        self.last_id: str | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._stopping = False

    def state(self) -> str:
        if self.status == 200:
            state = "ok" if not self.error else f"ok, then {self.error}"
            return state + (f" ({self.reconnects} reconnects)" if self.reconnects else "")
        if self.status is not None:
            return f"HTTP {self.status}"
        return self.error or "no answer"

    def run(self) -> None:
        try:
            while not self._stopping:
                if not self._read() or self._stopping:
                    return
                self.reconnects += 1
                time.sleep(0.2)
        except Exception as e:
            if not self._stopping:
                self.error = f"{type(e).__name__}: {e}"
        finally:
            self.closed = True
            self.ready.set()

    def _read(self) -> bool:
        """One connection; False when the endpoint refused it."""
        self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=None)
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        self._conn.request("GET", PATH_LIVE, headers=headers)
        response = self._conn.getresponse()
        self.status = response.status
        if response.status != 200:
            return False
        self.ready.set()
        event, data = "message", []
        while True:
            line = response.readline()
            if not line:
                return True
            line = line.rstrip(b"\r\n").decode("utf-8", "replace")
            if not line:
                if data:
                    self._frame(time.perf_counter(), event, "\n".join(data))
                event, data = "message", []
            elif not line.startswith(":"):
                name, _sep, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    event = value
                elif name == "data":
                    data.append(value)
                elif name == "id":
                    self.last_id = value

    def _frame(self, arrived: float, event: str, data: str) -> None:
        try:
            payload = json.loads(data)
        except ValueError:
            payload = {}
        self.frames.append((arrived, event, payload if isinstance(payload, dict) else {}))

    def raised_by_passage(self) -> dict[int, float]:
        """Passage id → arrival of the first frame raising an alert for it."""
        out: dict[int, float] = {}
        for arrived, _event, data in list(self.frames):
            if data.get("transition") != "raise":
                continue
            passage = data.get("passage")
            if passage is None and isinstance(data.get("detail"), dict):
                passage = data["detail"].get("passage")
            if isinstance(passage, int) and passage not in out:
                out[passage] = arrived
        return out

    def stop(self) -> None:
        self._stopping = True
        conn = self._conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        self.join(5)


# --- the log, read straight from the benchmark's SQLite file -----------------------------------


class Log:
    def __init__(self, db: Path, tables: dict, processor: subprocess.Popen | None = None):
        self.db, self.t = db, tables
        self.processor = processor  # the child tailing the log, if any

    def check_processor(self) -> None:
        """Stop the run when the processor has died (its log is printed): nothing would
        ever catch up."""
        if self.processor is not None and self.processor.poll() is not None:
            raise RuntimeError(f"the processor stopped (exit {self.processor.returncode})")

    def _query(self, sql: str, params=()) -> list:
        return _select(self.db, sql, params)

    def lag(self) -> dict:
        top = self._query(f"SELECT MAX(id) FROM {self.t['passage']}")[0][0] or 0  # noqa: S608
        rows = self._query(
            f"SELECT last_passage_id FROM {self.t['checkpoint']} WHERE name = 'presence'"  # noqa: S608
        )
        done = rows[0][0] if rows else 0
        return {"top": top, "done": done, "backlog": top - done}

    def lag_s(self, done: int) -> float | None:
        """Seconds since the first passage the processor has not processed yet was
        received (0 when it is caught up)."""
        rows = self._query(
            f"SELECT received_time FROM {self.t['passage']} WHERE id > ? ORDER BY id LIMIT 1",  # noqa: S608
            (done,),
        )
        if not rows:
            return 0.0
        received = dt.datetime.fromisoformat(rows[0][0]).replace(tzinfo=dt.UTC)
        return round((dt.datetime.now(dt.UTC) - received).total_seconds(), 2)

    async def catch_up(self, timeout: float) -> dict:
        started = time.perf_counter()
        first = self.lag()
        lag = self.lag_s(first["done"])
        now = first
        while now["backlog"] > 0 and time.perf_counter() - started < timeout:
            self.check_processor()
            await asyncio.sleep(0.1)
            now = self.lag()
        elapsed = time.perf_counter() - started
        processed = now["done"] - first["done"]
        return {
            "processor_backlog_after_bulk": first["backlog"],
            "processor_lag_after_bulk_s": lag,
            "processor_catchup_s": round(elapsed, 2) if timeout else None,
            "processor_catchup_passages_per_s": round(processed / elapsed)
            if processed and elapsed > 0.2
            else None,
            "processor_caught_up": now["backlog"] == 0,
        }

    def passage_ids(self, serial: str, event_ids: list[str]) -> dict[str, int]:
        if not event_ids:
            return {}
        rows = self._query(
            f"SELECT p.device_event_id, p.id FROM {self.t['passage']} p "  # noqa: S608
            f"JOIN {self.t['device']} d ON d.id = p.device_id "
            f"WHERE d.serial = ? AND p.device_event_id LIKE ?",
            (serial, "%-probe-%"),
        )
        wanted = set(event_ids)
        return {e: pk for e, pk in rows if e in wanted}


def _verify(db: Path, info: dict, stream: Stream, accepted: set) -> dict:
    t = info["tables"]
    rows = _select(
        db,
        f"SELECT d.serial, p.device_event_id FROM {t['passage']} p "  # noqa: S608
        f"JOIN {t['device']} d ON d.id = p.device_id",
    )
    keys = set(rows)
    return {
        "lost": len(accepted - keys),
        "stored_twice": len(rows) - len(keys),
        "unexpected_rows": len(keys - accepted),
        "rows_in_log": len(rows),
    }


def _alert_counts(db: Path, info: dict) -> dict:
    t = info["tables"]
    by_type = dict(_select(db, f"SELECT type, COUNT(*) FROM {t['alert']} GROUP BY type"))  # noqa: S608
    repeats = _select(db, f"SELECT COALESCE(SUM(repeat_count), 0) FROM {t['alert']}")[0][0]  # noqa: S608
    return {
        "alerts_raised": sum(by_type.values()),
        "alerts_by_type": dict(sorted(by_type.items())),
        "alert_occurrences": repeats,
    }


def _select(db: Path, sql: str, params=()) -> list:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _copy_database(src: Path, dst: Path) -> None:
    source, target = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def _raw_insert(db: Path, raw_db: Path, table: str, chunk: int) -> dict:
    """The same passage rows inserted straight into the copy made before the run."""
    names = ", ".join(PASSAGE_COLUMNS)
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(f"SELECT {names} FROM {table} ORDER BY id").fetchall()  # noqa: S608
    finally:
        conn.close()
    target = sqlite3.connect(raw_db, isolation_level=None)
    try:
        # the server's settings (anyuan.settings); Django turns foreign keys on too
        target.execute("PRAGMA journal_mode=WAL")
        target.execute("PRAGMA synchronous=NORMAL")
        target.execute("PRAGMA foreign_keys=ON")
        marks = ", ".join("?" * len(PASSAGE_COLUMNS))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
        started = time.perf_counter()
        for lo in range(0, len(rows), chunk):
            target.execute("BEGIN IMMEDIATE")
            target.executemany(sql, rows[lo : lo + chunk])
            target.execute("COMMIT")
        elapsed = time.perf_counter() - started
    finally:
        target.close()
    return {
        "raw_insert_rows_per_s": round(len(rows) / elapsed) if rows else 0,
        "raw_insert_rows": len(rows),
        "raw_insert_chunk": chunk,
    }


# --- the client -------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough of the protocol for this server.

    A request whose connection fails (closed, reset) answers status 0 and the next one
    opens a new connection: the event's fate is unknown, so it is not counted as accepted.
    """

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    @classmethod
    async def open(cls, port: int) -> "Connection":
        conn = cls(port)
        await conn._open()
        return conn

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port, limit=2**24
        )

    async def post(self, path: bytes, token: str, body: bytes) -> tuple[int, dict]:
        head = (
            b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        try:
            if self.writer is None:
                await self._open()
            self.writer.write(head + body)
            await self.writer.drain()
            header = await self.reader.readuntil(b"\r\n\r\n")
            status = int(header.split(b" ", 2)[1])
            length = 0
            for line in header.split(b"\r\n")[1:]:
                name, _sep, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            content = await self.reader.readexactly(length) if length else b""
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            self.close()
            return 0, {}
        if not content:
            return status, {}
        try:
            answer = json.loads(content)
        except ValueError:
            return status, {}
        return status, answer if isinstance(answer, dict) else {}

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _ms(values, q) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2)


# --- the child processes ----------------------------------------------------------------------


def _spawn(env, log_path: Path, *args) -> subprocess.Popen:
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            [sys.executable, *args], env=env, stdout=log_file, stderr=subprocess.STDOUT
        )


def _stop(children: list[subprocess.Popen]) -> None:
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in reversed(children):
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, server: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ValueError(f"the server stopped:\n{log_path.read_text()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ValueError("the server did not start in time")


def _setup(scale: str, seed: int, start: dt.date, out: Path, tag: str) -> dict:
    """In the child: the simulated day, a migrated database with its registry, device
    tokens (``out/tokens.json``) and an API token of the station's police administrator."""
    from django.conf import settings
    from django.core.management import call_command

    from anyuan.accounts.actions import issue_token
    from anyuan.accounts.models import User
    from anyuan.alerts.models import Alert
    from anyuan.core.roles import Role
    from anyuan.events.models import Passage, ProcessorCheckpoint
    from anyuan.registry.models import Device, Station
    from anyuan.simulator.run import simulate

    simulate(scale, 2, seed, out / "sim", start=start)
    call_command("migrate", verbosity=0, interactive=False)
    call_command("import", "all", str(out / "sim" / "registry"), verbosity=0)
    call_command("device_tokens", out=str(out / "tokens.json"), verbosity=0)
    platforms = _platforms()
    station = Station.objects.order_by("pk").first()
    user = User(username=f"bench-{tag}", role=Role.POLICE_ADMIN, station=station)
    user.set_unusable_password()
    user.save()
    _token, key = issue_token(user, user, "anyuan bench ingest: live push")
    gates = Device.objects.filter(
        kind=Device.Kind.GATE,
        direction="in",
        zone__is_transit=True,
        zone__ring="park",
        zone__park__station=station,
        active=True,
    ).order_by("serial")
    probe_devices = list(gates.values_list("serial", flat=True))
    if not probe_devices:
        raise SystemExit("no park gate with an entry lane to send alert probes to")
    return {
        "database": str(settings.DATABASES["default"]["NAME"]),
        "api_token": key,
        "probe_devices": probe_devices,
        "platforms": platforms,
        "tables": {
            "passage": Passage._meta.db_table,
            "device": Device._meta.db_table,
            "alert": Alert._meta.db_table,
            "checkpoint": ProcessorCheckpoint._meta.db_table,
        },
    }


def _platforms() -> dict:
    """One platform per park (its access-control and video platform, at the park's top
    zone), with a token, and every device of the park registered under it:
    ``{serial: {"token", "devices"}}``."""
    from anyuan.registry.models import Device, Park, Zone

    out = {}
    for park in Park.objects.order_by("pk"):
        top = Zone.objects.filter(park=park, parent=None).order_by("pk").first()
        if top is None:
            continue
        hub = Device(zone=top, name=f"{park.name} 平台", kind="platform", serial=f"PLAT-{park.pk}")
        token = hub.new_token()
        hub.save()
        below = Device.objects.filter(zone__park=park).exclude(pk=hub.pk)
        below.update(upstream=hub)
        out[hub.serial] = {"token": token, "devices": list(below.values_list("serial", flat=True))}
    return out


if __name__ == "__main__":
    import django

    django.setup()
    if sys.argv[1] == "check":
        # the processor once more: what is left, then the time-based rules as of now
        from django.core.management import call_command

        call_command("process", once=True, verbosity=0)
        print("{}")
    elif sys.argv[1] == "setup":
        scale, seed, start, out, tag = sys.argv[2:7]
        result = _setup(scale, int(seed), dt.date.fromisoformat(start), Path(out), tag)
        print(json.dumps(result))
