"""Same seed, same output; another seed, another park."""

import pyarrow.parquet as pq


def _files(run):
    return sorted(p.relative_to(run.out) for p in run.out.rglob("*") if p.is_file())


def test_same_seed_gives_identical_output(sim, sim_again):
    assert _files(sim) == _files(sim_again)
    for rel in _files(sim):
        a, b = sim.out / rel, sim_again.out / rel
        if rel.suffix == ".parquet":
            ta, tb = pq.read_table(a), pq.read_table(b)
            assert ta.schema == tb.schema, rel
            assert ta.equals(tb), f"{rel} differs between two runs with the same seed"
        else:
            assert a.read_bytes() == b.read_bytes(), f"{rel} differs between two runs"


def test_another_seed_gives_another_park(sim, sim_other_seed):
    assert _files(sim) == _files(sim_other_seed)  # same layout
    for kind in ("people", "enterprises", "vehicles"):
        assert (sim.out / "registry" / f"{kind}.csv").read_bytes() != (
            sim_other_seed.out / "registry" / f"{kind}.csv"
        ).read_bytes()
    first = sorted((sim.out / "events").glob("passages-*.parquet"))[0].name
    a = pq.read_table(sim.out / "events" / first)
    b = pq.read_table(sim_other_seed.out / "events" / first)
    assert not a.equals(b)
    assert (sim.out / "truth.jsonl").read_bytes() != (
        sim_other_seed.out / "truth.jsonl"
    ).read_bytes()


def test_every_file_is_listed_in_the_manifest_with_its_rows(sim):
    listed = {**sim.manifest["registry"], **sim.manifest["events"]["files"]}
    on_disk = {str(p.relative_to(sim.out)) for p in sim.out.rglob("*.csv")} | {
        str(p.relative_to(sim.out)) for p in sim.out.rglob("*.parquet")
    }
    assert set(listed) == on_disk
    for rel, rows in sim.manifest["events"]["files"].items():
        assert pq.read_metadata(sim.out / rel).num_rows == rows, rel
    for rel, rows in sim.manifest["registry"].items():
        with open(sim.out / rel, encoding="utf-8") as f:
            assert sum(1 for _ in f) - 1 == rows, rel
    per_day = sim.manifest["events"]["passages_per_day"]
    assert len(per_day) == sim.manifest["days"]
    assert sum(per_day.values()) == sim.manifest["events"]["passages"]
