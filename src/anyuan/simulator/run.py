"""Generate a park: the registry, then day after day of passages, alarms and heartbeats
with their anomalies, then the ground truth and the manifest.

Output layout (``OUT``)::

    registry/<kind>.csv                 the import files (docs/import-formats.md)
    events/passages-YYYY-MM-DD.parquet  passages received that day, in arrival order
    events/alarms-YYYY-MM-DD.parquet    sensor alarms (object missing, intrusion)
    events/heartbeats-YYYY-MM-DD.parquet device heartbeats
    truth.jsonl                         one line per injected anomaly or data fault
    manifest.json                       what was made, with counts
"""

import collections
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

from anyuan.simulator.anomalies import (
    ANOMALY_TYPES,
    DERIVED_TYPES,
    FAULT_TYPES,
    Faults,
    Injector,
    Strangers,
    Truth,
)
from anyuan.simulator.life import DayLife, local_midnight_ms
from anyuan.simulator.registry import COLUMNS, write_registry
from anyuan.simulator.scales import SCALES
from anyuan.simulator.stream import EventWriter
from anyuan.simulator.world import KIND_NAMES, VEHICLE_KINDS, World

DEFAULT_START = dt.date(2026, 11, 2)  # a Monday
OUTPUTS = ("registry", "events", "truth.jsonl", "manifest.json")


def clear_outputs(out: Path) -> None:
    """Remove what an earlier run wrote into ``out`` (and nothing else)."""
    for name in OUTPUTS:
        path = out / name
        if path.is_dir():
            for child in path.iterdir():
                if child.suffix in (".csv", ".parquet") and child.is_file():
                    child.unlink()
            if not any(path.iterdir()):
                path.rmdir()
        elif path.is_file():
            path.unlink()


def simulate(
    scale: str,
    days: int,
    seed: int,
    out: Path,
    start: dt.date = DEFAULT_START,
    registry_only: bool = False,
    on_day: Callable[[dt.date, dict], None] | None = None,
) -> dict:
    """Write a whole simulated park into ``out`` and return its manifest."""
    sc = SCALES[scale]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    world = World(sc, seed, start, days)
    registry_counts = write_registry(world, out / "registry")
    truth = Truth()
    strangers = Strangers(world)
    writer = None
    if not registry_only:
        writer = EventWriter(world, out / "events", seed, truth, strangers)
        for date, _faults, stats in event_days(world, writer, seed, start, days):
            if on_day:
                on_day(date, stats)
    lines = _truth_lines(truth)
    with open(out / "truth.jsonl", "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    manifest = _manifest(world, sc.name, seed, start, days, registry_counts, writer, lines)
    with open(out / "manifest.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return manifest


def event_days(world: World, writer: EventWriter, seed: int, start: dt.date, days: int):
    """Generate the events day by day into ``writer``; yields ``(date, faults, stats)``
    after each date is written (the live mode plays a date before the next is made)."""
    sc = world.scale
    # the night shift that began the evening before the first day
    eve = DayLife(world, start - dt.timedelta(days=1), seed, night_only=True)
    writer.add(eve.ev.arrays())
    del eve
    for d in range(days):
        date = start + dt.timedelta(days=d)
        life = DayLife(world, date, seed)
        faults = Faults(world, seed, d, sc.per_day, local_midnight_ms(date))
        injector = Injector(
            world,
            life,
            life.ev.arrays(),
            faults,
            writer.truth,
            writer.strangers,
            seed,
            sc.per_day,
        )
        writer.add(injector.passages())
        alarms = injector.alarm_arrays()
        del life, injector
        stats = writer.finish_date(d, date, faults, alarms, sc.per_day, last=d == days - 1)
        yield date, faults, stats
    writer.finish()


def _truth_lines(truth: Truth) -> list[dict]:
    lines = []
    for line in truth.lines:
        clean = {k: v for k, v in line.items() if not k.startswith("_")}
        if line["_events"]:
            clean["event_ids"] = [ref for _, ref in sorted(line["_events"])]
        lines.append((line["_start"], line["type"], clean))
    lines.sort(key=lambda x: (x[0], x[1], json.dumps(x[2], ensure_ascii=False, sort_keys=True)))
    return [x[2] for x in lines]


def _manifest(world, scale, seed, start, days, registry_counts, writer, lines) -> dict:
    w = world
    people_by_kind = collections.Counter(KIND_NAMES[k] for k in w.people["kind"].tolist())
    zones_by_ring = collections.Counter(z.ring for z in w.zones)
    zones_by_kind = collections.Counter(z.kind for z in w.zones)
    vehicles_by_kind = collections.Counter(VEHICLE_KINDS[k] for k in w.veh["kind"].tolist())
    types = collections.Counter(line["type"] for line in lines)
    manifest = {
        "generator": "anyuan.simulator",
        "scale": scale,
        "seed": seed,
        "days": days,
        "start": start.isoformat(),
        "timezone": "Asia/Shanghai",
        "sizes": {
            "station": w.station_name,
            "parks": len(w.parks),
            "enterprises": len(w.enterprises),
            "hazardous_chemicals_enterprises": sum(e.hazchem for e in w.enterprises),
            "labour_agencies": len(w.agencies),
            "squads": len(w.squads),
            "buildings": w.buildings,
            "people": w.n_people,
            "people_by_kind": dict(sorted(people_by_kind.items())),
            "living_on_site": int((w.people["room"] >= 0).sum()),
            "zones": len(w.zones),
            "zones_by_ring": dict(sorted(zones_by_ring.items())),
            "zones_by_kind": dict(sorted(zones_by_kind.items())),
            "devices": len(w.devices),
            "vehicles": w.n_vehicles,
            "vehicles_by_kind": dict(sorted(vehicles_by_kind.items())),
        },
        "registry": {f"registry/{k}.csv": registry_counts[k] for k in COLUMNS},
        "anomalies": {t: types.get(t, 0) for t in ANOMALY_TYPES},
        "derived": {t: types.get(t, 0) for t in DERIVED_TYPES},
        "truth_lines": len(lines),
    }
    if writer is not None:
        per_day = writer.per_day
        total = sum(d["passages"] for d in per_day.values())
        manifest["events"] = {
            "passages": total,
            "passages_per_day": {k: v["passages"] for k, v in per_day.items()},
            "mean_passages_per_day": round(total / max(1, len(per_day))),
            "peak_gate_passages_15min": {
                k: v["peak_gate_passages_15min"] for k, v in per_day.items()
            },
            "alarms": sum(d["alarms"] for d in per_day.values()),
            "heartbeats": sum(d["heartbeats"] for d in per_day.values()),
            "files": dict(sorted(writer.files.items())),
        }
        manifest["faults"] = {
            "duplicate_delivery": writer.faults["duplicate_delivery"],
            "out_of_order": writer.faults["out_of_order"],
            "clock_skew": writer.faults["clock_skew"],
            "device_silent": writer.faults["device_silent"],
        }
        assert set(manifest["faults"]) == set(FAULT_TYPES)
    return manifest
