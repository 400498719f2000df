"""The dashboard's data endpoints at the district scale with 90 days of history: p50/p95.

Target: every endpoint answers in p95 <= 200 ms. Figures: ``{"p95_ms": the worst
endpoint's p95, "endpoints": {NAME: {"p50_ms", "p95_ms", ...}}, ...}``.

In a child process whose ``ANYUAN_VAR`` is a new directory under ``var/bench`` (a fresh
SQLite database; the configured one is never touched):

1. ``anyuan simulate --scale district --days 2 --seed 1`` from yesterday, ``migrate``, the
   registry imported;
2. the simulated passages, device alarms and heartbeats received up to now written into
   the log and the device links (``executemany``), then the processor with every alert
   rule (``Processor(on_facts=Evaluator())``) over them and the time-based rules as of
   now: real presences (open and closed), occupancy and alerts of yesterday and today;
3. the hourly rollup rebuilt from that log (``rollups.rebuild``, timed per day), and the
   cost of :func:`~anyuan.dashboard.rollups.add_passages` per processor batch of 5,000
   (measured in a transaction rolled back);
4. history: yesterday copied back to fill ``--days`` days (90) — its hourly counts, its
   alerts (closed, as resolved), and its closed presences (``--presence-days``, default
   the same) — with SQL ``INSERT … SELECT``, the times shifted by whole days;
5. each endpoint called ``--calls`` times (50, after 2 warm-up calls) through Django's
   test client with a session, as the station's police administrator (the whole
   jurisdiction: ``NAME``), the same with a grid filter (``NAME[grid]``) and as the
   administrator of the enterprise with the most zones (``NAME[enterprise]``).

Timings are wall times around the client call: middleware, session, queries, JSON.
"""

import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

from anyuan.bench import child_env, run_child

TARGET_MS = 200
ENDPOINTS = ("occupancy", "passages-hourly", "alerts", "zones", "devices")
BATCH = 5000  # the processor's default batch


def add_arguments(parser):
    parser.add_argument("--scale", default="district", help="simulator scale (default district)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=90, help="days of history (default 90)")
    parser.add_argument(
        "--presence-days",
        type=int,
        default=None,
        help="days of closed presences kept (default: --days)",
    )
    parser.add_argument("--calls", type=int, default=50, help="calls per endpoint and user")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark directory")


def run(options) -> dict:
    from django.conf import settings

    scale = options.get("scale") or "district"
    seed = int(options.get("seed") or 1)
    days = int(options.get("days") or 90)
    presence_days = options.get("presence_days")
    presence_days = days if presence_days is None else int(presence_days)
    calls = int(options.get("calls") or 50)
    if not (2 <= days <= 400 and 1 <= presence_days <= days and 1 <= calls <= 10_000):
        raise ValueError("--days 2..400, --presence-days 1..--days, --calls 1..10000")
    base = Path(options.get("dir") or Path(settings.VAR_DIR) / "bench")
    base.mkdir(parents=True, exist_ok=True)
    var = base / f"dashboard-{scale}-{os.getpid()}"
    var.mkdir()
    env = child_env(var)
    args = [str(var), scale, str(seed), str(days), str(presence_days), str(calls)]
    try:
        figures = json.loads(run_child("anyuan.bench.dashboard", env, *args))
    finally:
        if not options.get("keep"):
            shutil.rmtree(var, ignore_errors=True)
    print_table(figures)
    return figures


def print_table(figures: dict, file=None) -> None:
    out = file or sys.stderr
    rows = [("endpoint", "p50 ms", "p95 ms", "max ms", "bytes", "target")]
    for name, e in figures["endpoints"].items():
        mark = "ok" if e["p95_ms"] <= TARGET_MS else "OVER"
        rows.append(
            (name, f"{e['p50_ms']:.1f}", f"{e['p95_ms']:.1f}", f"{e['max_ms']:.1f}",
             f"{e['bytes']:,}", f"p95 <= {TARGET_MS} ({mark})")
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        cells = zip(row, widths, strict=True)
        line = "  ".join(
            v.ljust(w) if c in (0, 5) else v.rjust(w) for c, (v, w) in enumerate(cells)
        )
        print(line, file=out)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=out)
    print(f"overall p95: {figures['p95_ms']:.1f} ms (target <= {TARGET_MS} ms)", file=out)


# --- the child process ----------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def _setup(var: Path, scale: str, seed: int, start: dt.date) -> Path:
    from django.core.management import call_command

    from anyuan.registry.importing import import_directory
    from anyuan.simulator.run import simulate

    call_command("migrate", verbosity=0)
    sim = var / "sim"
    simulate(scale, 2, seed, sim, start=start)
    results = import_directory(sim / "registry")
    bad = [r for r in results if getattr(r, "errors", None)]
    if bad:
        raise RuntimeError(f"registry import failed: {bad[0]}")
    return sim


def _write_log(sim: Path, now: dt.datetime) -> dict:
    """The simulated passages, alarms and heartbeats received up to ``now`` into the log
    and the device links, in received order, as ingestion stores them."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from django.db import connection, transaction

    from anyuan.events.models import DeviceAlarm, DeviceLink, Passage
    from anyuan.registry.models import Device

    qn = connection.ops.quote_name
    prep = connection.ops.adapt_datetimefield_value
    devices = {s: (pk, z) for pk, s, z in Device.objects.values_list("pk", "serial", "zone_id")}
    heard: dict[int, list] = {}

    def table(pattern):
        parts = [pq.read_table(p) for p in sorted((sim / "events").glob(pattern))]
        import pyarrow as pa

        t = pa.concat_tables(parts)
        t = t.filter(pc.less_equal(t["received_time"], now))
        return t.sort_by("received_time").to_pydict()

    counts = {}
    passages = table("passages-*.parquet")
    cols = ("device_id", "zone_id", "device_event_id", "event_time", "received_time",
            "direction", "method", "credential", "confidence", "snapshot")  # fmt: skip
    sql = (
        f"INSERT INTO {qn(Passage._meta.db_table)} ({', '.join(map(qn, cols))}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(cols))}) ON CONFLICT DO NOTHING"
    )
    rows = []
    for i in range(len(passages["event_id"])):
        device, zone = devices[passages["device_serial"][i]]
        received = passages["received_time"][i]
        rows.append(
            (device, zone, str(passages["event_id"][i]), prep(passages["event_time"][i]),
             prep(received), passages["direction"][i], passages["method"][i],
             passages["credential"][i] or "", passages["confidence"][i], "")
        )  # fmt: skip
        heard.setdefault(device, [None, None])[0] = received
    counts["passages"] = len(rows)
    alarms = table("alarms-*.parquet")
    alarm_rows = []
    for i in range(len(alarms["event_id"])):
        device, zone = devices[alarms["device_serial"][i]]
        received = alarms["received_time"][i]
        alarm_rows.append(
            (device, zone, str(alarms["event_id"][i]), alarms["alarm_type"][i],
             alarms["state"][i], prep(alarms["event_time"][i]), prep(received), "", "{}")
        )  # fmt: skip
        entry = heard.setdefault(device, [None, None])
        entry[0] = max(entry[0], received) if entry[0] else received
    counts["alarms"] = len(alarm_rows)
    beats = table("heartbeats-*.parquet")
    for serial, received in zip(beats["device_serial"], beats["received_time"], strict=True):
        entry = heard.setdefault(devices[serial][0], [None, None])
        entry[0] = max(entry[0], received) if entry[0] else received
        entry[1] = received
    counts["heartbeats"] = len(beats["device_serial"])
    alarm_cols = ("device_id", "zone_id", "device_event_id", "kind", "state", "event_time",
                  "received_time", "snapshot", "detail")  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), 10_000):
            cursor.executemany(sql, rows[start : start + 10_000])
        if alarm_rows:
            cursor.executemany(
                f"INSERT INTO {qn(DeviceAlarm._meta.db_table)} ({', '.join(map(qn, alarm_cols))}) "  # noqa: S608
                f"VALUES ({', '.join(['%s'] * len(alarm_cols))}) ON CONFLICT DO NOTHING",
                alarm_rows,
            )
        cursor.executemany(
            f"INSERT INTO {qn(DeviceLink._meta.db_table)} "  # noqa: S608
            "(device_id, last_seen, last_heartbeat, clock_skew) VALUES (%s, %s, %s, FALSE)",
            [(d, prep(seen), prep(beat) if beat else None) for d, (seen, beat) in heard.items()],
        )
    return counts


def _add_passages_cost(now: dt.datetime) -> dict:
    """What :func:`rollups.add_passages` costs the processor per batch: the day's passages
    in batches of 5,000 (as the processor reads them), in a transaction rolled back."""
    from django.db import transaction

    from anyuan.dashboard import rollups
    from anyuan.events.models import Passage

    rows = list(
        Passage.objects.order_by("pk").values_list("zone_id", "event_time", "direction")[
            : 20 * BATCH
        ]
    )
    times, written = [], []

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            for start in range(0, len(rows), BATCH):
                began = time.perf_counter()
                written.append(rollups.add_passages(rows[start : start + BATCH]))
                times.append((time.perf_counter() - began) * 1000)
            raise Rollback
    except Rollback:
        pass
    return {
        "add_passages_batches": len(times),
        "add_passages_ms_per_batch_p50": round(_percentile(times, 50), 2),
        "add_passages_ms_per_batch_max": round(max(times), 2),
        "add_passages_rows_per_batch_mean": round(sum(written) / len(written), 1),
    }


def _history(days: int, presence_days: int, yesterday: dt.date) -> dict:
    """Copy yesterday back over the history days: hourly counts, alerts (closed) and
    closed presences, with SQL ``INSERT … SELECT`` and the times shifted by whole days."""
    from django.db import connection, transaction

    from anyuan.alerts.models import Alert
    from anyuan.dashboard.models import PassageHour
    from anyuan.dashboard.rollups import local_midnight
    from anyuan.events.models import Presence

    qn = connection.ops.quote_name
    prep = connection.ops.adapt_datetimefield_value
    a = prep(local_midnight(yesterday))
    b = prep(local_midnight(yesterday + dt.timedelta(days=1)))

    def copy(model, shifted: dict, where: str, k: int) -> int:
        cols = [f.column for f in model._meta.concrete_fields if not f.primary_key]
        exprs = [shifted.get(c, qn(c)).format(k=k) for c in cols]
        sql = (
            f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(map(qn, cols))}) "  # noqa: S608 - the models' own tables
            f"SELECT {', '.join(exprs)} FROM {qn(model._meta.db_table)} WHERE {where}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [a, b])
            return cursor.rowcount

    def minus(col):
        # SQLite's datetime() writes "YYYY-MM-DD HH:MM:SS", the form Django reads
        return f"datetime({qn(col)}, '-{{k}} days')"

    counts = {"passagehour_rows": 0, "alert_rows": 0, "presence_rows": 0}
    with transaction.atomic():
        # before yesterday there are only the evening shift's first passages: replaced
        PassageHour.objects.filter(hour__lt=local_midnight(yesterday)).delete()
        for k in range(1, days - 1):
            counts["passagehour_rows"] += copy(
                PassageHour, {"hour": minus("hour")}, f"{qn('hour')} >= %s AND {qn('hour')} < %s", k
            )
            counts["alert_rows"] += copy(
                Alert,
                {
                    "first_seen": minus("first_seen"),
                    "last_seen": minus("last_seen"),
                    "source_key": f"{qn('source_key')} || ':h{{k}}'",
                    "state": "'resolved'",
                    "resolved_at": minus("last_seen"),
                    "acknowledged_at": minus("last_seen"),
                },
                f"{qn('first_seen')} >= %s AND {qn('first_seen')} < %s",
                k,
            )
            if k < presence_days - 1:
                counts["presence_rows"] += copy(
                    Presence,
                    {"entered_at": minus("entered_at"), "left_at": minus("left_at")},
                    f"{qn('left_at')} IS NOT NULL AND {qn('entered_at')} >= %s "
                    f"AND {qn('entered_at')} < %s",
                    k,
                )
    return counts


def _users():
    from django.db.models import Count

    from anyuan.accounts.models import User
    from anyuan.core.roles import Role
    from anyuan.registry.models import Enterprise, PoliceGrid, Station

    station = Station.objects.order_by("pk").first()
    police = User.objects.create(username="bench-police", role=Role.POLICE_ADMIN, station=station)
    firm = (
        Enterprise.objects.filter(station=station)
        .annotate(n=Count("zones"))
        .order_by("-n", "pk")
        .first()
    )
    enterprise = User.objects.create(
        username="bench-enterprise", role=Role.ENTERPRISE_ADMIN, enterprise=firm
    )
    grid = firm.grid_id or PoliceGrid.objects.filter(station=station).values_list("pk", flat=True).first()  # fmt: skip
    return [("", police, {}), ("[grid]", police, {"grid": grid}), ("[enterprise]", enterprise, {})]


def _measure(calls: int) -> dict:
    from django.test import Client

    from anyuan.core.testing import verified_session

    endpoints = {}
    for suffix, user, params in _users():
        client = Client()
        client.force_login(user)
        verified_session(client, user)  # a measurement, not a sign-in: second factor passed
        for name in ENDPOINTS:
            url = f"/api/v1/dashboard/{name}"
            for _ in range(2):  # warm-up
                response = client.get(url, params)
                if response.status_code != 200:
                    raise RuntimeError(f"{url} {params}: {response.status_code} {response.content[:300]}")  # fmt: skip
            times = []
            for _ in range(calls):
                began = time.perf_counter()
                response = client.get(url, params)
                times.append((time.perf_counter() - began) * 1000)
            endpoints[f"{name.replace('-', '_')}{suffix}"] = {
                "p50_ms": round(_percentile(times, 50), 2),
                "p95_ms": round(_percentile(times, 95), 2),
                "max_ms": round(max(times), 2),
                "bytes": len(response.content),
                "calls": calls,
            }
    return endpoints


def _sizes() -> dict:
    from anyuan.alerts.models import Alert
    from anyuan.dashboard.models import PassageHour
    from anyuan.events.models import Passage, Presence
    from anyuan.registry.models import Device, Enterprise, Person, Zone

    return {
        "zones": Zone.objects.count(),
        "devices": Device.objects.count(),
        "enterprises": Enterprise.objects.count(),
        "people": Person.objects.count(),
        "passages_in_log": Passage.objects.count(),
        "passagehour_rows": PassageHour.objects.count(),
        "presences": Presence.objects.count(),
        "presences_open": Presence.objects.filter(left_at__isnull=True).count(),
        "alerts": Alert.objects.count(),
        "alerts_open": Alert.objects.filter(state__in=Alert.OPEN_STATES).count(),
    }


def worker(var: str, scale: str, seed: int, days: int, presence_days: int, calls: int) -> dict:
    import resource

    import django

    django.setup()
    from django.utils import timezone

    from anyuan.alerts.evaluator import Evaluator
    from anyuan.dashboard import rollups
    from anyuan.events.processor import Processor

    figures: dict = {"scale": scale, "seed": seed, "days": days, "presence_days": presence_days}
    now = timezone.now()
    today = timezone.localdate(now, rollups.local_zone())
    yesterday = today - dt.timedelta(days=1)
    started = time.perf_counter()
    sim = _setup(Path(var), scale, seed, yesterday)
    figures["setup_s"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    figures.update(_write_log(sim, now))
    figures["write_log_s"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    processor = Processor(on_facts=Evaluator(refresh_seconds=3600), refresh_seconds=3600)
    processor.run_once()
    processor.check(now)
    figures["process_s"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    rebuilt = rollups.rebuild()
    took = time.perf_counter() - started
    figures["rebuild_s"] = round(took, 2)
    figures["rebuild_days"] = rebuilt["days"]
    figures["rebuild_passages_per_s"] = round(rebuilt["passages"] / took) if took else None
    figures.update(_add_passages_cost(now))

    started = time.perf_counter()
    figures.update({f"history_{k}": v for k, v in _history(days, presence_days, yesterday).items()})
    figures["history_s"] = round(time.perf_counter() - started, 1)
    figures["sizes"] = _sizes()

    started = time.perf_counter()
    figures["endpoints"] = _measure(calls)
    figures["measure_s"] = round(time.perf_counter() - started, 1)
    figures["p95_ms"] = max(e["p95_ms"] for e in figures["endpoints"].values())
    figures["target_p95_ms"] = TARGET_MS
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["database"] = "sqlite"
    figures["at"] = now.isoformat()
    return figures


if __name__ == "__main__":
    var_dir, scale_name, seed_text, days_text, presence_text, calls_text = sys.argv[1:7]
    result = worker(
        var_dir, scale_name, int(seed_text), int(days_text), int(presence_text), int(calls_text)
    )
    print(json.dumps(result, default=str))
