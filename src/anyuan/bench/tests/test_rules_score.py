"""How the rules benchmark scores raises against the simulator's truth."""

import datetime as dt

from anyuan.bench.rules import _score

T0 = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)


def line(type, events=(), start=T0, end=T0, **subject):
    return {
        "type": type,
        "event_ids": list(events),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "subject": subject,
    }


def raised(type, passage=None, alarm=None, at=T0, device=None, kind="entry", **fact):
    fact = {"kind": kind, "passage_id": passage, **fact}
    if alarm:
        fact["alarm_id"] = alarm
    return {"type": type, "fact": fact, "at": at, "device": device}


def test_passage_rules_match_by_event_and_count_misses_both_ways():
    truth = [
        line("stranger", ["G1:1"]),
        line("stranger", ["G1:7"]),
        line("after_hours_entry", ["D:3", "D:4"]),
    ]
    raises = [
        raised("stranger", passage=10),  # G1:1
        raised("stranger", passage=11),  # G1:1 again (a repeat): still one line found
        raised("stranger", passage=12),  # G1:9, in no truth line
        raised("after_hours", passage=13),  # D:4
    ]
    keys = {10: "G1:1", 11: "G1:1", 12: "G1:9", 13: "D:4"}
    rules, misses = _score(truth, raises, keys, {}, {}, {}, None, dt.timedelta(0))
    assert rules["stranger"] == {
        "truth": 2, "raised": 3, "tp": 1, "fp": 1, "fn": 1, "precision": 0.5, "recall": 0.5,
    }  # fmt: skip
    assert rules["after_hours"]["precision"] == rules["after_hours"]["recall"] == 1.0
    assert {m.get("false_positive") for m in misses if "false_positive" in m} == {"stranger"}
    assert [m["missed"]["event_ids"] for m in misses if "missed" in m] == [["G1:7"]]


def test_time_rules_match_by_subject_and_window():
    later = T0 + dt.timedelta(hours=2)
    truth = [
        line("visitor_vehicle_overstay", start=T0, end=later, credential="浙A1"),
        line("device_silent", start=T0, end=later, device="LANE-1"),
        line("object_missing", ["S:1"]),
    ]
    raises = [
        raised("vehicle_overstay", kind="overstay", at=T0 + dt.timedelta(minutes=5), subject_id=1),
        raised("vehicle_overstay", kind="overstay", at=T0, credential="浙Z9"),  # another car
        raised("device_silent", kind="silent", at=later + dt.timedelta(hours=3), device=5),
        raised("object_missing", alarm=2),
    ]
    rules, _ = _score(
        truth, raises, {}, {2: "S:1"}, {5: "LANE-1"}, {1: "浙A1"}, None, dt.timedelta(minutes=30)
    )
    assert (rules["vehicle_overstay"]["tp"], rules["vehicle_overstay"]["fp"]) == (1, 1)
    # raised long after the silence ended: not the truth line's
    assert (rules["device_silent"]["tp"], rules["device_silent"]["fn"]) == (0, 1)
    assert rules["object_missing"]["recall"] == 1.0
