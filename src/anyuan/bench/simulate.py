"""Generate a simulated park (default: longhua for 14 days; target < 10 min, < 4 GB).

The simulator runs in a child process so that its peak memory (``peak_rss_mb``, the
child's maximum resident set) is its own. The output goes to a new directory under
``var/bench`` that is removed afterwards unless ``--keep`` or ``--out-dir`` is given.

Figures: the sizes (people, zones, devices, vehicles, buildings, people living on site),
``passages`` in all and ``passages_per_day`` (mean), the busiest 15 minutes at the park
gates, alarms, heartbeats and truth lines, ``output_mb`` on disk, ``generation_s`` (wall
time of the whole generation, registry included) and ``peak_rss_mb``.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def add_arguments(parser):
    from anyuan.simulator.scales import SCALES

    parser.add_argument("--scale", choices=list(SCALES), default="longhua")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out-dir", help="write the simulation here and keep it")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")


def run(options) -> dict:
    from django.conf import settings

    scale = options.get("scale") or "longhua"
    days = int(options.get("days") or 14)
    seed = int(options.get("seed") if options.get("seed") is not None else 1)
    if days < 1:
        raise ValueError("--days must be at least 1")
    if seed < 0:
        raise ValueError("--seed must be 0 or more")
    keep = bool(options.get("keep") or options.get("out_dir"))
    if options.get("out_dir"):
        out = Path(options["out_dir"])
        if out.exists() and any(out.iterdir()):
            raise ValueError(f"{out} is not empty")
    else:
        base = Path(settings.VAR_DIR) / "bench"
        base.mkdir(parents=True, exist_ok=True)
        out = Path(tempfile.mkdtemp(prefix=f"simulate-{scale}-", dir=base))
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "anyuan.bench.simulate", scale, str(days), str(seed), str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise ValueError(f"simulator failed:\n{done.stderr[-4000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        figures["output_mb"] = round(
            sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20, 1
        )
        figures["output_dir"] = str(out) if keep else None
    finally:
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
    return figures


def _child(scale: str, days: int, seed: int, out: Path) -> dict:
    from anyuan.simulator.run import simulate

    started = time.perf_counter()
    manifest = simulate(scale, days, seed, out)
    elapsed = time.perf_counter() - started
    sizes, events = manifest["sizes"], manifest["events"]
    per_day = list(events["passages_per_day"].values())
    return {
        "benchmark": "simulate",
        "scale": scale,
        "days": days,
        "seed": seed,
        "people": sizes["people"],
        "people_by_kind": sizes["people_by_kind"],
        "living_on_site": sizes["living_on_site"],
        "enterprises": sizes["enterprises"],
        "labour_agencies": sizes["labour_agencies"],
        "buildings": sizes["buildings"],
        "zones": sizes["zones"],
        "devices": sizes["devices"],
        "vehicles": sizes["vehicles"],
        "vehicles_by_kind": sizes["vehicles_by_kind"],
        "passages": events["passages"],
        "passages_per_day": events["mean_passages_per_day"],
        "passages_busiest_day": max(per_day),
        "peak_gate_passages_15min": max(events["peak_gate_passages_15min"].values()),
        "alarms": events["alarms"],
        "heartbeats": events["heartbeats"],
        "truth_lines": manifest["truth_lines"],
        "generation_s": round(elapsed, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    name, n_days, n_seed, directory = sys.argv[1:5]
    print(json.dumps(_child(name, int(n_days), int(n_seed), Path(directory))))
