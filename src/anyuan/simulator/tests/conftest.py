"""Simulated parks shared by the simulator's tests (generated once per test session)."""

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from anyuan.simulator.run import simulate

SEED = 7
DAYS = 3


@dataclass
class Run:
    out: Path
    manifest: dict
    _cache: dict = field(default_factory=dict)

    def csv(self, kind: str) -> list[dict]:
        if kind not in self._cache:
            with open(self.out / "registry" / f"{kind}.csv", encoding="utf-8", newline="") as f:
                self._cache[kind] = list(csv.DictReader(f))
        return self._cache[kind]

    def header(self, kind: str) -> list[str]:
        with open(self.out / "registry" / f"{kind}.csv", encoding="utf-8", newline="") as f:
            return next(csv.reader(f))

    def truth(self) -> list[dict]:
        with open(self.out / "truth.jsonl", encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def table(self, prefix: str) -> pa.Table:
        """All files of one stream, in file (date) order, rows in delivery order."""
        key = f"table:{prefix}"
        if key not in self._cache:
            files = sorted((self.out / "events").glob(f"{prefix}-*.parquet"))
            self._cache[key] = pa.concat_tables([pq.read_table(f) for f in files])
        return self._cache[key]

    def rows(self, prefix: str) -> list[dict]:
        key = f"rows:{prefix}"
        if key not in self._cache:
            self._cache[key] = self.table(prefix).to_pylist()
        return self._cache[key]


@pytest.fixture(scope="session")
def sim(tmp_path_factory) -> Run:
    out = tmp_path_factory.mktemp("sim-tiny")
    return Run(out, simulate("tiny", DAYS, SEED, out, start=dt.date(2026, 11, 2)))


@pytest.fixture(scope="session")
def sim_again(tmp_path_factory) -> Run:
    out = tmp_path_factory.mktemp("sim-tiny-again")
    return Run(out, simulate("tiny", DAYS, SEED, out, start=dt.date(2026, 11, 2)))


@pytest.fixture(scope="session")
def sim_other_seed(tmp_path_factory) -> Run:
    out = tmp_path_factory.mktemp("sim-tiny-other")
    return Run(out, simulate("tiny", DAYS, SEED + 1, out, start=dt.date(2026, 11, 2)))
