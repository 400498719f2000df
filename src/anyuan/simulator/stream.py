"""From true times to the stream a network delivers, written day by day as Parquet.

For each date: event ids are given per device in true-time order (like a device's
serial number); a device whose clock is off stamps its events minutes off; every event
reaches the platform a little later (received time); some are delayed long enough to
arrive after later events of the same device (out of order), some are delivered twice.
A file holds the events *received* on its date, in the order they were received.
"""

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from anyuan.simulator.anomalies import ALARM_TYPES, Faults, Strangers, Truth, iso
from anyuan.simulator.capacity import CapacityWatch
from anyuan.simulator.life import IN, local_midnight_ms
from anyuan.simulator.world import MIN, World, stream

DAY_MS = 24 * 60 * MIN
UTC_MS = pa.timestamp("ms", tz="UTC")
INT32 = pa.int32()

PASSAGE_SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("device_serial", pa.dictionary(pa.int32(), pa.string())),
        ("event_time", UTC_MS),
        ("received_time", UTC_MS),
        ("direction", pa.dictionary(pa.int8(), pa.string())),
        ("method", pa.dictionary(pa.int8(), pa.string())),
        ("credential", pa.string()),
        ("confidence", pa.float32()),
        ("zone", pa.dictionary(pa.int32(), pa.string())),
        ("subject", pa.string()),
    ]
)
ALARM_SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("device_serial", pa.dictionary(pa.int32(), pa.string())),
        ("event_time", UTC_MS),
        ("received_time", UTC_MS),
        ("alarm_type", pa.dictionary(pa.int8(), pa.string())),
        ("state", pa.string()),
        ("zone", pa.dictionary(pa.int32(), pa.string())),
    ]
)
HEARTBEAT_SCHEMA = pa.schema(
    [
        ("device_serial", pa.dictionary(pa.int32(), pa.string())),
        ("event_time", UTC_MS),
        ("received_time", UTC_MS),
    ]
)
DIRECTIONS = pa.array(["in", "out"])
METHODS = pa.array(["face", "card", "employee_number", "plate"])


def _select(cols: dict[str, np.ndarray], idx) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in cols.items()}


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    parts = [p for p in parts if p]
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _latency(rng: np.random.Generator, n: int) -> np.ndarray:
    """Network and platform delay: mostly under a second, never over eight."""
    return np.clip(rng.lognormal(np.log(700), 0.6, n), 50, 8000).astype(np.int64)


class EventWriter:
    def __init__(self, world: World, out: Path, seed: int, truth: Truth, strangers: Strangers):
        self.w, self.out, self.seed, self.truth, self.strangers = world, out, seed, truth, strangers
        out.mkdir(parents=True, exist_ok=True)
        w = world
        self.nd = len(w.devices)
        self.serials = pa.array([d.serial for d in w.devices])
        self.zone_refs = pa.array([w.zone_ref(z.idx) for z in w.zones])
        self.dev_zone = w.device_zone
        self.seq = np.zeros(self.nd, dtype=np.int64)
        self.pool: list[dict] = []
        self.carry: dict = {}
        s = w.people_str
        watch_subjects = [f"W{i + 1:04d}" for i in range(len(w.watchlist))]
        watch_creds = [e["plate"] or e["face_id"] for e in w.watchlist]
        self.base_subjects = pa.array(
            [f"P{i + 1:06d}" for i in range(w.n_people)]
            + [f"V{i + 1:06d}" for i in range(w.n_vehicles)]
            + watch_subjects
        )
        self.base_creds = pa.array(
            s["face_id"]
            + s["card_number"]
            + s["employee_number"]
            + w.veh_str["plate"]
            + watch_creds
        )
        self.gate_zone = np.zeros(len(w.zones), dtype=bool)
        for p in w.parks:
            self.gate_zone[p.gates] = True
        self.files: dict[str, int] = {}
        self.faults = {
            "duplicate_delivery": 0,
            "out_of_order": 0,
            "clock_skew": [],
            "device_silent": [],
        }
        self.per_day: dict[str, dict] = {}
        self.capacity = CapacityWatch(world, truth)

    def add(self, passages: dict[str, np.ndarray]) -> None:
        self.pool.append(passages)

    # --- one date ---------------------------------------------------------------------------

    def finish_date(
        self, day: int, date: dt.date, faults: Faults, alarms: dict, counts: dict, last: bool
    ) -> dict:
        w, truth = self.w, self.truth
        d0 = local_midnight_ms(date)
        d1 = d0 + DAY_MS
        allp = _concat(self.pool)
        due = allp["t"] < d1
        cur = _select(allp, due & (allp["t"] >= d0))
        self.pool = [_select(allp, ~due)]
        del allp
        excluded = np.zeros(self.nd, dtype=bool)
        excluded[list(faults.excluded)] = True
        # a silent device: its lane is closed, people use the one beside it
        for dev, sibling, a, b in faults.silent:
            moved = (cur["dev"] == dev) & (cur["t"] >= a) & (cur["t"] < b)
            cur["dev"][moved] = sibling
            truth.add(
                "device_silent", {"kind": "device", "device": w.devices[dev].serial},
                w.zone_ref(w.devices[dev].zone), a, b, moved_to=w.devices[sibling].serial,
                events_moved=int(moved.sum()),
            )  # fmt: skip
            self.faults["device_silent"].append(
                {"device": w.devices[dev].serial, "date": date.isoformat(), "from": iso(a),
                 "until": iso(b), "moved_to": w.devices[sibling].serial}
            )  # fmt: skip
        cur = self._number(cur)
        n = len(cur["t"])
        cur["et"] = cur["t"].copy()
        for dev, offset in faults.skew:
            m = cur["dev"] == dev
            cur["et"][m] += offset
            truth.add(
                "clock_skew", {"kind": "device", "device": w.devices[dev].serial},
                w.zone_ref(w.devices[dev].zone), d0, d1 - 1, offset_s=offset // 1000,
                event_count=int(m.sum()),
            )  # fmt: skip
            self.faults["clock_skew"].append(
                {"device": w.devices[dev].serial, "date": date.isoformat(),
                 "offset_s": offset // 1000, "events": int(m.sum())}
            )  # fmt: skip
        rng = stream(self.seed, 5, day)
        cur["rt"] = cur["t"] + _latency(rng, n)
        # out of order: held back until a later event of the same device has arrived
        same_next = np.zeros(n, dtype=bool)
        same_next[:-1] = cur["dev"][1:] == cur["dev"][:-1]
        gap = np.zeros(n, dtype=np.int64)
        gap[:-1] = cur["t"][1:] - cur["t"][:-1]
        tod = cur["t"] - d0
        ok = (cur["tag"] < 0) & ~excluded[cur["dev"]]
        candidates = np.flatnonzero(
            ok & same_next & (gap < 5 * MIN) & (tod > 6 * 60 * MIN) & (tod < 22 * 60 * MIN)
        )
        k = min(counts.get("out_of_order", 0), len(candidates))
        late = np.sort(rng.choice(candidates, k, replace=False)) if k else np.zeros(0, dtype=int)
        delay = gap[late] + rng.uniform(60_000, 15 * MIN, k).astype(np.int64)
        cur["rt"][late] = cur["t"][late] + delay
        for i in late:
            truth.add(
                "out_of_order", {"kind": "device", "device": w.devices[cur["dev"][i]].serial},
                w.zone_ref(self.dev_zone[cur["dev"][i]]), cur["et"][i], cur["rt"][i],
                event_ids=[self._ref(cur, i)], delay_s=round((cur["rt"][i] - cur["t"][i]) / 1000, 3),
            )  # fmt: skip
        self.faults["out_of_order"] += k
        # duplicates: the same event delivered twice
        ok[late] = False
        pool = np.flatnonzero(ok)
        k = min(counts.get("duplicate_delivery", 0), len(pool))
        dup = np.sort(rng.choice(pool, k, replace=False)) if k else np.zeros(0, dtype=int)
        copies = _select(cur, dup)
        copies["rt"] = copies["rt"] + rng.integers(1_000, 120_000, k)
        for j, i in enumerate(dup):
            truth.add(
                "duplicate_delivery", {"kind": "device", "device": w.devices[cur["dev"][i]].serial},
                w.zone_ref(self.dev_zone[cur["dev"][i]]), cur["rt"][i], copies["rt"][j],
                event_ids=[self._ref(cur, i)], copies=2,
            )  # fmt: skip
        self.faults["duplicate_delivery"] += k
        # the events of the injected anomalies
        for i in np.flatnonzero(cur["tag"] >= 0):
            truth.lines[cur["tag"][i]]["_events"].append((int(cur["et"][i]), self._ref(cur, i)))
        # peak at the park gates: passages within any 15 minutes
        gate_t = np.sort(cur["t"][self.gate_zone[self.dev_zone[cur["dev"]]]])
        peak = 0
        if len(gate_t):
            peak = int((np.searchsorted(gate_t, gate_t + 15 * MIN) - np.arange(len(gate_t))).max())
        gate_in = int((self.gate_zone[self.dev_zone[cur["dev"]]] & (cur["dirn"] == IN)).sum())
        rows = _concat([self.carry, cur, copies])
        del cur, copies
        if not last:
            later = rows["rt"] >= d1
            self.carry = _select(rows, later)
            rows = _select(rows, ~later)
        order = np.lexsort((rows["id"], rows["dev"], rows["rt"]))
        rows = _select(rows, order)
        # the zones over their capacity, as the delivered events show them
        credited = self._credited()[rows["cred"]]
        self.capacity.feed(
            self.dev_zone[rows["dev"]], rows["subj"], rows["dirn"], rows["et"], rows["dev"],
            rows["id"], credited,
        )  # fmt: skip
        name = f"passages-{date.isoformat()}.parquet"
        self._write(PASSAGE_SCHEMA, self._passage_table(rows), name)
        n_rows = len(rows["t"])
        del rows
        n_alarms = self._alarms(day, date, alarms)
        n_beats = self._heartbeats(day, date, faults)
        stats = {
            "passages": n_rows,
            "peak_gate_passages_15min": peak,
            "gate_entries": gate_in,
            "alarms": n_alarms,
            "heartbeats": n_beats,
        }
        self.per_day[date.isoformat()] = stats
        return stats

    def _credited(self) -> np.ndarray:
        """Per credential index: is it a credential at all (not empty)?"""
        extra = pa.array(self.strangers.credentials, type=pa.string())
        creds = pa.concat_arrays([self.base_creds, extra])
        return pc.greater(pc.utf8_length(creds), 0).to_numpy(zero_copy_only=False)

    def _number(self, cur: dict) -> dict:
        """Per-device event ids in true-time order, continuing from the day before."""
        order = np.lexsort((cur["t"], cur["dev"]))
        cur = _select(cur, order)
        counts = np.bincount(cur["dev"], minlength=self.nd)
        starts = np.cumsum(counts) - counts
        rank = np.arange(len(cur["t"])) - starts[cur["dev"]]
        cur["id"] = self.seq[cur["dev"]] + rank + 1
        self.seq += counts
        return cur

    def _ref(self, cols: dict, i: int) -> str:
        return f"{self.w.devices[int(cols['dev'][i])].serial}:{int(cols['id'][i])}"

    def _dictionary(self, indices: np.ndarray, dictionary: pa.Array, index_type=INT32):
        return pa.DictionaryArray.from_arrays(pa.array(indices, type=index_type), dictionary)

    def _passage_table(self, rows: dict) -> pa.Table:
        extra_s = pa.array(self.strangers.subjects, type=pa.string())
        extra_c = pa.array(self.strangers.credentials, type=pa.string())
        subjects = pa.concat_arrays([self.base_subjects, extra_s])
        creds = pa.concat_arrays([self.base_creds, extra_c])
        dev = rows["dev"].astype(np.int32)
        return pa.Table.from_arrays(
            [
                pa.array(rows["id"], type=pa.int64()),
                self._dictionary(dev, self.serials),
                pa.array(rows["et"], type=UTC_MS),
                pa.array(rows["rt"], type=UTC_MS),
                self._dictionary(rows["dirn"], DIRECTIONS, pa.int8()),
                self._dictionary(rows["method"], METHODS, pa.int8()),
                creds.take(pa.array(rows["cred"])),
                pa.array(np.round(rows["conf"], 3), type=pa.float32()),
                self._dictionary(self.dev_zone[dev], self.zone_refs),
                subjects.take(pa.array(rows["subj"])),
            ],
            schema=PASSAGE_SCHEMA,
        )

    def _write(self, schema: pa.Schema, table: pa.Table, name: str) -> None:
        with pq.ParquetWriter(self.out / name, schema, compression="zstd") as writer:
            writer.write_table(table, row_group_size=1_000_000)
        self.files[f"events/{name}"] = table.num_rows

    def _alarms(self, day: int, date: dt.date, alarms: dict) -> int:
        rng = stream(self.seed, 7, day)
        n = len(alarms["t"])
        order = np.lexsort((alarms["t"], alarms["dev"]))
        a = _select(alarms, order)
        ids = np.zeros(n, dtype=np.int64)
        for i in range(n):
            self.seq[a["dev"][i]] += 1
            ids[i] = self.seq[a["dev"][i]]
        a["id"] = ids
        rt = a["t"] + _latency(rng, n)
        for i in range(n):
            self.truth.lines[a["tag"][i]]["_events"].append((int(a["t"][i]), self._ref(a, i)))
        order = np.lexsort((a["id"], a["dev"], rt))
        dev = a["dev"][order]
        table = pa.Table.from_arrays(
            [
                pa.array(a["id"][order], type=pa.int64()),
                self._dictionary(dev, self.serials),
                pa.array(a["t"][order], type=UTC_MS),
                pa.array(rt[order], type=UTC_MS),
                self._dictionary(a["type"][order], pa.array(list(ALARM_TYPES)), pa.int8()),
                pa.array(["pulse"] * n, type=pa.string()),
                self._dictionary(self.dev_zone[dev], self.zone_refs),
            ],
            schema=ALARM_SCHEMA,
        )
        self._write(ALARM_SCHEMA, table, f"alarms-{date.isoformat()}.parquet")
        return n

    def _heartbeats(self, day: int, date: dt.date, faults: Faults) -> int:
        """Every device reports at its interval; a silent device stops for a while."""
        d0 = local_midnight_ms(date)
        rng = stream(self.seed, 6, day)
        intervals = np.array([d.heartbeat for d in self.w.devices], dtype=np.int64) * 1000
        devs, times = [], []
        for interval in np.unique(intervals):
            group = np.flatnonzero(intervals == interval)
            phase = (group.astype(np.int64) * 7_919_000) % interval
            beats = np.arange(DAY_MS // interval, dtype=np.int64) * interval
            t = d0 + phase[:, None] + beats[None, :]
            devs.append(np.repeat(group, len(beats)))
            times.append(t.ravel())
        dev = np.concatenate(devs).astype(np.int32)
        t = np.concatenate(times)
        keep = t < d0 + DAY_MS
        for silent, _sibling, a, b in faults.silent:
            keep &= ~((dev == silent) & (t >= a) & (t < b))
        dev, t = dev[keep], t[keep]
        et = t.copy()
        for skewed, offset in faults.skew:
            et[dev == skewed] += offset
        rt = t + _latency(rng, len(t))
        order = np.lexsort((dev, rt))
        table = pa.Table.from_arrays(
            [
                self._dictionary(dev[order], self.serials),
                pa.array(et[order], type=UTC_MS),
                pa.array(rt[order], type=UTC_MS),
            ],
            schema=HEARTBEAT_SCHEMA,
        )
        self._write(HEARTBEAT_SCHEMA, table, f"heartbeats-{date.isoformat()}.parquet")
        return len(t)

    def finish(self) -> None:
        """Write nothing more; ``carry`` is empty after the last date."""
        assert not self.carry or not len(self.carry.get("t", ())), "undelivered events left"
