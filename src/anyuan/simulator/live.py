"""The live mode: play the simulated stream into a running anyuan through its ingestion API.

The stream is the one the file mode writes (same world, seed and generator, made day by
day), played in real time sped up by ``speed``: simulated time ``t`` is sent at wall time
``start_wall + (t - sim_start) / speed``, stamped with that wall time, so the platform
sees events happening *now*. ``sim_start`` is the current local time of day on the first
simulated day, so the park's rhythm (shift changes, canteen hours, nights) follows the
clock at the start. Event ids are the simulated devices' counters prefixed by a tag of
the run (its start time), so a second run is not taken for re-deliveries of the first.
Delivery delays and held-back (out-of-order) events shrink by the speed-up like
everything else; a device's clock skew does not (a door 10 minutes off stamps its events
10 minutes off), and heartbeats go at each device's interval in wall time (a silent
device stops for its simulated silence, sped up).

Every tick (``tick`` seconds) what is due is sent, grouped per device, as NDJSON with
that device's token; heartbeats go one by one. A refused request or item (4xx) is
counted and logged, never retried; a connection error, a 5xx, 408 or 429 is retried with
backoff, the same batch again: the platform stores an event once per (device, event id),
so a retry after a lost reply stores nothing twice.
"""

import collections
import datetime as dt
import http.client
import json
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from anyuan.simulator.anomalies import Strangers, Truth
from anyuan.simulator.life import local_midnight_ms
from anyuan.simulator.run import event_days
from anyuan.simulator.scales import SCALES
from anyuan.simulator.stream import EventWriter
from anyuan.simulator.world import TZ, World

INGEST = "/api/v1/events/ingest"
PASSAGES, ALARMS, HEARTBEAT = "/passages/bulk", "/alarms", "/heartbeat"
NDJSON = "application/x-ndjson"
JSON = "application/json"
DAY_MS = 86_400_000
MAX_ITEMS = 5_000  # per request (the platform takes up to 10,000)
RETRY_STATUSES = {408, 429}

# post(path, token, body, content_type) -> (status, parsed JSON body); raises OSError (or
# ConnectionError) when the request may not have reached the platform
Transport = Callable[[str, str, bytes, str], tuple[int, dict]]


class Unreachable(Exception):
    """The platform did not answer."""


class HttpTransport:
    """One keep-alive HTTP/1.1 connection to the platform (standard library only)."""

    def __init__(self, url: str, timeout: float = 30):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http:// URL: {url!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"not a valid port in {url!r}") from None
        self.url = url
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = port or (443 if parts.scheme == "https" else 80)
        self.base = parts.path.rstrip("/")
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict
    ) -> tuple[int, bytes]:
        conn = self._connection()
        try:
            conn.request(method, self.base + path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise ConnectionError(str(e) or type(e).__name__) from None
        if response.will_close:
            self.close()
        return response.status, data

    def __call__(self, path: str, token: str, body: bytes, content_type: str) -> tuple[int, dict]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
        }
        status, data = self.request("POST", INGEST + path, body, headers)
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {}
        return status, parsed if isinstance(parsed, dict) else {}

    def wait(self, timeout: float) -> None:
        """Until the platform answers any HTTP request (or ``Unreachable``)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.request("GET", "/", None, {})
                return
            except ConnectionError as e:
                if time.monotonic() >= deadline:
                    raise Unreachable(f"{self.url} does not answer ({e})") from None
                time.sleep(0.5)


class MemoryWriter(EventWriter):
    """The file mode's writer, keeping each date's tables in memory instead of files."""

    def __init__(self, world: World, seed: int):
        super().__init__(world, Path(tempfile.gettempdir()), seed, Truth(), Strangers(world))
        self.tables: dict[str, object] = {}

    def _write(self, schema, table, name: str) -> None:
        self.tables[name.split("-", 1)[0]] = table
        self.files[f"events/{name}"] = table.num_rows


@dataclass
class Day:
    """One date's passages and alarms (in arrival order) and its faults."""

    date: dt.date
    passages: dict
    alarms: dict
    skew: dict[int, int]
    silent: list[tuple[int, int, int]]
    p_next: int = 0
    a_next: int = 0


def _columns(table, strings: tuple[str, ...]) -> dict:
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if name == "device_serial":
            col = col.combine_chunks()
            out["dev_serial"] = col.dictionary.to_pylist()
            out["dev_code"] = col.indices.to_numpy(zero_copy_only=False)
        elif name in ("event_time", "received_time"):
            out[name] = col.cast("int64").to_numpy()
        elif name in strings:
            out[name] = col.combine_chunks()
        elif name == "event_id" or name == "confidence":
            out[name] = col.to_numpy()
    return out


@dataclass
class Stats:
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    alarms: int = 0
    heartbeats: int = 0
    heartbeat_errors: int = 0
    no_token: int = 0
    retries: int = 0
    requests: int = 0
    lag: float = 0.0  # seconds the latest batch was sent after its time
    max_lag: float = 0.0
    refusals: collections.Counter = field(default_factory=collections.Counter)


class Live:
    """Plays a simulated park into ``transport``. ``run()`` returns the :class:`Stats`."""

    def __init__(
        self,
        scale: str,
        seed: int,
        start: dt.date,
        days: int,
        tokens: dict[str, str],
        transport: Transport,
        speed: float = 60.0,
        *,
        time_of_day: dt.time | None = None,
        duration: dt.timedelta | None = None,
        tick: float = 0.5,
        status_every: float = 10.0,
        log: Callable[[str], None] = print,
        clock: Callable[[], float] = time.time,
        world: World | None = None,
        run_tag: str | None = None,
    ):
        self.speed = float(speed)
        self.tokens = tokens
        self.transport = transport
        self.tick = tick
        self.status_every = status_every
        self.log = log
        self.clock = clock
        self.stopping = threading.Event()
        self.stats = Stats()
        # one more date than played: the window starts at the current time of day
        self.world = world or World(SCALES[scale], seed, start, days + 1)
        self.writer = MemoryWriter(self.world, seed)
        self.days_iter = event_days(self.world, self.writer, seed, start, days + 1)
        now = dt.datetime.now(TZ)
        tod = time_of_day or now.time()
        offset_ms = (tod.hour * 3600 + tod.minute * 60 + tod.second) * 1000
        self.sim_start = local_midnight_ms(start) + offset_ms
        played = duration if duration is not None else dt.timedelta(days=days)
        self.sim_end = self.sim_start + int(played.total_seconds() * 1000)
        self.start_wall = self.clock()
        # event ids are the devices' counters, the same in every run of a seed: a run's
        # own prefix keeps a second run from being taken for re-deliveries of the first
        self.run_tag = run_tag if run_tag is not None else format(int(self.start_wall), "x")
        self.serials = [d.serial for d in self.world.devices]
        self._index = {serial: i for i, serial in enumerate(self.serials)}
        self.dev_tokens = [tokens.get(s) for s in self.serials]
        if not any(self.dev_tokens):
            raise ValueError(
                "the tokens file names none of the simulated devices "
                "(issued for another park, scale or seed?)"
            )
        self.missing_tokens = sum(t is None for t in self.dev_tokens)
        hb = np.array([max(1, d.heartbeat) for d in self.world.devices], dtype=float)
        self.hb_interval = hb
        # the first heartbeats spread over each device's interval
        self.hb_next = self.start_wall + (np.arange(len(hb)) * 7.919) % hb
        self.pending: dict[tuple[str, int], list[bytes]] = {}
        self.pending_since: dict[tuple[str, int], float] = {}
        self.day: Day | None = None
        self.backoff = 0.0
        self.backoff_cap = 30.0
        self.retry_at = 0.0
        self.exhausted = False

    # --- time ------------------------------------------------------------------------------

    def wall(self, sim_ms):
        """Wall time (s since the epoch) of simulated time(s) ``sim_ms``."""
        return self.start_wall + (np.asarray(sim_ms, dtype=np.float64) - self.sim_start) / (
            1000 * self.speed
        )

    def sim(self, wall: float) -> float:
        return self.sim_start + (wall - self.start_wall) * 1000 * self.speed

    def stop(self, *_args) -> None:
        self.stopping.set()

    # --- the stream ------------------------------------------------------------------------

    def _next_day(self) -> Day | None:
        for date, faults, _stats in self.days_iter:
            tables = self.writer.tables
            day = Day(
                date,
                _columns(tables["passages"], ("direction", "method", "credential")),
                _columns(tables["alarms"], ("alarm_type", "state")),
                dict(faults.skew),
                [(dev, a, b) for dev, _sibling, a, b in faults.silent],
            )
            self.writer.tables = {}
            rt = day.passages["received_time"]
            if len(rt) and rt[-1] < self.sim_start:
                continue  # wholly before the window
            day.p_next = int(np.searchsorted(rt, self.sim_start))
            day.a_next = int(np.searchsorted(day.alarms["received_time"], self.sim_start))
            return day
        return None

    def _event_times(self, day: Day, cols: dict, lo: int, hi: int) -> list[str]:
        """The devices' stamps: the wall time of the event, plus a skewed clock's offset."""
        to_dev = np.array([self.world_index(s) for s in cols["dev_serial"]], dtype=np.int64)
        skew = np.zeros(len(self.serials) + 1, dtype=np.float64)  # the last: unknown devices
        for dev, offset in day.skew.items():
            skew[dev] = offset
        off = skew[to_dev[cols["dev_code"][lo:hi]]]
        wall = self.wall(cols["event_time"][lo:hi] - off) + off / 1000
        return [
            dt.datetime.fromtimestamp(w, dt.UTC).isoformat(timespec="milliseconds") for w in wall
        ]

    def world_index(self, serial: str) -> int:
        return self._index.get(serial, -1)

    def _collect(self, now: float) -> None:
        """Move what is due by ``now`` into the per-device queues."""
        due_sim = min(self.sim(now), self.sim_end)
        while True:
            if self.day is None:
                if self.exhausted:
                    return
                self.day = self._next_day()
                if self.day is None:
                    self.exhausted = True
                    return
            day = self.day
            p, a = day.passages, day.alarms
            p_hi = int(np.searchsorted(p["received_time"], due_sim, side="right"))
            a_hi = int(np.searchsorted(a["received_time"], due_sim, side="right"))
            if p_hi > day.p_next:
                self._queue_passages(day, day.p_next, p_hi)
                day.p_next = p_hi
            if a_hi > day.a_next:
                self._queue_alarms(day, day.a_next, a_hi)
                day.a_next = a_hi
            if due_sim >= self.sim_end:
                self.exhausted, self.day = True, None
                return
            if day.p_next >= len(p["received_time"]) and day.a_next >= len(a["received_time"]):
                self.day = None  # this date is played: make the next one
                continue
            return

    def _queue(self, kind: str, dev_serial: str, line: bytes, due_wall: float) -> None:
        dev = self.world_index(dev_serial)
        if dev < 0 or self.dev_tokens[dev] is None:
            self.stats.no_token += 1
            return
        key = (kind, dev)
        self.pending.setdefault(key, []).append(line)
        self.pending_since.setdefault(key, due_wall)

    def _queue_passages(self, day: Day, lo: int, hi: int) -> None:
        p = day.passages
        times = self._event_times(day, p, lo, hi)
        due = self.wall(p["received_time"][lo:hi])
        ids = p["event_id"][lo:hi].tolist()
        devs = p["dev_code"][lo:hi].tolist()
        dirs = p["direction"][lo:hi].to_pylist()
        methods = p["method"][lo:hi].to_pylist()
        creds = p["credential"][lo:hi].to_pylist()
        confs = np.round(p["confidence"][lo:hi].astype(np.float64), 3).tolist()
        serials = p["dev_serial"]
        for i in range(hi - lo):
            serial = serials[devs[i]]
            item = {
                "device": serial,
                "event_id": f"{self.run_tag}-{ids[i]}",
                "event_time": times[i],
                "direction": dirs[i],
                "method": methods[i],
                "credential": creds[i] or "",
                "confidence": confs[i],
            }
            self._queue(PASSAGES, serial, _line(item), float(due[i]))

    def _queue_alarms(self, day: Day, lo: int, hi: int) -> None:
        a = day.alarms
        times = self._event_times(day, a, lo, hi)
        due = self.wall(a["received_time"][lo:hi])
        ids = a["event_id"][lo:hi].tolist()
        devs = a["dev_code"][lo:hi].tolist()
        kinds = a["alarm_type"][lo:hi].to_pylist()
        states = a["state"][lo:hi].to_pylist()
        serials = a["dev_serial"]
        for i in range(hi - lo):
            serial = serials[devs[i]]
            item = {
                "device": serial,
                "event_id": f"{self.run_tag}-{ids[i]}",
                "event_time": times[i],
                "kind": kinds[i],
                "state": states[i],
            }
            self._queue(ALARMS, serial, _line(item), float(due[i]))

    # --- sending ---------------------------------------------------------------------------

    def _post(self, path: str, token: str, body: bytes, content_type: str) -> tuple[int, dict]:
        """One request; raises ``ConnectionError`` when it should be retried."""
        self.stats.requests += 1
        status, reply = self.transport(path, token, body, content_type)
        if status >= 500 or status in RETRY_STATUSES:
            raise ConnectionError(f"HTTP {status}")
        return status, reply

    def send_batch(self, kind: str, dev: int, lines: list[bytes]) -> None:
        """Send one device's lines (raises ``ConnectionError``: nothing was counted)."""
        body = b"\n".join(lines) + b"\n"
        status, reply = self._post(kind, self.dev_tokens[dev], body, NDJSON)
        n = len(lines)
        s = self.stats
        s.sent += n
        if kind == ALARMS:
            s.alarms += n
        if "stored" in reply and "results" in reply:
            s.stored += int(reply.get("stored", 0))
            s.duplicates += int(reply.get("duplicates", 0))
            refused = int(reply.get("refused", 0))
            s.refused += refused
            if refused:
                for r in reply["results"]:
                    if r.get("status") == "refused":
                        self._refusal(dev, r.get("event_id"), status, r.get("error") or {})
        else:  # the whole request was refused
            s.refused += n
            self._refusal(dev, None, status, {"message": reply.get("detail", ""), "code": ""})

    def _refusal(self, dev: int, event_id, status: int, error: dict) -> None:
        code = error.get("code") or str(status)
        self.stats.refusals[code] += 1
        if self.stats.refusals[code] <= 5:  # the first few of each kind; ids only
            where = f"event {event_id}" if event_id is not None else "request"
            self.log(
                f"refused ({status}, {code}): device {self.serials[dev]} {where}: "
                f"{error.get('field', '') or ''} {error.get('message', '')}".rstrip()
            )

    def _flush(self, now: float) -> None:
        """Send everything queued, in arrival order per device."""
        keys = sorted(self.pending, key=lambda k: self.pending_since[k])
        for key in keys:
            if self.stopping.is_set():
                return
            kind, dev = key
            lines = self.pending[key]
            while lines:
                chunk = lines[:MAX_ITEMS]
                try:
                    self.send_batch(kind, dev, chunk)
                except ConnectionError as e:
                    self.stats.retries += 1
                    self.backoff = min(self.backoff_cap, max(0.5, self.backoff * 2))
                    self.retry_at = self.clock() + self.backoff
                    self.log(f"cannot deliver ({e}); retrying in {self.backoff:.1f} s")
                    return
                self.backoff = 0.0
                del lines[:MAX_ITEMS]
            lag = max(0.0, self.clock() - self.pending_since[key])
            self.stats.lag = lag
            self.stats.max_lag = max(self.stats.max_lag, lag)
            del self.pending[key], self.pending_since[key]

    def _heartbeats(self, now: float) -> None:
        due = np.flatnonzero(self.hb_next <= now)
        if not len(due):
            return
        sim_now = self.sim(now)
        skew = self.day.skew if self.day is not None else {}
        silent = self.day.silent if self.day is not None else []
        for dev in due.tolist():
            self.hb_next[dev] = now + self.hb_interval[dev]
            token = self.dev_tokens[dev]
            if token is None or any(d == dev and a <= sim_now < b for d, a, b in silent):
                continue
            when = now + skew.get(dev, 0) / 1000
            stamp = dt.datetime.fromtimestamp(when, dt.UTC).isoformat(timespec="milliseconds")
            body = json.dumps({"device": self.serials[dev], "event_time": stamp}).encode()
            try:
                status, _reply = self._post(HEARTBEAT, token, body, JSON)
            except ConnectionError:
                self.stats.heartbeat_errors += 1
                return  # the platform is away: the queued events wait for the backoff
            if status < 300:
                self.stats.heartbeats += 1
            else:
                self.stats.heartbeat_errors += 1

    def status_line(self) -> str:
        s = self.stats
        sim = dt.datetime.fromtimestamp(min(self.sim(self.clock()), self.sim_end) / 1000, TZ)
        queued = sum(len(v) for v in self.pending.values())
        return (
            f"live: simulated {sim:%a %m-%d %H:%M} · sent {s.sent:,} · stored {s.stored:,} · "
            f"duplicates {s.duplicates:,} · refused {s.refused:,} · alarms {s.alarms:,} · "
            f"heartbeats {s.heartbeats:,} · queued {queued:,} · lag {s.lag:.1f} s"
        )

    def finished(self) -> bool:
        return self.exhausted and not self.pending

    def step(self) -> None:
        """One tick: collect what is due, send it, send due heartbeats."""
        now = self.clock()
        self._collect(now)
        if now >= self.retry_at:
            self._flush(now)
            if now >= self.retry_at and not self.finished():
                self._heartbeats(now)

    def run(self) -> Stats:
        if self.missing_tokens:
            self.log(f"{self.missing_tokens} simulated device(s) have no token: not sent")
        last_status = self.clock()
        while not self.stopping.is_set():
            self.step()
            if self.finished():
                break
            now = self.clock()
            if now - last_status >= self.status_every:
                self.log(self.status_line())
                last_status = now
            self.stopping.wait(self.tick)
        self.log(self.status_line())
        return self.stats


def _line(item: dict) -> bytes:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()


def load_tokens(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError("expected a JSON object {serial: token}")
    return data
