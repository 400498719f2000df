"""Contact tracing at the largest scale: direct and 2-hop contacts, warm and cold, and the
same 2-hop question in DuckDB and PostgreSQL SQL (default: longhua × 14 days).

Steps, each in a child process of its own (so that its peak memory is its own):

1. **simulate** (only when ``--data`` is not given and the default directory
   ``var/bench/trace-SCALE-DAYSd-sSEED/sim`` is empty): ``anyuan simulate`` for the scale.
2. **prepare** (once per data directory; kept as ``intervals.parquet`` beside it): the
   presence intervals, made from the simulator's passage files *without* the Django
   processor — 22 M passages through it would take about 20 minutes. A vectorised
   pairing that follows the processor's rules for the stream in event-time order:
   each passage's zone becomes its staying zone (a transit zone counts for the nearest
   non-transit zone above it); passages with an empty credential are dropped (they open
   nothing); per (subject, staying zone), in event-time order, an ``in`` opens a stay
   unless one is open (a double entry or a duplicate keeps the first), an ``out`` closes
   the open stay, an ``out`` with none open is an exit without entry (no start: no time
   together, left out), a stay still open at the end is open. The subject is the
   simulator's ``subject`` column, i.e. the person a correct credential match gives.
   Only contact zones are kept (:data:`anyuan.tracing.models.CONTACT_KINDS`: rooms,
   dormitory rooms, workshops, warehouses, canteens, offices; never transit zones), and
   the stays of one subject in one zone that touch are merged (as the engine does).
3. **trace** (a fresh process; ``cold_s`` is measured from its start, interpreter and
   imports included): read ``intervals.parquet``, build the engine's arrays, answer a
   2-hop trace of the first index case. Then, warm, the direct contacts and the 2-hop
   contacts of ``--samples`` index cases (persons drawn with the seed among those with a
   stay in the first two days), each ``--repeat`` times: ``direct_warm_p50_s`` and
   ``two_hop_warm_p50_s`` are the medians. ``peak_rss_mb`` is this process's maximum RSS.
4. **duckdb** and **postgres**: the intervals loaded into a table (PostgreSQL: GiST on
   (zone, stay range) with btree_gist, B-tree on subject, analysed), then the 2-hop
   question of the first index case in plain SQL, timed: :data:`SWEEP_SQL` (a running
   max per zone), and with ``--pairwise`` also :data:`PAIRWISE_SQL` (every pair of
   overlapping stays listed; minutes). ``matches_reference`` is true when both databases
   answered with exactly the people anyuan gives at each hop, false when one gave others,
   null when one did not answer (``duckdb_matches``, ``postgres_matches``; a query
   cancelled after ``--pg-timeout`` seconds is reported with ``postgres_timed_out``). PostgreSQL: ``--postgres URL``
   or ``DATABASE_URL`` when it is PostgreSQL (a scratch table ``bench_trace_intervals``
   is created and dropped), else a temporary server of its own when the binaries are
   found (``initdb`` in a temporary directory, fsync off, a free port, stopped and
   removed afterwards); without either ``postgres_two_hop_s`` is null and
   ``postgres_skipped`` says why.

The question: the window is the whole data (14 days up to the end of the last day), a
contact is one time together of at least 15 minutes in one contact zone (``--minutes``),
2 hops, time-respecting.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from anyuan.bench import run_child

DAY_MS = 86_400_000
KIND_CODES = {"P": 0, "V": 1, "W": 2, "S": 3}  # the simulator's subject keys
SUBJECT_BASE = 10_000_000


def add_arguments(parser):
    from anyuan.simulator.scales import SCALES

    parser.add_argument("--scale", choices=list(SCALES), default="longhua")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", help="a simulator output directory to use (else made once)")
    parser.add_argument("--minutes", type=int, default=15, help="minimum contact (default 15)")
    parser.add_argument("--samples", type=int, default=20, help="index cases timed warm")
    parser.add_argument("--repeat", type=int, default=3, help="runs per index case warm")
    parser.add_argument(
        "--postgres", help="PostgreSQL URL (default: DATABASE_URL or a temp server)"
    )
    parser.add_argument(
        "--pg-timeout", type=int, default=900, help="cancel the PostgreSQL query after (s)"
    )
    parser.add_argument("--no-sql", action="store_true", help="skip DuckDB and PostgreSQL")
    parser.add_argument(
        "--pairwise",
        action="store_true",
        help="also time the pairwise-join SQL (minutes on DuckDB, beyond the timeout on PostgreSQL)",
    )


# --- the parent ---------------------------------------------------------------------------


def _child(*args, timeout=None) -> dict:
    """One step in a process of its own (its peak memory its own); its figures."""
    env = {k: v for k, v in os.environ.items() if k != "ANYUAN_DATA_KEY"}
    env.setdefault("DJANGO_SETTINGS_MODULE", "anyuan.settings")
    return json.loads(run_child("anyuan.bench.trace", env, *args, timeout=timeout))


def run(options) -> dict:
    from django.conf import settings

    scale = options.get("scale") or "longhua"
    days = int(options.get("days") or 14)
    seed = int(options.get("seed") if options.get("seed") is not None else 1)
    minutes = int(options.get("minutes") or 15)
    if days < 1 or minutes < 1:
        raise ValueError("--days and --minutes must be at least 1")
    samples = max(1, int(options.get("samples") or 20))
    repeat = max(1, int(options.get("repeat") or 3))
    figures: dict = {"benchmark": "trace", "scale": scale, "days": days, "seed": seed}
    if options.get("data"):
        data = Path(options["data"])
        if not (data / "events").is_dir():
            raise ValueError(f"{data} holds no simulator output (no events/)")
        work = data
    else:
        work = Path(settings.VAR_DIR) / "bench" / f"trace-{scale}-{days}d-s{seed}"
        data = work / "sim"
        if not (data / "manifest.json").exists():
            started = time.perf_counter()
            _child("simulate", scale, days, seed, data)
            figures["simulate_s"] = round(time.perf_counter() - started, 1)
    intervals = work / "intervals.parquet"
    if not intervals.exists():
        prep = _child("prepare", data, intervals)
        figures["prepare_s"], figures["prepare_peak_rss_mb"] = (
            prep["prepare_s"],
            prep["peak_rss_mb"],
        )
        figures["passages"] = prep["passages"]
    meta = json.loads(intervals.with_suffix(".json").read_text())
    figures["passages"] = meta["passages"]
    figures["persons"] = meta["persons"]

    answer = work / f"trace-answer-{os.getpid()}.json"
    try:
        traced = _child("trace", intervals, answer, minutes, samples, repeat, seed, time.time())
        figures.update(traced)
        reference = json.loads(answer.read_text())
        if options.get("no_sql"):
            figures.update(duckdb_two_hop_s=None, postgres_two_hop_s=None)
            figures["matches_reference"] = None
        else:
            forms = "sweep,pairwise" if options.get("pairwise") else "sweep"
            duck = _child("duckdb", intervals, answer, forms)
            figures["duckdb_load_s"] = duck["load_s"]
            figures["duckdb_matches"] = duck["sweep"]["hops"] == reference["hops"]
            figures["duckdb_two_hop_s"] = duck["sweep"]["seconds"]
            if options.get("pairwise"):
                figures["duckdb_pairwise_s"] = duck["pairwise"]["seconds"]
                figures["duckdb_pairwise_matches"] = duck["pairwise"]["hops"] == reference["hops"]
            figures.update(_postgres(options, intervals, answer, forms))
            # True only when both databases answered with anyuan's people
            answered = [figures["duckdb_matches"], figures.get("postgres_matches")]
            figures["matches_reference"] = (
                False if False in answered else (True if None not in answered else None)
            )
    finally:
        answer.unlink(missing_ok=True)
    print_table(figures)
    return figures


def _postgres(options, intervals: Path, answer: Path, forms: str) -> dict:
    timeout = int(options.get("pg_timeout") or 900)
    url = options.get("postgres") or os.environ.get("DATABASE_URL", "")
    if url and not url.startswith(("postgres://", "postgresql://")):
        url = ""
    if url:
        pg = _child("postgres", intervals, answer, url, timeout, forms)
        return _pg_figures(pg, timeout)
    bin_dir = _pg_bin()
    if bin_dir is None:
        return {
            "postgres_two_hop_s": None,
            "postgres_skipped": "no PostgreSQL URL and no server binaries found",
        }
    with TempPostgres(bin_dir) as url:
        pg = _child("postgres", intervals, answer, url, timeout, forms)
    return {**_pg_figures(pg, timeout), "postgres_server": "temporary (fsync off)"}


def _pg_figures(pg: dict, timeout: int) -> dict:
    figures = {
        "postgres_timeout_s": timeout,
        "postgres_two_hop_s": pg["sweep"]["seconds"],
        "postgres_load_s": pg["load_s"],
        "postgres_matches": pg["sweep"]["matches"],
        "postgres_index": pg["index"],
        "postgres_timed_out": pg["sweep"]["timed_out"],
    }
    if "pairwise" in pg:
        figures.update(
            postgres_pairwise_s=pg["pairwise"]["seconds"],
            postgres_pairwise_matches=pg["pairwise"]["matches"],
            postgres_pairwise_timed_out=pg["pairwise"]["timed_out"],
        )
    return figures


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    roots = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next((r for r in roots if (r / "pg_ctl").exists()), None)


class TempPostgres:
    """A throw-away PostgreSQL server: initdb in a temporary directory, fsync off, a free
    port, a Unix socket in the same directory; stopped and removed on exit. As root the
    server runs as the ``postgres`` user (PostgreSQL refuses to run as root)."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir

    def _cmd(self, *args) -> list[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return cmd

    def __enter__(self) -> str:
        self.dir = Path(tempfile.mkdtemp(prefix="anyuan-trace-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        subprocess.run(  # noqa: S603
            self._cmd("initdb", "-D", str(data), "-U", "bench", "-A", "trust", "-E", "UTF8"),
            check=True,
            capture_output=True,
        )
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=1GB "
            "-c work_mem=256MB -c maintenance_work_mem=1GB -c max_wal_size=8GB"
        )
        subprocess.run(  # noqa: S603
            self._cmd(
                "pg_ctl", "-D", str(data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start"
            ),
            check=True,
            capture_output=True,
        )
        return f"postgresql://bench@/postgres?host={self.dir}&port={self.port}"

    def __exit__(self, *exc):
        subprocess.run(  # noqa: S603
            self._cmd("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


def print_table(figures: dict) -> None:
    def s(v):
        return "—" if v is None else f"{v:.3f} s"

    pg = s(figures.get("postgres_two_hop_s"))
    if figures.get("postgres_timed_out"):
        pg = f"> {figures.get('postgres_timeout_s')} s (cancelled)"
    pg_pairwise = s(figures.get("postgres_pairwise_s"))
    if figures.get("postgres_pairwise_timed_out"):
        pg_pairwise = f"> {figures.get('postgres_timeout_s')} s (cancelled)"
    rows = [
        ("figure", "measured", "target"),
        ("persons / intervals", f"{figures.get('persons')} / {figures.get('intervals')}", ""),
        ("direct contacts, warm (p50)", s(figures.get("direct_warm_p50_s")), "≤ 0.050 s"),
        ("2 hops, warm (p50)", s(figures.get("two_hop_warm_p50_s")), "≤ 2 s"),
        ("cold (fresh process, 2 hops)", s(figures.get("cold_s")), "≤ 20 s"),
        ("peak memory", f"{figures.get('peak_rss_mb')} MB", "≤ 4096 MB"),
        ("DuckDB SQL, 2 hops", s(figures.get("duckdb_two_hop_s")), "(comparison)"),
        ("PostgreSQL SQL, 2 hops", pg, "(comparison)"),
        *(
            [
                ("DuckDB pairwise join", s(figures.get("duckdb_pairwise_s")), ""),
                ("PostgreSQL pairwise join", pg_pairwise, ""),
            ]
            if "duckdb_pairwise_s" in figures
            else []
        ),
        ("same people as anyuan", str(figures.get("matches_reference")), "True"),
        (
            "contacts / secondary",
            f"{figures.get('contacts')} / {figures.get('secondary_contacts')}",
            "",
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for i, row in enumerate(rows):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)), file=sys.stderr)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=sys.stderr)


# --- the steps (child processes) -----------------------------------------------------------


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def step_simulate(scale, days, seed, out) -> dict:
    from anyuan.simulator.run import simulate

    simulate(scale, int(days), int(seed), Path(out))
    return {"peak_rss_mb": _peak_mb()}


def staying_zones(zones_csv: Path) -> tuple[dict[str, int], dict[str, int], set[int]]:
    """(zone key ``PARK/CODE`` → id, zone key → staying zone id, contact zone ids)."""
    from anyuan.tracing.engine import contact_kind

    with open(zones_csv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ids = {f"{r['park']}/{r['code']}": i for i, r in enumerate(rows)}
    by_code = {(r["park"], r["code"]): r for r in rows}
    staying = {}
    for r in rows:
        target = r
        while target is not None and target["is_transit"] == "1":
            parent = target["parent_code"]
            target = by_code.get((r["park"], parent)) if parent else None
        staying[f"{r['park']}/{r['code']}"] = ids[
            f"{(target or r)['park']}/{(target or r)['code']}"
        ]
    contact = {
        ids[f"{r['park']}/{r['code']}"]
        for r in rows
        if contact_kind(r["kind"], r["is_transit"] == "1")
    }
    return ids, staying, contact


def pair_passages(subject, zone, time_ms, is_in):
    """Stays from passages (numpy arrays), per (subject, zone) in event-time order: an
    ``in`` opens a stay unless one is open, an ``out`` closes the open one; an ``out``
    with none open gives nothing (an exit without entry), a stay open at the end gets
    ``end = OPEN``. Returns (subject, zone, start, end)."""
    import numpy as np

    from anyuan.tracing.engine import OPEN

    order = np.lexsort((~is_in, time_ms, zone, subject))  # at one instant: in before out
    subject, zone, time_ms, is_in = subject[order], zone[order], time_ms[order], is_in[order]
    n = len(subject)
    first = np.r_[True, (subject[1:] != subject[:-1]) | (zone[1:] != zone[:-1])]
    prev_in = np.r_[False, is_in[:-1]] & ~first
    opening = is_in & ~prev_in  # the state after a passage is its direction
    closing = ~is_in & prev_in
    last_open = np.maximum.accumulate(np.where(opening, np.arange(n), -1))
    close_pos = np.flatnonzero(closing)
    start_pos = last_open[close_pos]
    last = np.r_[first[1:], True]
    open_pos = np.flatnonzero(last & is_in)
    open_start = last_open[open_pos]
    s = np.r_[subject[start_pos], subject[open_start]]
    z = np.r_[zone[start_pos], zone[open_start]]
    a = np.r_[time_ms[start_pos], time_ms[open_start]]
    b = np.r_[time_ms[close_pos], np.full(len(open_start), OPEN, np.int64)]
    return s, z, a, b


def step_prepare(data, out) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from anyuan.tracing.engine import _merge

    started = time.perf_counter()
    data, out = Path(data), Path(out)
    ids, staying, contact = staying_zones(data / "registry" / "zones.csv")
    n_keys = max(ids.values()) + 1
    stay_of = np.zeros(n_keys, np.int64)
    for key, i in ids.items():
        stay_of[i] = staying[key]
    is_contact = np.zeros(n_keys, bool)
    is_contact[list(contact)] = True
    parts = {"subject": [], "zone": [], "time": [], "is_in": []}
    passages = 0
    for path in sorted((data / "events").glob("passages-*.parquet")):
        t = pq.read_table(
            path, columns=["event_time", "direction", "credential", "zone", "subject"]
        )
        passages += t.num_rows
        t = t.filter(pc.not_equal(t["credential"], ""))
        zone_dict = t["zone"].combine_chunks()
        local = np.array([ids[k] for k in zone_dict.dictionary.to_pylist()], np.int64)
        zone = stay_of[local[zone_dict.indices.to_numpy(zero_copy_only=False)]]
        keep = is_contact[zone]
        subj = t["subject"].combine_chunks()
        kind = pc.utf8_slice_codeunits(subj, 0, 1).to_numpy(zero_copy_only=False)
        number = pc.cast(pc.utf8_slice_codeunits(subj, 1), pa.int64()).to_numpy()
        code = np.select([kind == k for k in KIND_CODES], list(KIND_CODES.values()), -1)
        subject = code.astype(np.int64) * SUBJECT_BASE + number
        direction = t["direction"].combine_chunks()
        is_in = (
            direction.dictionary.to_numpy(zero_copy_only=False)[
                direction.indices.to_numpy(zero_copy_only=False)
            ]
            == "in"
        )
        ms = t["event_time"].combine_chunks().cast(pa.int64()).to_numpy()
        parts["subject"].append(subject[keep])
        parts["zone"].append(zone[keep])
        parts["time"].append(ms[keep])
        parts["is_in"].append(is_in[keep])
        del t
    subject, zone, time_ms, is_in = (
        np.concatenate(parts[k]) for k in ("subject", "zone", "time", "is_in")
    )
    del parts
    s, z, a, b = pair_passages(subject, zone, time_ms, is_in)
    del subject, zone, time_ms, is_in
    s, z, a, b = _merge(s, z, a, b)
    keys, dense = np.unique(s, return_inverse=True)
    with open(data / "registry" / "people.csv", encoding="utf-8") as f:
        persons = sum(1 for _ in f) - 1
    manifest = json.loads((data / "manifest.json").read_text())
    start = int(np.datetime64(manifest["start"], "ms").astype(np.int64)) - 8 * 3600 * 1000
    table = pa.table(
        {
            "subject": pa.array(dense.astype(np.int32)),
            "zone": pa.array(z.astype(np.int32)),
            "start": pa.array(a),
            "end": pa.array(b),
        }
    )
    pq.write_table(table, out, compression="zstd")
    meta = {
        "passages": passages,
        "persons": persons,
        "subjects": len(keys),
        "person_subjects": [int(i) for i in np.flatnonzero(keys // SUBJECT_BASE == 0)],
        "intervals": len(a),
        "window_start_ms": start,
        "window_end_ms": start + int(manifest["days"]) * DAY_MS,
    }
    out.with_suffix(".json").write_text(json.dumps(meta))
    return {
        "prepare_s": round(time.perf_counter() - started, 1),
        "passages": passages,
        "peak_rss_mb": _peak_mb(),
    }


def _load(intervals: Path):
    import pyarrow.parquet as pq

    from anyuan.tracing.engine import Intervals

    t = pq.read_table(intervals)
    meta = json.loads(intervals.with_suffix(".json").read_text())
    cols = [t[c].to_numpy() for c in ("subject", "zone", "start", "end")]
    return Intervals(*cols, n_subjects=meta["subjects"]), meta


def _index_cases(iv, meta, samples: int, seed: int):
    """``samples`` persons drawn with the seed among those with a stay in the first two
    days of the window."""
    import numpy as np

    persons = np.asarray(meta["person_subjects"], np.int64)
    early = np.zeros(iv.n_subjects, bool)
    w0 = meta["window_start_ms"]
    early[iv.subject[(iv.start >= w0) & (iv.start < w0 + 2 * DAY_MS)]] = True
    persons = persons[early[persons]]
    rng = np.random.default_rng(seed)
    return [int(p) for p in rng.choice(persons, size=min(samples, len(persons)), replace=False)]


def step_trace(intervals, answer, minutes, samples, repeat, seed, spawned) -> dict:
    started = float(spawned)
    from anyuan.tracing import engine

    iv, meta = _load(Path(intervals))
    loaded = time.time()
    w0, w1, need = meta["window_start_ms"], meta["window_end_ms"], int(minutes) * 60_000
    cases = _index_cases(iv, meta, int(samples), int(seed))
    first = cases[0]
    result = engine.trace(iv, [first], w0, w1, need, hops=2)
    cold = time.time() - started
    hops = [sorted(int(s) for s in h.subjects) for h in result.hops]
    while hops and not hops[-1]:
        hops.pop()
    Path(answer).write_text(
        json.dumps({"index": first, "w0": w0, "w1": w1, "min_ms": need, "hops": hops})
    )
    direct, two = [], []
    sizes = []
    for case in cases:
        for _ in range(int(repeat)):
            t = time.perf_counter()
            r1 = engine.trace(iv, [case], w0, w1, need, hops=1)
            direct.append(time.perf_counter() - t)
            t = time.perf_counter()
            r2 = engine.trace(iv, [case], w0, w1, need, hops=2)
            two.append(time.perf_counter() - t)
        sizes.append((len(r1.contacts(1)), len(r2.contacts(2)), r2.hops[-1].candidates))
    return {
        "persons": meta["persons"],
        "subjects": meta["subjects"],
        "intervals": len(iv),
        "index_case": first,
        "contacts": len(result.contacts(1)),
        "secondary_contacts": len(result.contacts(2)),
        "direct_warm_p50_s": round(statistics.median(direct), 4),
        "direct_warm_max_s": round(max(direct), 4),
        "two_hop_warm_p50_s": round(statistics.median(two), 4),
        "two_hop_warm_max_s": round(max(two), 4),
        "cold_s": round(cold, 3),
        "cold_load_s": round(loaded - started, 3),
        "samples": len(cases),
        "contacts_p50": statistics.median(s[0] for s in sizes),
        "secondary_contacts_p50": statistics.median(s[1] for s in sizes),
        "secondary_contacts_max": max(s[1] for s in sizes),
        "two_hop_candidates_max": max(s[2] for s in sizes),
        "engine_mb": round(iv.nbytes / 2**20, 1),
        "peak_rss_mb": _peak_mb(),
    }


# The 2-hop question in SQL: stays in contact zones in ``iv`` (subject, zone, start, end;
# ms; an open stay ends far in the future), the window [w0, w1), the index case, the
# minimum time together m; time-respecting (a close contact's stays count from their first
# exposure on). Two ways an analyst writes the second hop:
#
# - PAIRWISE_SQL joins every stay of the close contacts with every stay that overlaps it.
#   At longhua × 14 days that is well over 10^8 pairs (canteens at lunch): 272 s on
#   DuckDB, cancelled after 600 s on PostgreSQL with a GiST index.
# - SWEEP_SQL (the default) does not list pairs. Two stays share at least m when both last
#   at least m, the source stay starts by d.end − m and ends after d.start + m. So, per
#   zone, sort the sources (by start) and the candidate stays (by end − m) together; a
#   candidate is reached when the latest end among the sources before it is at least
#   its start + m: a running max() window — the engine's per-zone sweep, in SQL.
HOP1_SQL = """
WITH idx AS (
    SELECT zone, greatest(start, {w0}) AS a, least("end", {w1}) AS b
    FROM {iv} WHERE subject = {index} AND start < {w1} AND "end" > {w0}
),
hop1 AS (
    SELECT c.subject, min(greatest(c.start, i.a)) AS t
    FROM idx i JOIN {iv} c ON c.zone = i.zone AND {overlap_c}
    WHERE c.subject <> {index} AND least(c."end", i.b) - greatest(c.start, i.a) >= {min_ms}
    GROUP BY c.subject
),
src AS (
    SELECT s.zone, greatest(s.start, h.t) AS a, least(s."end", {w1}) AS b
    FROM hop1 h JOIN {iv} s ON s.subject = h.subject
    WHERE s."end" > h.t AND s.start < {w1}
),"""

PAIRWISE_SQL = """{hop1}
hop2 AS (
    SELECT DISTINCT d.subject
    FROM src r JOIN {iv} d ON d.zone = r.zone AND {overlap_d}
    WHERE least(d."end", r.b) - greatest(d.start, r.a) >= {min_ms}
      AND d.subject <> {index} AND d.subject NOT IN (SELECT subject FROM hop1)
)
SELECT 1 AS hop, subject FROM hop1 UNION ALL SELECT 2, subject FROM hop2
"""

SWEEP_SQL = """{hop1}
reach AS (SELECT zone, a, b FROM src WHERE b - a >= {min_ms}),
span AS (SELECT zone, min(a) AS a, max(b) AS b FROM reach GROUP BY zone),
sweep AS (
    SELECT zone, a AS pos, 0 AS ord, b AS reach, CAST(NULL AS integer) AS subject,
           CAST(NULL AS bigint) AS need
    FROM reach
    UNION ALL
    SELECT d.zone, d."end" - {min_ms}, 1, NULL, d.subject, d.start + {min_ms}
    FROM span r JOIN {iv} d ON d.zone = r.zone AND {overlap_d}
    WHERE d."end" - d.start >= {min_ms} AND d.subject <> {index}
),
hop2 AS (
    SELECT DISTINCT subject FROM (
        SELECT subject, need, max(reach) OVER (
            PARTITION BY zone ORDER BY pos, ord ROWS UNBOUNDED PRECEDING) AS reached
        FROM sweep) s
    WHERE subject IS NOT NULL AND reached >= need
      AND subject NOT IN (SELECT subject FROM hop1)
)
SELECT 1 AS hop, subject FROM hop1 UNION ALL SELECT 2, subject FROM hop2
"""
FORMS = {"sweep": SWEEP_SQL, "pairwise": PAIRWISE_SQL}


# "overlaps": plain comparisons (DuckDB), or the range operator a PostgreSQL analyst
# indexes with GiST (btree_gist: (zone, int8range(start, end))) — the same condition for
# the non-empty half-open stays here
PLAIN = {
    "overlap_c": 'c.start < i.b AND c."end" > i.a',
    "overlap_d": 'd.start < r.b AND d."end" > r.a',
}
RANGES = {
    "overlap_c": 'int8range(c.start, c."end") && int8range(i.a, i.b)',
    "overlap_d": 'int8range(d.start, d."end") && int8range(r.a, r.b)',
}


def _sql(question: dict, table="iv", overlaps: dict = PLAIN, form="sweep") -> str:
    return FORMS[form].replace("{hop1}", HOP1_SQL).format(
        iv=table, **overlaps, w0=int(question["w0"]), w1=int(question["w1"]), index=int(question["index"]),
        min_ms=int(question["min_ms"]),
    )  # fmt: skip


def _hops(rows) -> list[list[int]]:
    hops = [[], []]
    for hop, subject in rows:
        hops[int(hop) - 1].append(int(subject))
    hops = [sorted(h) for h in hops]
    while hops and not hops[-1]:
        hops.pop()
    return hops


def step_duckdb(intervals, answer, forms="sweep") -> dict:
    import duckdb

    question = json.loads(Path(answer).read_text())
    con = duckdb.connect()
    started = time.perf_counter()
    con.execute("CREATE TABLE iv AS SELECT * FROM read_parquet(?)", [str(intervals)])
    load = time.perf_counter() - started
    result = {
        "load_s": round(load, 3),
        "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
    }
    for form in forms.split(","):
        started = time.perf_counter()
        rows = con.execute(_sql(question, form=form)).fetchall()
        result[form] = {"seconds": round(time.perf_counter() - started, 3), "hops": _hops(rows)}
    return result


def step_postgres(intervals, answer, url, timeout, forms="sweep") -> dict:
    import io

    import psycopg
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    question = json.loads(Path(answer).read_text())
    table = "bench_trace_intervals"
    overlaps = RANGES
    result = {}
    with psycopg.connect(url, autocommit=True) as con:
        started = time.perf_counter()
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(
            f'CREATE UNLOGGED TABLE {table} (subject integer, zone integer, start bigint, "end" bigint)'
        )
        t = pq.read_table(intervals)
        with con.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
            for batch in t.to_batches(1_000_000):
                buf = io.BytesIO()
                pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=False))
                copy.write(buf.getvalue())
        try:
            con.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        except psycopg.Error:  # not ours to install: a B-tree and plain comparisons
            result["index"] = "btree (zone, start)"
            con.execute(f"CREATE INDEX ON {table} (zone, start)")
            overlaps = PLAIN
        else:
            result["index"] = "gist (zone, int8range(start, end))"
            con.execute(f'CREATE INDEX ON {table} USING gist (zone, int8range(start, "end"))')
        con.execute(f"CREATE INDEX ON {table} (subject)")
        con.execute(f"ANALYZE {table}")
        result["load_s"] = round(time.perf_counter() - started, 3)
        try:
            con.execute(f"SET statement_timeout = '{int(timeout)}s'")
            for form in forms.split(","):
                started = time.perf_counter()
                try:
                    rows = con.execute(_sql(question, table, overlaps, form)).fetchall()
                except psycopg.errors.QueryCanceled:
                    result[form] = {"seconds": None, "timed_out": True, "matches": None}
                    continue
                result[form] = {
                    "seconds": round(time.perf_counter() - started, 3),
                    "timed_out": False,
                    "matches": _hops(rows) == question["hops"],
                }
        finally:
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return result


if __name__ == "__main__":
    step, *rest = sys.argv[1:]
    print(json.dumps(globals()[f"step_{step}"](*rest)))
