"""The tracing benchmark's parts on small data: the vectorised pairing of passages into
stays, the staying zones of transit zones, and the analyst's SQL (DuckDB) against the
engine on random stays."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
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
    assert bench.step_duckdb(path, answer)["hops"] == hops
