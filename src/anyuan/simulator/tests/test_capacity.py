"""The over-capacity truth: counted from the delivered events as the presence rules count."""

from types import SimpleNamespace

import numpy as np

from anyuan.simulator.anomalies import Truth
from anyuan.simulator.capacity import CapacityWatch
from anyuan.simulator.life import IN, OUT
from anyuan.simulator.world import Zone

MIN = 60_000


def _world():
    zones = [
        Zone(0, 0, "CTN", "食堂", "park", "canteen", capacity=2),
        Zone(1, 0, "CTN-G", "食堂门", "park", "gate", parent=0, transit=True),
        Zone(2, 0, "YARD", "院子", "park", "area"),  # no capacity: not followed
    ]
    devices = [
        SimpleNamespace(serial="CTN-IN", zone=1),  # at the gate into the canteen
        SimpleNamespace(serial="CTN-OUT", zone=0),
        SimpleNamespace(serial="YARD-1", zone=2),
    ]
    world = SimpleNamespace(zones=zones, devices=devices, zone_ref=lambda z: f"P/{zones[z].code}")
    return world


def _feed(watch, events):
    """events: (device, subject, direction, minute, event id)"""
    dev, subj, dirn, minute, eid = (np.array(c) for c in zip(*events, strict=True))
    zone = np.array([watch.w.devices[d].zone for d in dev])
    watch.feed(zone, subj, dirn, minute * MIN, dev, eid, np.ones(len(dev), dtype=bool))


def test_an_episode_runs_from_the_entry_over_capacity_until_it_is_within_again():
    truth = Truth()
    watch = CapacityWatch(_world(), truth)
    _feed(
        watch,
        [
            (0, 1, IN, 0, 1),  # through the gate: counts for the canteen
            (0, 2, IN, 1, 2),
            (2, 9, IN, 1, 1),  # the yard has no capacity
            (0, 3, IN, 2, 3),  # 3 of 2: over
            (0, 3, IN, 2, 3),  # the same event delivered twice: counted once
            (0, 2, IN, 3, 4),  # inside already: opens nothing
            (0, 4, IN, 4, 5),  # 4 of 2
            (1, 1, OUT, 5, 1),
            (1, 2, OUT, 6, 2),  # 2 of 2: within again
            (0, 5, IN, 7, 6),  # 3 of 2: a second episode
        ],
    )
    lines = [line for line in truth.lines if line["type"] == "over_capacity"]
    assert len(lines) == 2
    first, second = lines
    assert first["zone"] == "P/CTN" and first["capacity"] == 2 and first["most_inside"] == 4
    assert [ref for _t, ref in first["_events"]] == ["CTN-IN:3", "CTN-IN:5"]
    assert (first["_start"], first["_end"]) == (2 * MIN, 6 * MIN)
    assert [ref for _t, ref in second["_events"]] == ["CTN-IN:6"]


def test_exits_of_earlier_stays_and_held_back_entries_open_nothing():
    truth = Truth()
    watch = CapacityWatch(_world(), truth)
    _feed(
        watch,
        [
            (1, 7, OUT, 0, 1),  # inside since before the stream began: closes nothing
            (0, 1, IN, 1, 1),
            (1, 2, OUT, 3, 2),  # delivered before its own entry …
            (0, 2, IN, 2, 2),  # … which completes that stay instead of opening one
            (0, 3, IN, 4, 3),
            (1, 3, OUT, 3, 4),  # older than the entry: an earlier stay, 3 is still inside
            (0, 4, IN, 5, 5),  # 1, 3 and 4: over
        ],
    )
    lines = [line for line in truth.lines if line["type"] == "over_capacity"]
    assert [[ref for _t, ref in line["_events"]] for line in lines] == [["CTN-IN:5"]]
    assert lines[0]["most_inside"] == 3
