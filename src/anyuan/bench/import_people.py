"""Import N people from a CSV file into a fresh SQLite database (target: 100,000 in < 60 s).

The benchmark runs in a child process whose ``ANYUAN_VAR`` is a new temporary directory,
so it migrates and fills a fresh SQLite database (and its own data key) there and never
touches the configured database. It generates a valid people file (employees, temporary
workers through an agency, visitors keyed by face id; ID numbers, phones, cards, shifts,
dormitories, hire dates) plus the station, park, enterprises, agency and dormitories it
refers to, imports it with ``anyuan.registry.importing.import_file`` as the system, checks
the result, and imports the same file again (every row unchanged).

Figures: ``import_s`` (read + check + write, first import), ``validate_s`` and ``write_s``
(its two phases), ``rows_per_s``, ``reimport_s`` (second import, nothing to write),
``setup_s`` (migrate and reference data, not counted) and the child's peak memory.
"""

import json
import os
import sys
import tempfile

from anyuan.bench import child_env, run_child

DEFAULT_ROWS = 100_000


def add_arguments(parser):
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="people to import")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated file")


def run(options) -> dict:
    rows = int(options.get("rows") or DEFAULT_ROWS)
    seed = int(options.get("seed") or 1)
    if rows < 1:
        raise ValueError("--rows must be at least 1")
    with tempfile.TemporaryDirectory(prefix="anyuan-bench-") as tmp:
        env = child_env(tmp)
        return json.loads(run_child("anyuan.bench.import_people", env, tmp, str(rows), str(seed)))


# --- the child process ----------------------------------------------------------------------


def _reference_data():
    from anyuan.core.testing import make_credit_code
    from anyuan.registry import models as m

    station = m.Station.objects.create(code="BENCH", name="基准派出所")
    park = m.Park.objects.create(station=station, name="基准园区")
    enterprises = [
        m.Enterprise.objects.create(
            station=station,
            park=park,
            name=f"基准企业{i:02d}",
            credit_code=make_credit_code(1000 + i),
        )
        for i in range(20)
    ]
    agency = m.LabourAgency.objects.create(
        station=station, name="基准劳务", credit_code=make_credit_code(999)
    )
    root = m.Zone.objects.create(park=park, name="生活区", code="LIVING", ring="living")
    for i in range(50):
        m.Zone.objects.create(
            park=park, parent=root, name=f"宿舍{i:02d}", code=f"D{i:02d}", ring="living",
            kind="dormitory", capacity=8,
        )  # fmt: skip
    return station, park, enterprises, agency


def _people_csv(path, rows: int, seed: int, station, park, enterprises, agency) -> None:
    import csv
    import datetime as dt
    import random

    from anyuan.core.testing import make_id_number, make_phone
    from anyuan.registry.importing import KINDS

    rnd = random.Random(seed)
    header = [c.name for c in KINDS["people"].columns]
    born0 = dt.date(1965, 1, 1)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(rows):
            r = rnd.random()
            kind = "employee" if r < 0.85 else "temporary" if r < 0.95 else "visitor"
            ent = enterprises[i % len(enterprises)]
            visitor = kind == "visitor"
            id_number = (
                ""
                if visitor
                else make_id_number(i % 1000, born=born0 + dt.timedelta(days=i // 1000))
            )
            row = {
                "station_code": station.code,
                "id_number": id_number,
                "kind": kind,
                "name": f"员工{i:06d}",
                "phone": make_phone(i) if rnd.random() < 0.7 else "",
                "enterprise_credit_code": "" if visitor else ent.credit_code,
                "agency_credit_code": agency.credit_code if kind == "temporary" else "",
                "employee_number": f"E{i:07d}" if kind == "employee" else "",
                "card_number": f"C{i:08d}" if not visitor else "",
                "face_id": f"F{i:08d}" if visitor or rnd.random() < 0.3 else "",
                "shift": rnd.choice(["day", "night", ""]),
                "home_zone": f"{park.name}/D{i % 50:02d}" if rnd.random() < 0.2 else "",
                "hire_date": (dt.date(2015, 1, 1) + dt.timedelta(days=i % 3000)).isoformat()
                if not visitor
                else "",
                "leave_date": "",
                "note": "",
            }
            w.writerow([row[h] for h in header])


def worker(var_dir: str, rows: int, seed: int) -> dict:
    import datetime as dt
    import resource
    import time
    from pathlib import Path

    import django

    django.setup()
    from django.core.management import call_command

    from anyuan.core.personal import digest
    from anyuan.core.testing import make_id_number
    from anyuan.registry.importing import import_file
    from anyuan.registry.models import Person

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    station, park, enterprises, agency = _reference_data()
    path = Path(var_dir) / "people.csv"
    _people_csv(path, rows, seed, station, park, enterprises, agency)
    setup_s = time.perf_counter() - started

    started = time.perf_counter()
    with path.open("rb") as f:
        result = import_file("people", f, filename=path.name)
    import_s = time.perf_counter() - started
    if not result.ok:
        raise SystemExit("import refused: " + "; ".join(str(p) for p in result.problems[:10]))
    stored = Person.objects.count()
    if stored != rows or result.created != rows:
        raise SystemExit(f"expected {rows} people, found {stored}")
    first = make_id_number(0, born=dt.date(1965, 1, 1))
    found = Person.objects.filter(id_number_digest=digest("id_number", first)).exists()

    started = time.perf_counter()
    with path.open("rb") as f:
        again = import_file("people", f, filename=path.name)
    reimport_s = time.perf_counter() - started

    return {
        "rows": rows,
        "import_s": round(import_s, 2),
        "rows_per_s": round(rows / import_s),
        "validate_s": round(result.timings.get("validate_s", 0), 2),
        "write_s": round(result.timings.get("write_s", 0), 2),
        "reimport_s": round(reimport_s, 2),
        "reimport_unchanged": again.unchanged,
        "digest_lookup_ok": found,
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "setup_s": round(setup_s, 2),
        "database": "sqlite, fresh temporary file",
        "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    var, n, s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(worker(var, n, s)))
