"""The engine against the brute-force reference (``reference.py``) on small random data:
open stays, exits without entry, duplicates, overlapping stays of one subject, any input
order, contacts exactly at the threshold, the single and the cumulative rule, 1–3 hops."""

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from anyuan.tracing import engine
from anyuan.tracing.tests import reference

MIN = 60_000  # ms


def run_engine(stays, index, w0, w1, need, cumulative, hops, method="auto"):
    subject = [s for s, _z, _a, _b in stays]
    zone = [z for _s, z, _a, _b in stays]
    end = [int(engine.OPEN) if b is None else b * MIN for _s, _z, _a, b in stays]
    # an exit without entry: no known start (the loader gives it start = end)
    start = [e if a is None else a * MIN for (_s, _z, a, _b), e in zip(stays, end, strict=True)]
    iv = engine.Intervals(subject, zone, start, end, n_subjects=8)
    result = engine.trace(
        iv, index, w0 * MIN, w1 * MIN, need * MIN, cumulative=cumulative, hops=hops, method=method
    )
    out = []
    for h in result.hops:
        assert len(set(h.subjects.tolist())) == len(h.subjects)
        out.append(
            {
                int(s): (int(f) // MIN, int(e) // MIN)
                for s, f, e in zip(h.subjects, h.first, h.exposure, strict=True)
            }
        )
        # ranked by exposure, largest first
        assert list(h.exposure) == sorted(h.exposure, reverse=True)
    return out


def same(got, want):
    while got and not got[-1]:
        got = got[:-1]
    while want and not want[-1]:
        want = want[:-1]
    return got == want


stay = st.tuples(
    st.integers(0, 5),  # subject
    st.integers(0, 1),  # zone
    # start (None: an exit without entry), mostly close together so that people meet
    st.one_of(st.integers(0, 240), st.integers(0, 240), st.integers(0, 2900), st.none()),
    # duration (None: an open stay), mostly short, sometimes over a day
    st.one_of(st.integers(0, 90), st.integers(0, 1800), st.none()),
).map(
    lambda t: (
        (t[0], t[1], t[2], None if t[3] is None else t[2] + t[3])
        if t[2] is not None
        else (t[0], t[1], None, t[3] or 0)
    )
)


@st.composite
def cases(draw):
    stays = draw(st.lists(stay, min_size=12, max_size=40))
    # duplicates and a shuffled order
    dup = draw(st.lists(st.sampled_from(stays), max_size=5))
    stays = draw(st.permutations(stays + dup))
    index = draw(st.lists(st.integers(0, 5), min_size=1, max_size=2, unique=True))
    w0 = draw(st.one_of(st.integers(0, 60), st.integers(0, 1500)))
    w1 = draw(st.integers(w0 + 1, 3100))
    lengths = [
        b - a for _s, _z, a, b in stays if a is not None and b is not None and 0 < b - a < 60
    ]
    need = draw(st.one_of(st.integers(1, 40), st.sampled_from(lengths or [15]).filter(bool)))
    return stays, index, w0, w1, need


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cases(),
    st.booleans(),
    st.integers(1, 3),
    st.sampled_from([engine.CHUNK, 3]),
    st.sampled_from(["pairs", "sweep"]),
)
@example(  # exactly at the threshold: 15 minutes together counts, 14 does not
    ([(0, 0, 0, 15), (1, 0, 0, 100), (2, 0, 86, 100)], [0], 0, 200, 15), False, 2, 3, "sweep"
)
def test_engine_matches_the_reference(case, cumulative, hops, chunk, method):
    """Both methods (listing pairs, and the sweep for large frontiers) against the
    reference; the sweep serves the single rule only (the cumulative rule pairs)."""
    stays, index, w0, w1, need = case
    want = reference.trace(stays, index, w0, w1, need, cumulative, hops)
    saved = engine.CHUNK
    engine.CHUNK = chunk  # tiny chunks: every frontier interval expanded on its own
    try:
        got = run_engine(stays, index, w0, w1, need, cumulative, hops, method)
    finally:
        engine.CHUNK = saved
    assert same(got, want), (got, want)


@pytest.mark.parametrize("method", ["pairs", "sweep"])
def test_exactly_at_the_threshold_counts(method):
    stays = [(0, 0, 0, 15), (1, 0, 0, 100), (2, 0, 1, 15)]
    got = run_engine(stays, [0], 0, 200, 15, False, 1, method)
    assert got == [{1: (0, 15)}]  # subject 2 shared 14 minutes
    assert run_engine(stays, [0], 0, 200, 16, False, 1, method) == [{}]
    # the index case arrives exactly N minutes before the contact leaves
    stays = [(0, 0, 85, 100), (1, 0, 0, 100), (2, 0, 0, 99)]
    assert run_engine(stays, [0], 0, 200, 15, False, 1, method) == [{1: (85, 15)}]


def test_secondary_contacts_are_time_respecting():
    stays = [
        (0, 0, 100, 130),  # the index case meets 1 at 100–130
        (1, 0, 100, 130),
        (1, 1, 0, 60),  # 1 met 2 *before* being exposed: no secondary contact
        (2, 1, 0, 60),
        (1, 1, 200, 230),  # 1 meets 3 after: a secondary contact
        (3, 1, 200, 230),
    ]
    got = run_engine(stays, [0], 0, 1000, 15, False, 2)
    assert got == [{1: (100, 30)}, {3: (200, 30)}]
    assert run_engine(stays, [0], 0, 1000, 15, False, 2, "sweep") == got


def test_cumulative_rule_adds_short_meetings_within_24_hours():
    # three 5-minute meetings in two zones within a day: 15 minutes in all
    stays = [(0, 0, 0, 5), (1, 0, 0, 5), (0, 1, 600, 605), (1, 1, 600, 605)]
    stays += [(0, 0, 1400, 1405), (1, 0, 1400, 1405), (2, 0, 1400, 1405)]
    assert run_engine(stays, [0], 0, 3000, 15, True, 1) == [{1: (0, 15)}]
    assert run_engine(stays, [0], 0, 3000, 15, False, 1) == [{}]
    # the third meeting a day and a minute after the first: no 24 hours hold 15 minutes
    later = [s if s[2] != 1400 else (s[0], s[1], 1441, 1446) for s in stays]
    assert run_engine(later, [0], 0, 3000, 15, True, 1) == [{}]


def test_open_stays_last_until_the_end_of_the_window():
    stays = [(0, 0, 0, None), (1, 0, 50, None)]
    assert run_engine(stays, [0], 0, 80, 30, False, 1) == [{1: (50, 30)}]
    assert run_engine(stays, [0], 0, 79, 30, False, 1) == [{}]


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        engine.Intervals([0], [0], [0], [1, 2])
    with pytest.raises(ValueError):
        engine.Intervals([0], [-1], [0], [1])
    iv = engine.Intervals([0, 1], [0, 0], [0, 0], [10, 10])
    with pytest.raises(ValueError):
        engine.trace(iv, [0], 10, 10, 1)
    with pytest.raises(ValueError):
        iv.contacts(np.array([0]), np.array([0]), 0, 10, 0)


def test_empty_and_unknown_subjects():
    iv = engine.Intervals([], [], [], [])
    assert engine.trace(iv, [3], 0, 10, 1).contacts(1).tolist() == []
    iv = engine.Intervals([0, 1], [0, 0], [0, 0], [10, 10])
    assert engine.trace(iv, [99], 0, 10, 1).contacts(1).tolist() == []
