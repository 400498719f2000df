"""Every line of truth.jsonl is really in the stream, with the properties it states; the
data faults come in the amounts the manifest states; and the normal life around them is
consistent (nobody enters a place twice without leaving it, except where injected)."""

import collections
import datetime as dt
import itertools

import pytest

from anyuan.simulator.anomalies import ANOMALY_TYPES, DERIVED_TYPES, FAULT_TYPES
from anyuan.simulator.scales import SCALES

TZ = dt.timezone(dt.timedelta(hours=8))
PER_DAY = SCALES["tiny"].per_day


def when(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


class Registry:
    """Just enough of the registry's rules to check the truth against the files."""

    def __init__(self, sim):
        self.zones = {f"{z['park']}/{z['code']}": z for z in sim.csv("zones")}
        self.people = sim.csv("people")
        self.by_credential = {}
        for p in self.people:
            for col in ("face_id", "card_number", "employee_number"):
                if p[col]:
                    self.by_credential[p[col]] = p
        self.plates = {v["plate"]: v for v in sim.csv("vehicles")}
        self.groups = {
            g["name"]: set(filter(None, g["member_id_numbers"].split(";")))
            for g in sim.csv("access_groups")
        }
        self.auth = sim.csv("authorisations")
        self.quals = collections.defaultdict(list)
        for q in sim.csv("qualifications"):
            self.quals[(q["id_number"], q["type_code"])].append(q)
        self.watch = {w["face_id"] or w["plate"] for w in sim.csv("watchlist")}

    def lineage(self, ref: str) -> set[str]:
        out = set()
        while ref:
            out.add(ref)
            z = self.zones[ref]
            ref = f"{z['park']}/{z['parent_code']}" if z["parent_code"] else ""
        return out

    def rules_of(self, id_number: str) -> list[dict]:
        if not hasattr(self, "_rules"):
            self._rules = collections.defaultdict(list)
            for a in self.auth:
                members = [a["id_number"]] if a["id_number"] else self.groups[a["group"]]
                for member in members:
                    self._rules[member].append(a)
        return self._rules.get(id_number, [])

    def authorised(self, id_number: str, zone: str, at: dt.datetime, mind_hours=True) -> bool:
        """Whether an authorisation covers the zone then (``mind_hours=False``: on some
        day and at some hour)."""
        at = at.astimezone(TZ)
        lineage = self.lineage(zone)
        day = at.date().isoformat()
        for a in self.rules_of(id_number):
            if a["zone"] not in lineage:
                continue
            if (a["valid_from"] and day < a["valid_from"]) or (
                a["valid_until"] and day > a["valid_until"]
            ):
                continue
            if mind_hours:
                if str(at.isoweekday()) not in a["weekdays"]:
                    continue
                hhmm = at.strftime("%H:%M")
                if a["time_from"] and not a["time_from"] <= hhmm <= a["time_until"]:
                    continue
            return True
        return False


@pytest.fixture(scope="module")
def stream(sim):
    passages = sim.rows("passages")
    alarms = sim.rows("alarms")
    index = {}
    for r in passages + alarms:
        index.setdefault((r["device_serial"], r["event_id"]), []).append(r)
    return passages, alarms, index


def events_of(line, stream):
    _, _, index = stream
    found = []
    for ref in line["event_ids"]:
        serial, event_id = ref.rsplit(":", 1)
        rows = index.get((serial, int(event_id)))
        assert rows, f"{line['type']}: event {ref} is not in the stream"
        found.append(rows[0])
    return found


def test_every_type_is_injected(sim):
    types = collections.Counter(line["type"] for line in sim.truth())
    for t in ANOMALY_TYPES + FAULT_TYPES:
        assert types[t] > 0, f"no {t} in truth.jsonl"
    assert {k: types[k] for k in ANOMALY_TYPES} == sim.manifest["anomalies"]


def test_every_anomaly_is_in_the_stream_as_stated(sim, stream):
    reg = Registry(sim)
    passages, _, _ = stream
    by_credential = collections.defaultdict(list)
    for r in passages:
        by_credential[r["credential"]].append(r)
    checked = collections.Counter()
    for line in sim.truth():
        t = line["type"]
        if t in FAULT_TYPES or t in DERIVED_TYPES:
            continue
        start, end = when(line["start"]), when(line["end"])
        rows = events_of(line, stream)
        assert rows, f"{t} has no events"
        for r in rows:
            assert r["zone"] == line["zone"], t
            if t == "visitor_vehicle_overstay" and r["direction"] == "in":
                assert r["event_time"] < start, "the vehicle came in before its time ran out"
            else:
                assert start <= r["event_time"] <= end, t
        subject = line["subject"]
        if subject["kind"] != "device":
            assert {r["credential"] for r in rows} == {subject["credential"]}, t
            assert {r["method"] for r in rows} == {subject["method"]}, t
        first = rows[0]
        if t == "stranger":
            assert subject["credential"] not in reg.by_credential
            assert subject["credential"] not in reg.plates
            assert subject["credential"] not in reg.watch
            assert first["direction"] == "in"
        elif t in (
            "unauthorised_zone",
            "after_hours_entry",
            "qualification_missing",
            "qualification_expired",
        ):
            person = reg.by_credential[subject["credential"]]
            assert [r["direction"] for r in rows] == ["in", "out"]
            inside = reg.authorised(person["id_number"], line["zone"], first["event_time"])
            anyhow = reg.authorised(
                person["id_number"], line["zone"], first["event_time"], mind_hours=False
            )
            if t == "unauthorised_zone":
                assert not anyhow, "the person is authorised for that zone"
            elif t == "after_hours_entry":
                assert anyhow and not inside, "not an after-hours entry"
                assert reg.zones[line["zone"]]["ring"] in ("production", "core")
            else:
                assert inside, "a qualification case must be otherwise authorised"
                code = line["qualification"]
                assert code in reg.zones[line["zone"]]["required_qualifications"].split(";")
                held = reg.quals[(person["id_number"], code)]
                day = first["event_time"].astimezone(TZ).date().isoformat()
                if t == "qualification_missing":
                    assert not held
                else:
                    assert held and all(q["valid_until"] < day for q in held)
        elif t == "watchlist_hit":
            assert subject["credential"] in reg.watch
        elif t == "antipassback":
            gate = [r for r in by_credential[subject["credential"]] if r["zone"] == line["zone"]]
            within = [r for r in gate if start <= r["event_time"] <= end]
            dirs = [r["direction"] for r in sorted(within, key=lambda r: r["event_time"])]
            if line["variant"] == "double_entry":
                assert dirs == ["in", "in"], dirs
            else:
                assert dirs == ["in"], dirs
                others = [r for r in by_credential[subject["credential"]] if r["direction"] == "out"
                          and reg.zones[r["zone"]]["kind"] == "gate" and start <= r["event_time"] <= end]  # fmt: skip
                assert not others, "left through another gate"
        elif t == "visitor_vehicle_overstay":
            vehicle = reg.plates[subject["credential"]]
            assert vehicle["registered"] == "0"
            allowed = when(vehicle["valid_until"])
            assert when(line["allowed_until"]) == allowed == start
            outs = [r for r in by_credential[subject["credential"]] if r["direction"] == "out"]
            if line["variant"] == "late_exit":
                assert len(outs) == 1 and outs[0]["event_time"] > allowed
            else:
                assert not outs
        elif t in ("object_missing", "intrusion"):
            assert [r["alarm_type"] for r in rows] == [t]
            assert r["device_serial"] == subject["device"]
        checked[t] += 1
    assert set(checked) == set(ANOMALY_TYPES)


def lag_fits(row, offset) -> bool:
    """Whether the row arrived within seconds once its time is corrected by ``offset``."""
    lag = row["received_time"] - (row["event_time"] - offset)
    return dt.timedelta(0) < lag <= dt.timedelta(seconds=8)


def test_an_unregistered_vehicle_that_stays_is_an_overstay_in_the_truth(sim, stream):
    """A watchlisted plate (in no vehicle registry) that comes in and never leaves: the
    truth holds an overstay due the limit after its entry, as the stream shows it."""
    reg = Registry(sim)
    passages, _, _ = stream
    lines = [line for line in sim.truth() if line["type"] == "unregistered_vehicle_overstay"]
    assert lines, "the tiny run has one such plate"
    assert sim.manifest["derived"]["unregistered_vehicle_overstay"] == len(lines)
    for line in lines:
        plate = line["subject"]["credential"]
        assert plate in reg.watch and plate not in reg.plates
        entered = when(line["entered"])
        limit = dt.timedelta(minutes=line["limit_minutes"])
        assert when(line["start"]) == when(line["end"]) == entered + limit
        seen = sorted(
            (r["event_time"], r["direction"])
            for r in passages
            if r["credential"] == plate and r["zone"] == line["zone"]
        )
        assert (entered, "in") in seen
        assert not [t for t, direction in seen if direction == "out" and t > entered]


def test_device_faults_are_in_the_stream(sim, stream):
    passages, _, _ = stream
    beats = sim.rows("heartbeats")
    lines = [x for x in sim.truth() if x["type"] in ("device_silent", "clock_skew")]
    skews = sim.manifest["faults"]["clock_skew"]
    assert len([x for x in lines if x["type"] == "clock_skew"]) == len(skews)
    assert len([x for x in lines if x["type"] == "device_silent"]) == len(
        sim.manifest["faults"]["device_silent"]
    )
    for line in lines:
        device = line["subject"]["device"]
        start, end = when(line["start"]), when(line["end"])
        if line["type"] == "device_silent":
            mine = [b["event_time"] for b in beats if b["device_serial"] == device]
            assert not [t for t in mine if start <= t < end], "heartbeats while silent"
            same_day = [t for t in mine if t.astimezone(TZ).date() == start.astimezone(TZ).date()]
            assert min(same_day) < start and max(same_day) >= end, (
                "it was not silent before and after"
            )
            assert not [
                r
                for r in passages
                if r["device_serial"] == device and start <= r["event_time"] < end
            ]
            moved = [
                r
                for r in passages
                if r["device_serial"] == line["moved_to"] and start <= r["event_time"] < end
            ]
            assert len(moved) >= line["events_moved"]
        else:
            offset = dt.timedelta(seconds=line["offset_s"])
            assert dt.timedelta(minutes=3) <= abs(offset) <= dt.timedelta(minutes=15)
            # corrected by the offset, the device's events of that day arrive within
            # seconds; events of the days before and after (with another clock) do not
            near = [r for r in passages if r["device_serial"] == device
                    and start <= r["event_time"] - offset <= end]  # fmt: skip
            skewed = [r for r in near if lag_fits(r, offset)]
            assert len(skewed) == line["event_count"] > 0
            others = [
                dt.timedelta(seconds=x["offset_s"]) for x in lines
                if x["type"] == "clock_skew" and x["subject"]["device"] == device and x is not line
            ]  # fmt: skip
            for r in near:
                if r not in skewed and not start <= r["event_time"] <= end:
                    continue  # a neighbouring day's event, shifted into the window
                assert r in skewed or any(lag_fits(r, o) for o in others)


def test_data_faults_come_in_the_stated_amounts(sim, stream):
    passages, _, index = stream
    faults = sim.manifest["faults"]
    truth = sim.truth()
    copies = sum(len(rows) - 1 for rows in index.values())
    assert (
        copies
        == faults["duplicate_delivery"]
        == sum(t["type"] == "duplicate_delivery" for t in truth)
    )
    assert faults["duplicate_delivery"] == sim.manifest["days"] * PER_DAY["duplicate_delivery"]
    for line in truth:
        if line["type"] == "duplicate_delivery":
            serial, event_id = line["event_ids"][0].rsplit(":", 1)
            a, b = index[(serial, int(event_id))]
            assert {k: v for k, v in a.items() if k != "received_time"} == {
                k: v for k, v in b.items() if k != "received_time"
            }
            assert a["received_time"] != b["received_time"]
    # out of order: delivered a minute or more late, after a later event of the same device
    skewed = {(s["device"], s["date"]) for s in faults["clock_skew"]}
    position = {}
    latest = {}
    late = set()
    for i, r in enumerate(passages):
        key = (r["device_serial"], r["event_id"])
        if key in position:
            continue  # the second delivery of a duplicate
        position[key] = i
        days = {r[k].astimezone(TZ).date().isoformat() for k in ("event_time", "received_time")}
        if any((r["device_serial"], day) in skewed for day in days):
            continue  # a clock that is off, not a late delivery
        if r["received_time"] - r["event_time"] > dt.timedelta(seconds=60):
            late.add(key)
    ooo = [t for t in truth if t["type"] == "out_of_order"]
    assert (
        len(ooo)
        == faults["out_of_order"]
        == len(late)
        == sim.manifest["days"] * PER_DAY["out_of_order"]
    )
    for line in ooo:
        serial, event_id = line["event_ids"][0].rsplit(":", 1)
        key = (serial, int(event_id))
        assert key in late
        r = passages[position[key]]
        for earlier in passages[: position[key]]:
            if earlier["device_serial"] == serial and earlier["event_time"] > r["event_time"]:
                latest[key] = earlier
                break
        assert key in latest, "no later event of the device arrived before it"
    # files are in delivery order
    received = [r["received_time"] for r in passages]
    days = [t.astimezone(TZ).date() for t in received]
    assert days == sorted(days)


def test_normal_life_is_consistent(sim, stream):
    """Apart from the injected cases, every subject leaves a zone before entering it
    again and enters before leaving again (device clocks corrected)."""
    passages, _, _ = stream
    truth = sim.truth()
    involved = {line["subject"].get("subject") for line in truth}
    skew = {}
    for s in sim.manifest["faults"]["clock_skew"]:
        skew[(s["device"], s["date"])] = dt.timedelta(seconds=s["offset_s"])
    seen = set()
    tracks = collections.defaultdict(list)
    for r in passages:
        key = (r["device_serial"], r["event_id"])
        if key in seen or r["subject"] in involved:
            continue
        seen.add(key)
        t = r["event_time"]
        for (device, date), offset in skew.items():
            if (
                device == r["device_serial"]
                and (t - offset).astimezone(TZ).date().isoformat() == date
            ):
                t = t - offset
        tracks[(r["subject"], r["zone"])].append((t, r["direction"]))
    assert len(tracks) > 500
    bad = []
    for key, events in tracks.items():
        events.sort()
        for (t1, d1), (t2, d2) in itertools.pairwise(events):
            if d1 == d2:
                bad.append((key, t1, t2, d1))
    assert not bad, bad[:5]


def test_passages_look_like_device_events(sim, stream):
    passages, _, index = stream
    reg = Registry(sim)
    devices = {d["serial"]: d for d in sim.csv("devices")}
    id_numbers = {p["id_number"] for p in reg.people}
    kinds = collections.Counter()
    for r in passages:
        d = devices[r["device_serial"]]
        assert r["zone"] == d["zone"]
        assert r["direction"] in ("in", "out")
        assert d["direction"] in (r["direction"], "both")
        assert r["method"] in ("face", "card", "employee_number", "plate")
        assert 0 < r["confidence"] <= 1
        assert r["credential"] not in id_numbers
        assert r["event_time"].tzinfo is not None
        assert r["received_time"] >= r["event_time"] - dt.timedelta(minutes=15)
        if r["subject"].startswith("P"):
            assert reg.by_credential[r["credential"]]["face_id"]
        elif r["subject"].startswith("V"):
            assert r["credential"] in reg.plates and r["method"] == "plate"
        kinds[reg.zones[r["zone"]]["kind"]] += 1
    # presence is at the places where people stay together, not only at the rings
    for kind in ("dormitory", "workshop", "canteen", "gate", "office"):
        assert kinds[kind] > 0, kind
    assert {r["method"] for r in passages} == {"face", "card", "employee_number", "plate"}
    # event ids are unique per device once duplicates are set aside
    assert all(len({id(x) for x in rows}) == len(rows) for rows in index.values())
    assert all(len(rows) <= 2 for rows in index.values())


def test_shift_change_peak(sim):
    """The busiest 15 minutes at the park gates hold a large share of the day's entries."""
    days = sim.manifest["events"]["peak_gate_passages_15min"]
    entries = sim.manifest["sizes"]["people"]
    assert max(days.values()) > 0.15 * entries


def test_normal_life_keeps_to_the_access_rights(sim, stream):
    """Outside the injected cases, every registered person passes only where and when an
    authorisation lets them, and a visitor's car leaves before its time is up."""
    passages, _, _ = stream
    reg = Registry(sim)
    involved = {line["subject"].get("subject") for line in sim.truth()}
    skew = {
        (s["device"], s["date"]): dt.timedelta(seconds=s["offset_s"])
        for s in sim.manifest["faults"]["clock_skew"]
    }
    people = {f"P{i + 1:06d}": p for i, p in enumerate(reg.people)}
    checked = 0
    for r in passages:
        if r["subject"] in involved:
            continue
        at = r["event_time"]
        for (device, date), offset in skew.items():
            if (
                device == r["device_serial"]
                and (at - offset).astimezone(TZ).date().isoformat() == date
            ):
                at = at - offset  # the device's clock was off that day
        if r["subject"].startswith("P"):
            person = people[r["subject"]]
            assert reg.by_credential[r["credential"]] is person
            assert reg.authorised(person["id_number"], r["zone"], at), (person, r)
            checked += 1
        elif r["subject"].startswith("V"):
            vehicle = reg.plates[r["credential"]]
            if vehicle["valid_until"]:
                assert at <= when(vehicle["valid_until"])
    assert checked > 0.5 * len(passages)
