"""The tracing benchmark's parts on small data: the vectorised pairing of passages into
stays, the staying zones of transit zones, and the analyst's SQL (DuckDB) against the
engine on random stays."""

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyuan.bench import trace as bench
from anyuan.tracing import engine


def test_pairing_follows_the_processor_rules_in_event_time_order():
    # (subject, zone, time, in?) — given out of order, with a duplicate and a double entry
    rows = [
        (1, 5, 30, False),  # the exit of the first stay, received before its entry
        (1, 5, 10, True),
        (1, 5, 10, True),  # a duplicate delivery
        (1, 5, 50, True),
        (1, 5, 55, True),  # a double entry: the first is kept
        (1, 5, 70, False),
        (1, 5, 80, False),  # an exit without entry: no stay
        (1, 6, 5, False),  # an exit without entry in another zone
        (2, 5, 20, True),  # still inside at the end
    ]
    s, z, t, d = (np.array(c) for c in zip(*rows, strict=True))
    got = sorted(zip(*(x.tolist() for x in bench.pair_passages(s, z, t, d)), strict=True))
    assert got == [(1, 5, 10, 30), (1, 5, 50, 70), (2, 5, 20, int(engine.OPEN))]


def test_transit_zones_count_for_the_zone_they_lead_into(tmp_path):
    zones = tmp_path / "zones.csv"
    zones.write_text(
        "station_code,park,code,name,ring,kind,parent_code,owner_credit_code,capacity,is_transit,required_qualifications\n"
        "S,P,PARK,park,park,area,,,,0,\n"
        "S,P,G1,gate,park,gate,PARK,,,1,\n"
        "S,P,CTN-1,canteen,park,canteen,PARK,,,0,\n"
        "S,P,C1,corridor,park,corridor,CTN-1,,,1,\n"
        "S,P,W1,workshop,production,workshop,PARK,,,0,\n"
    )
    ids, staying, contact = bench.staying_zones(zones)
    assert staying["P/G1"] == ids["P/PARK"] and staying["P/C1"] == ids["P/CTN-1"]
    assert contact == {ids["P/CTN-1"], ids["P/W1"]}  # not the park, gate or corridor


stay = st.tuples(st.integers(0, 9), st.integers(0, 2), st.integers(0, 300), st.integers(1, 120))


@settings(max_examples=40, deadline=None)
@given(st.lists(stay, min_size=5, max_size=60), st.integers(0, 9), st.integers(5, 40))
def test_the_sql_gives_the_engines_people(tmp_path_factory, stays, index, minutes):
    path = tmp_path_factory.mktemp("iv") / "intervals.parquet"
    s = np.array([x[0] for x in stays])
    z = np.array([x[1] for x in stays])
    a = np.array([x[2] * 60_000 for x in stays], np.int64)
    b = a + np.array([x[3] * 60_000 for x in stays], np.int64)
    s, z, a, b = engine._merge(s, z, a, b)  # the benchmark stores merged stays
    pq.write_table(pa.table({"subject": s, "zone": z, "start": a, "end": b}), path)
    iv = engine.Intervals(s, z, a, b, n_subjects=10)
    result = engine.trace(iv, [index], 0, 500 * 60_000, minutes * 60_000, hops=2)
    hops = [sorted(int(x) for x in h.subjects) for h in result.hops]
    while hops and not hops[-1]:
        hops.pop()
    answer = path.with_name("answer.json")
    answer.write_text(json.dumps({"index": index, "w0": 0, "w1": 500 * 60_000,
                                  "min_ms": minutes * 60_000, "hops": hops}))  # fmt: skip
    got = bench.step_duckdb(path, answer, "sweep,pairwise")
    assert got["sweep"]["hops"] == got["pairwise"]["hops"] == hops


def _random_question(tmp_path, seed: int, minutes: int = 15):
    """Random merged stays of 40 people in 4 zones over a day, with the engine's answer."""
    rng = np.random.default_rng(seed)
    n = 400
    s = rng.integers(0, 40, n)
    z = rng.integers(0, 4, n)
    a = rng.integers(0, 1440, n).astype(np.int64) * 60_000
    b = a + rng.integers(1, 120, n).astype(np.int64) * 60_000
    b[rng.random(n) < 0.05] = engine.OPEN  # still inside
    s, z, a, b = engine._merge(s, z, a, b)
    path = tmp_path / "intervals.parquet"
    pq.write_table(pa.table({"subject": s, "zone": z, "start": a, "end": b}), path)
    iv = engine.Intervals(s, z, a, b, n_subjects=40)
    w1 = 1440 * 60_000
    result = engine.trace(iv, [0], 0, w1, minutes * 60_000, hops=2)
    hops = [sorted(int(x) for x in h.subjects) for h in result.hops]
    while hops and not hops[-1]:
        hops.pop()
    answer = tmp_path / "answer.json"
    answer.write_text(
        json.dumps({"index": 0, "w0": 0, "w1": w1, "min_ms": minutes * 60_000, "hops": hops})
    )
    return path, answer, hops


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (CI runs the suite on it too)",
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_both_sql_forms_give_the_engines_people_on_postgresql(tmp_path, seed):
    from django.db import connection
    from psycopg.conninfo import make_conninfo

    path, answer, hops = _random_question(tmp_path, seed)
    assert len(hops) == 2  # the data has secondary contacts to find
    db = connection.settings_dict
    keys = {
        "dbname": "NAME",
        "user": "USER",
        "password": "PASSWORD",
        "host": "HOST",
        "port": "PORT",
    }
    url = make_conninfo(**{k: str(db[v]) for k, v in keys.items() if db.get(v)})
    got = bench.step_postgres(path, answer, url, 60, "sweep,pairwise")
    assert got["sweep"]["matches"] is True and got["pairwise"]["matches"] is True


def test_the_sweep_gives_the_pairwise_join_people_on_larger_data(tmp_path):
    path, answer, hops = _random_question(tmp_path, 7)
    assert len(hops) == 2
    got = bench.step_duckdb(path, answer, "sweep,pairwise")
    assert got["sweep"]["hops"] == got["pairwise"]["hops"] == hops
