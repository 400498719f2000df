"""Precision and recall of every alert rule against the simulator's ground truth.

The benchmark runs in a child process whose ``ANYUAN_VAR`` is a new directory under
``var/bench`` (a fresh SQLite database; the configured one is never touched). It simulates
one day of a park (``--scale``, default ``district``), imports the registry, and replays the
day in *simulated* time: minute by minute of received time it writes the minute's
passages and device alarms into the event log and the devices' last-heard times (the
heartbeats), runs the processor with every rule on, and then the time-based checks as of
the end of that minute — the same code ``anyuan process`` runs, with the simulated clock in
place of the platform's. After the day it runs on for the exit hold time, so exits without
an entry are judged.

Every alert the rules raise (a new alert or a repeat) is matched against ``truth.jsonl``:

- passage rules (stranger, unauthorised zone, watchlist, after hours, anti-passback,
  qualifications, over capacity) by the passage that raised it — its (device, event id)
  is one of the truth line's events;
- device alarms by the alarm's (device, event id);
- vehicle overstay by the plate, raised between the allowed time and the end of the line;
- silent devices by the device, raised within the silent window (plus the detection delay).

Per rule: ``tp`` truth lines found, ``fn`` truth lines missed, ``fp`` raises that match no
truth line, ``precision = tp / (tp + fp)``, ``recall = tp / (tp + fn)``. Rules with neither
truth lines nor raises are left out. Figures: ``{"rules": {NAME: {...}}, "passages",
"alarms", "heartbeats", "replay_s", "processor_peak_mb", ...}``.
"""

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from anyuan.bench import child_env, run_child

TRUTH_TO_ALERT = {
    "stranger": "stranger",
    "unauthorised_zone": "unauthorised_zone",
    "watchlist_hit": "watchlist_hit",
    "visitor_vehicle_overstay": "vehicle_overstay",
    "unregistered_vehicle_overstay": "vehicle_overstay",
    "after_hours_entry": "after_hours",
    "antipassback": "antipassback",
    "qualification_missing": "qualification_missing",
    "qualification_expired": "qualification_expired",
    "object_missing": "object_missing",
    "intrusion": "intrusion",
    "device_silent": "device_silent",
    "over_capacity": "over_capacity",
}
STEP = dt.timedelta(minutes=1)


def add_arguments(parser):
    parser.add_argument("--scale", default="district", help="simulator scale (default district)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark directory")
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only load the processor and the rules for the scale's registry and report "
        "their memory (e.g. --scale longhua)",
    )


def run(options) -> dict:
    from django.conf import settings

    scale = options.get("scale") or "district"
    seed = int(options.get("seed") or 1)
    base = Path(settings.VAR_DIR) / "bench"
    base.mkdir(parents=True, exist_ok=True)
    var = base / f"rules-{scale}-{os.getpid()}"
    var.mkdir()
    env = child_env(var)
    try:
        args = [str(var), scale, str(seed)] + (["memory"] if options.get("memory_only") else [])
        figures = json.loads(run_child("anyuan.bench.rules", env, *args))
    finally:
        if not options.get("keep"):
            import shutil

            shutil.rmtree(var, ignore_errors=True)
    if figures.get("rules"):
        print_table(figures)
    return figures


def print_table(figures: dict) -> None:
    rows = [("rule", "truth", "raised", "tp", "fp", "fn", "precision", "recall")]
    for name, r in sorted(figures["rules"].items()):
        rows.append(
            (name, r["truth"], r["raised"], r["tp"], r["fp"], r["fn"],
             _fmt(r["precision"]), _fmt(r["recall"]))
        )  # fmt: skip
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)), file=sys.stderr)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=sys.stderr)
    print("target: precision and recall 1.0 for every rule", file=sys.stderr)


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}"


# --- the child process ----------------------------------------------------------------------


def _setup(var: Path, scale: str, seed: int, registry_only=False) -> tuple[Path, dict]:
    from django.core.management import call_command

    from anyuan.registry.importing import import_directory
    from anyuan.simulator.run import simulate

    call_command("migrate", verbosity=0)
    sim = var / "sim"
    manifest = simulate(scale, 1, seed, sim, registry_only=registry_only)
    results = import_directory(sim / "registry")
    bad = [r for r in results if getattr(r, "errors", None)]
    if bad:
        raise RuntimeError(f"registry import failed: {bad[0]}")
    return sim, manifest


def _load_day(sim: Path):
    import pyarrow.parquet as pq

    (passages,) = sorted((sim / "events").glob("passages-*.parquet"))
    (alarms,) = sorted((sim / "events").glob("alarms-*.parquet"))
    (heartbeats,) = sorted((sim / "events").glob("heartbeats-*.parquet"))
    return (
        pq.read_table(passages).sort_by("received_time").to_pydict(),
        pq.read_table(alarms).sort_by("received_time").to_pydict(),
        pq.read_table(heartbeats).sort_by("received_time").to_pydict(),
    )


def _rows_until(columns: dict, start: int, until: dt.datetime) -> int:
    """The index after the last row received before ``until`` (rows sorted by received)."""
    received = columns["received_time"]
    end = start
    while end < len(received) and received[end] < until:
        end += 1
    return end


def _write_minute(passages, alarms, heartbeats, spans, devices) -> None:
    """Write one minute of the day: passages and alarms into the log (duplicate
    deliveries stored once, as ingestion does) and every device's last-heard times."""
    from django.db import connection, transaction

    from anyuan.events.models import DeviceAlarm, DeviceLink, Passage

    qn = connection.ops.quote_name
    (p0, p1), (a0, a1), (h0, h1) = spans
    heard: dict[int, list] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        rows = []
        for i in range(p0, p1):
            device, zone = devices[passages["device_serial"][i]]
            received = passages["received_time"][i]
            rows.append(
                (device, zone, str(passages["event_id"][i]), passages["event_time"][i], received,
                 passages["direction"][i], passages["method"][i], passages["credential"][i] or "",
                 passages["confidence"][i], "")
            )  # fmt: skip
            heard.setdefault(device, [None, None])[0] = received
        if rows:
            cols = ("device_id", "zone_id", "device_event_id", "event_time", "received_time",
                    "direction", "method", "credential", "confidence", "snapshot")  # fmt: skip
            cursor.executemany(
                f"INSERT INTO {qn(Passage._meta.db_table)} ({', '.join(map(qn, cols))}) "  # noqa: S608
                f"VALUES ({', '.join(['%s'] * len(cols))}) ON CONFLICT DO NOTHING",
                rows,
            )
        rows = []
        for i in range(a0, a1):
            device, zone = devices[alarms["device_serial"][i]]
            received = alarms["received_time"][i]
            rows.append(
                (device, zone, str(alarms["event_id"][i]), alarms["alarm_type"][i],
                 alarms["state"][i], alarms["event_time"][i], received, "", "{}")
            )  # fmt: skip
            heard.setdefault(device, [None, None])[0] = received
        if rows:
            cols = ("device_id", "zone_id", "device_event_id", "kind", "state", "event_time",
                    "received_time", "snapshot", "detail")  # fmt: skip
            cursor.executemany(
                f"INSERT INTO {qn(DeviceAlarm._meta.db_table)} ({', '.join(map(qn, cols))}) "  # noqa: S608
                f"VALUES ({', '.join(['%s'] * len(cols))}) ON CONFLICT DO NOTHING",
                rows,
            )
        for i in range(h0, h1):
            device, _zone = devices[heartbeats["device_serial"][i]]
            received = heartbeats["received_time"][i]
            entry = heard.setdefault(device, [None, None])
            entry[0] = max(entry[0], received) if entry[0] else received
            entry[1] = received
        if heard:
            table = qn(DeviceLink._meta.db_table)
            cursor.executemany(
                f"INSERT INTO {table} (device_id, last_seen, last_heartbeat, clock_skew) "  # noqa: S608
                "VALUES (%s, %s, %s, FALSE) ON CONFLICT (device_id) DO UPDATE SET "
                "last_seen = excluded.last_seen, "
                "last_heartbeat = COALESCE(excluded.last_heartbeat, last_heartbeat)",
                [(d, seen, beat) for d, (seen, beat) in heard.items()],
            )


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts)


def _score(truth_lines, raises, passage_keys, alarm_keys, device_serials, plates, hold, slack):
    """Match raises to truth lines; per alert type tp / fp / fn / precision / recall."""
    lines = defaultdict(list)
    for line in truth_lines:
        alert_type = TRUTH_TO_ALERT.get(line["type"])
        if alert_type:
            lines[alert_type].append(line)
    found = defaultdict(set)  # alert type → indexes of truth lines found
    unmatched = defaultdict(int)
    misses = []  # what did not match, for the diagnostics file
    raised = defaultdict(int)
    for r in raises:
        kind = r["type"]
        raised[kind] += 1
        fact, at = r["fact"], r["at"]
        key = None
        if fact.get("passage_id") and fact["kind"] not in ("overstay", "silent"):
            key = passage_keys.get(fact["passage_id"])
        if fact.get("alarm_id"):
            key = alarm_keys.get(fact["alarm_id"])
        hit = False
        for n, line in enumerate(lines.get(kind, ())):
            if kind == "vehicle_overstay":
                plate = plates.get(fact.get("subject_id")) or fact.get("credential")
                ok = (
                    plate == line["subject"].get("credential")
                    and _parse(line["start"]) <= at <= _parse(line["end"]) + slack
                )
            elif kind == "device_silent":
                ok = (
                    device_serials.get(r["device"]) == line["subject"].get("device")
                    and _parse(line["start"]) <= at <= _parse(line["end"]) + slack
                )
            else:
                ok = key is not None and key in line["event_ids"]
            if ok:
                found[kind].add(n)
                hit = True
        if not hit:
            unmatched[kind] += 1
            misses.append({"false_positive": kind, "passage": key, **r})
    for kind, kind_lines in lines.items():
        misses += [{"missed": line} for n, line in enumerate(kind_lines) if n not in found[kind]]
    result = {}
    for kind in sorted(set(lines) | set(raised)):
        tp, fp = len(found[kind]), unmatched[kind]
        fn = len(lines.get(kind, ())) - tp
        result[kind] = {
            "truth": len(lines.get(kind, ())),
            "raised": raised[kind],
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        }
    return result, misses


def worker(var: str, scale: str, seed: int) -> dict:
    import resource

    import django

    django.setup()
    from anyuan.alerts.evaluator import Evaluator
    from anyuan.events.models import DeviceAlarm, Passage
    from anyuan.events.processor import Processor
    from anyuan.registry.models import Device, Vehicle

    started = time.perf_counter()
    sim, manifest = _setup(Path(var), scale, seed)
    setup_s = time.perf_counter() - started
    passages, alarms, heartbeats = _load_day(sim)
    devices = {s: (pk, z) for pk, s, z in Device.objects.values_list("pk", "serial", "zone_id")}
    evaluator = Evaluator(refresh_seconds=3600)
    evaluator.record = []
    processor = Processor(on_facts=evaluator, refresh_seconds=3600)
    day_start = min(
        c["received_time"][0] for c in (passages, heartbeats) if c["received_time"]
    ).replace(second=0, microsecond=0)
    last = max(c["received_time"][-1] for c in (passages, alarms, heartbeats) if c["received_time"])
    stop = last + evaluator.exit_hold + 2 * STEP
    positions = [0, 0, 0]
    now = day_start
    replay_started = time.perf_counter()
    while now < stop:
        now += STEP
        if now > last + STEP:
            # after the day's last heartbeat every device would look silent: the tail only
            # waits out the exit hold
            evaluator.check_silent = lambda now: None
        spans = []
        for k, columns in enumerate((passages, alarms, heartbeats)):
            end = _rows_until(columns, positions[k], now)
            spans.append((positions[k], end))
            positions[k] = end
        _write_minute(passages, alarms, heartbeats, spans, devices)
        processor.run_once()
        processor.check(now)
    replay_s = time.perf_counter() - replay_started

    passage_keys = {
        pk: f"{serial}:{eid}"
        for pk, serial, eid in Passage.objects.values_list(
            "pk", "device__serial", "device_event_id"
        )
    }
    alarm_keys = {
        pk: f"{serial}:{eid}"
        for pk, serial, eid in DeviceAlarm.objects.values_list(
            "pk", "device__serial", "device_event_id"
        )
    }
    serials = {pk: s for s, (pk, _z) in devices.items()}
    plates = dict(Vehicle.objects.values_list("pk", "plate"))
    with open(sim / "truth.jsonl", encoding="utf-8") as f:
        truth = [json.loads(line) for line in f]
    raises = []
    for r in evaluator.record:
        fact = r["fact"]
        raises.append(
            {
                "type": r["type"],
                "fact": fact,
                "at": r["at"],
                "device": r.get("device"),
            }
        )
    silent_slack = dt.timedelta(minutes=30)
    rules, misses = _score(
        truth, raises, passage_keys, alarm_keys, serials, plates, evaluator.exit_hold, silent_slack
    )
    with open(Path(var) / "misses.jsonl", "w", encoding="utf-8") as f:
        for miss in misses:
            f.write(json.dumps(miss, ensure_ascii=False, default=str) + "\n")
    return {
        "scale": scale,
        "seed": seed,
        "rules": rules,
        "passages": len(passages["event_id"]),
        "alarms": len(alarms["event_id"]),
        "heartbeats": len(heartbeats["device_serial"]),
        "truth_lines": len(truth),
        "people": manifest.get("sizes", {}).get("people"),
        "setup_s": round(setup_s, 2),
        "replay_s": round(replay_s, 2),
        "replay_minutes": int((stop - day_start) / STEP),
        "exit_hold_s": evaluator.exit_hold.total_seconds(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "database": "sqlite",
    }


def memory(var: str, scale: str, seed: int) -> dict:
    """The processor's memory for a registry: after the registry is imported, a fresh
    process loads the processor (credential maps, open presences) and the evaluator
    (zones, rules, authorisations, groups, qualifications, watchlist, vehicles, devices)
    and reports its resident size before and after."""
    import django

    django.setup()
    started = time.perf_counter()
    _sim, manifest = _setup(Path(var), scale, seed, registry_only=True)
    setup_s = time.perf_counter() - started
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "anyuan.bench.rules", var, scale, str(seed), "load"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "scale": scale,
        "people": manifest.get("sizes", {}).get("people"),
        "setup_s": round(setup_s, 2),
        **loaded,
        "target_mb": 1024,
        "database": "sqlite",
    }


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def load() -> dict:
    import django

    django.setup()
    from anyuan.alerts.evaluator import Evaluator
    from anyuan.events.processor import Processor
    from anyuan.registry.models import Person

    Person.objects.exists()  # connect and import what every process has
    before = _rss_mb()
    started = time.perf_counter()
    processor = Processor(on_facts=Evaluator())
    load_s = time.perf_counter() - started
    after = _rss_mb()
    return {
        "people_loaded": len(processor.on_facts.people),
        "zones": len(processor.on_facts.zones),
        "load_s": round(load_s, 2),
        "process_rss_before_mb": round(before, 1),
        "process_rss_loaded_mb": round(after, 1),
        "processor_and_rules_mb": round(after - before, 1),
    }


if __name__ == "__main__":
    var_dir, scale_name, seed_text = sys.argv[1:4]
    mode = sys.argv[4] if len(sys.argv) > 4 else "rules"
    if mode == "load":
        print(json.dumps(load()))
    else:
        run_worker = memory if mode == "memory" else worker
        print(json.dumps(run_worker(var_dir, scale_name, int(seed_text)), default=str))
