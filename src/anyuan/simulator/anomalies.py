"""Anomalies injected into a day of normal life, each with its ground truth.

Every injected case becomes one line of ``truth.jsonl``: its type, the subject (how a
device would name it), the zone, the time window and the events that show it. The
events are tagged here; their event ids are known once the stream assigns them.
"""

import datetime as dt

import numpy as np

from anyuan.simulator import identity
from anyuan.simulator.life import IN, OUT, DayLife, Events
from anyuan.simulator.world import (
    CARD,
    DAY,
    EMPLOYEE,
    FACE,
    MIN,
    PLATE,
    R_FINANCE,
    R_LAPSED_EXPIRED,
    R_LAPSED_MISSING,
    R_NONE,
    TZ,
    World,
    stream,
)

ANOMALY_TYPES = (
    "stranger",
    "unauthorised_zone",
    "visitor_vehicle_overstay",
    "watchlist_hit",
    "after_hours_entry",
    "antipassback",
    "qualification_missing",
    "qualification_expired",
    "object_missing",
    "intrusion",
)
FAULT_TYPES = ("device_silent", "clock_skew", "duplicate_delivery", "out_of_order")
# found in the stream, not injected: zones over capacity (anyuan.simulator.capacity); a
# plate in no registry that stays past the platform's default limit for such vehicles
DERIVED_TYPES = ("over_capacity", "unregistered_vehicle_overstay")
# the platform's default: a vehicle in no registry overstays 4 hours after its entry
# (the vehicle_overstay rule's "minutes", docs/alerts.md)
UNREGISTERED_VEHICLE_LIMIT_MIN = 240
ALARM_TYPES = ("object_missing", "intrusion")


def iso(ms: int | float) -> str:
    return dt.datetime.fromtimestamp(int(ms) / 1000, TZ).isoformat(timespec="milliseconds")


class Truth:
    """The ground truth, filled while the days are generated."""

    def __init__(self):
        self.lines: list[dict] = []

    def add(self, type_: str, subject: dict, zone: str, start_ms, end_ms, **extra) -> int:
        self.lines.append(
            {
                "type": type_,
                "subject": subject,
                "zone": zone,
                "start": iso(start_ms),
                "end": iso(end_ms),
                "event_ids": [],
                **extra,
                "_start": int(start_ms),
                "_events": [],
            }
        )
        return len(self.lines) - 1


class Strangers:
    """Credentials and subjects that are in no registry: made up as they appear."""

    def __init__(self, world: World):
        self.w = world
        self.subjects: list[str] = []
        self.credentials: list[str] = []

    def new(self, rng, method: int) -> tuple[int, int, str]:
        """A new stranger; returns its subject index, credential index and credential."""
        taken = self.w.taken
        if method == FACE:
            cred = identity.face_ids(rng, 1, taken["face"])[0]
        elif method == CARD:
            cred = identity.card_numbers(rng, 1, taken["card"])[0]
        else:
            cred = identity.plates(
                rng, 1, self.w.scale.visitor_plate_prefixes, taken["plate"], 0.3
            )[0]
        k = len(self.subjects)
        self.subjects.append(f"S{k + 1:06d}")
        self.credentials.append(cred)
        base_subj = self.w.n_people + self.w.n_vehicles + len(self.w.watchlist)
        base_cred = 3 * self.w.n_people + self.w.n_vehicles + len(self.w.watchlist)
        return base_subj + k, base_cred + k, cred


class Faults:
    """The device faults of one date, chosen before anything is injected so that the
    anomalies keep away from the faulty devices."""

    def __init__(self, world: World, seed: int, day: int, counts: dict[str, int], midnight: int):
        rng = stream(seed, 4, day)
        w = world
        self.silent: list[tuple[int, int, int, int]] = []  # device, sibling, from, until (ms)
        self.skew: list[tuple[int, int]] = []  # device, offset (ms)
        by_zone_role: dict[tuple[int, str], list[int]] = {}
        for d in w.devices:
            by_zone_role.setdefault((d.zone, d.role), []).append(d.idx)
        kinds = {z.idx: z.kind for z in w.zones}
        silent_pool = [
            d.idx
            for d in w.devices
            if d.role in ("face_in", "face_out", "turnstile_in", "turnstile_out", "door")
            and len(by_zone_role[(d.zone, d.role)]) > 1
        ]
        skew_pool = [
            d.idx
            for d in w.devices
            if d.role == "door"
            and kinds[d.zone] == "workshop"
            and len(by_zone_role[(d.zone, d.role)]) > 1
        ]
        taken_zones: set[int] = set()
        for dev in rng.permutation(silent_pool)[: counts.get("device_silent", 0) * 3]:
            if len(self.silent) == counts.get("device_silent", 0):
                break
            d = w.devices[int(dev)]
            if d.zone in taken_zones:
                continue
            taken_zones.add(d.zone)
            sibling = next(x for x in by_zone_role[(d.zone, d.role)] if x != d.idx)
            start = midnight + int(rng.uniform(6 * 60, 16 * 60) * MIN)
            end = start + int(rng.uniform(30, 360) * MIN)
            self.silent.append((d.idx, sibling, start, end))
        for dev in rng.permutation(skew_pool):
            if len(self.skew) == counts.get("clock_skew", 0):
                break
            d = w.devices[int(dev)]
            if d.zone in taken_zones:
                continue
            taken_zones.add(d.zone)
            minutes = rng.uniform(3, 15) * (1 if rng.random() < 0.5 else -1)
            self.skew.append((d.idx, round(minutes * 60) * 1000))
        self.excluded = {x[0] for x in self.silent} | {x[0] for x in self.skew}


class Injector:
    """Adds the day's anomalies to the normal life of ``life`` (arrays ``base``)."""

    def __init__(
        self, world: World, life: DayLife, base: dict, faults: Faults, truth: Truth,
        strangers: Strangers, seed: int, counts: dict[str, int],
    ):  # fmt: skip
        self.w, self.life, self.base, self.truth = world, life, base, truth
        self.strangers = strangers
        self.seed, self.day = seed, life.day
        self.keep = np.ones(len(base["t"]), dtype=bool)
        self.used: set[int] = set()
        self.excluded = faults.excluded
        self.alarms = {"t": [], "dev": [], "type": [], "tag": []}
        life.ev = Events()
        life.exclude = np.zeros(len(world.devices), dtype=bool)
        life.exclude[list(self.excluded)] = True
        z = world.zones
        self.gate_zone = np.zeros(len(z), dtype=bool)
        for p in world.parks:
            self.gate_zone[p.gates] = True
        self.dev_zone = world.device_zone
        c = world.people
        self.c = c
        works = life.working
        free = (
            works & (c["shift"] == DAY) & (c["role"] == R_NONE) & (c["kind"] == EMPLOYEE)
            & c["active"]
        )  # fmt: skip
        self.free = np.flatnonzero(free)
        self.on_foot = np.flatnonzero(free & (c["room"] < 0) & (c["car"] < 0) & (c["ebike"] < 0))
        day_only = np.array([not e.two_shift for e in world.enterprises] + [False])
        self.day_only_commuters = np.flatnonzero(
            (c["kind"] == EMPLOYEE) & c["active"] & (c["role"] == R_NONE) & (c["room"] < 0)
            & (c["shift"] == DAY) & day_only[c["ent"]]
        )  # fmt: skip
        for k, type_ in enumerate(ANOMALY_TYPES):
            n = counts.get(type_, 0)
            if n:
                life.rng = stream(seed, 3, self.day + 1, k)
                getattr(self, type_)(n)

    # --- helpers --------------------------------------------------------------------------

    @property
    def rng(self) -> np.random.Generator:
        return self.life.rng

    def minutes(self, ms) -> float:
        return (ms - self.life.M) / MIN

    def pick(self, pool: np.ndarray, n: int, ok=None) -> list[int]:
        out = []
        for p in self.rng.permutation(pool):
            p = int(p)
            if p in self.used or (ok is not None and not ok(p)):
                continue
            out.append(p)
            self.used.add(p)
            if len(out) == n:
                break
        return out

    def person_subject(self, p: int, method: int = FACE) -> dict:
        s = self.w.people_str
        cred = (s["face_id"], s["card_number"], s["employee_number"])[method][p]
        return {"kind": "person", "subject": self.w.subject_key(p), "method": ("face", "card", "employee_number")[method],
                "credential": cred, "face_id": s["face_id"][p]}  # fmt: skip

    def emit(self, key, zone, minutes, direction, method, cred, subj, tag, conf=None) -> None:
        life = self.life
        zones = np.array([zone])
        dev = life.devices(key, zones)
        m = np.array([method], dtype=np.int8)
        life.ev.add(
            t=life.ms(np.array([minutes])), dev=dev, dirn=direction, method=m, cred=cred,
            conf=life.confidence(m) if conf is None else conf, subj=subj, tag=tag,
        )  # fmt: skip

    def rows(self, mask) -> np.ndarray:
        return np.flatnonzero(mask & self.keep)

    def gate_rows(self, p: int, direction: int) -> np.ndarray:
        b = self.base
        return self.rows(
            (b["subj"] == p) & (b["dirn"] == direction) & self.gate_zone[self.dev_zone[b["dev"]]]
        )

    def park_of(self, zone: int):
        return self.w.parks[self.w.zones[zone].park]

    # --- the anomalies --------------------------------------------------------------------

    def stranger(self, n: int) -> None:
        w, rng = self.w, self.rng
        for _ in range(n):
            park = w.parks[int(rng.integers(0, len(w.parks)))]
            r = rng.random()
            method = FACE if r < 0.5 else CARD if r < 0.7 else PLATE
            subj, cred, text = self.strangers.new(rng, method)
            if method == FACE:
                zone = park.gates[int(rng.integers(0, len(park.gates)))]
                key_in, key_out, t0 = "in", "out", rng.uniform(7 * 60, 21 * 60)
                conf = rng.uniform(0.35, 0.62)
                stay, leaves = rng.uniform(10, 120), rng.random() < 0.7
            elif method == CARD:
                ws = [x for e in w.enterprises if e.park == park.idx for x in e.workshops]
                zone = ws[int(rng.integers(0, len(ws)))]
                key_in, key_out, t0, conf = "in", "out", rng.uniform(8 * 60, 20 * 60), 1.0
                stay, leaves = rng.uniform(3, 30), True
            else:
                zone = park.vehicle_gates[int(rng.integers(0, len(park.vehicle_gates)))]
                key_in, key_out, t0 = "car_in", "car_out", rng.uniform(7 * 60, 20 * 60)
                conf = rng.uniform(0.88, 0.99)
                stay, leaves = rng.uniform(10, 90), rng.random() < 0.8
            t1 = t0 + stay
            tag = self.truth.add(
                "stranger",
                {"kind": "vehicle" if method == PLATE else "person", "subject": self.strangers.subjects[-1],
                 "method": ("face", "card", "employee_number", "plate")[method], "credential": text},
                w.zone_ref(zone), self.life.ms(t0), self.life.ms(t1 if leaves else t0),
            )  # fmt: skip
            self.emit(key_in, zone, t0, IN, method, cred, subj, tag, conf)
            if leaves:
                c2 = rng.uniform(0.35, 0.62) if method == FACE else conf
                self.emit(key_out, zone, t1, OUT, method, cred, subj, tag, c2)

    def unauthorised_zone(self, n: int) -> None:
        w, rng, c = self.w, self.rng, self.c
        for p in self.pick(self.free, n):
            e = w.enterprises[int(c["ent"][p])]
            others = [
                x for o in w.enterprises if o.park == e.park and o.idx != e.idx
                for x in (*o.workshops, *o.warehouses, o.office)
            ]  # fmt: skip
            own_core = [e.finance, e.valuables]
            pool = others if (others and rng.random() < 0.6) else own_core
            target = pool[int(rng.integers(0, len(pool)))]
            tag = len(self.truth.lines)
            t0 = rng.uniform(9 * 60, 10 * 60, 1)
            t_in, t_out = self.life.excursion(np.array([p]), np.array([target]), t0, 3, 20, tag=tag)
            self.truth.add(
                "unauthorised_zone", self.person_subject(p, int(self._method(p, target))),
                w.zone_ref(target), self.life.ms(t_in[0]), self.life.ms(t_out[0]),
            )  # fmt: skip

    def _method(self, p: int, zone: int) -> int:
        m = int(self.c["method"][p])
        if m == 2 and not self.life.emp_ok[zone]:
            m = CARD
        return m

    def after_hours_entry(self, n: int) -> None:
        w, rng, c = self.w, self.rng, self.c
        finance = np.flatnonzero((c["role"] == R_FINANCE) & c["active"])
        for k in range(n):
            core = k % 2 == 1 and len(finance)
            pool = finance if core else self.day_only_commuters
            picked = self.pick(pool, 1)
            if not picked:
                continue
            p = picked[0]
            e = w.enterprises[int(c["ent"][p])]
            target = e.finance if core else int(c["ws"][p])
            arr = np.array([p])
            t_gate = rng.uniform(60, 4.5 * 60, 1)
            self.life.park_gate(arr, t_gate, IN)
            t_in = t_gate + rng.uniform(3, 8, 1)
            t_out = t_in + rng.uniform(10, 40, 1)
            tag = self.truth.add(
                "after_hours_entry", self.person_subject(p, self._method(p, target)),
                w.zone_ref(target), self.life.ms(t_in[0]), self.life.ms(t_out[0]),
                ring=w.zones[target].ring,
            )  # fmt: skip
            self.life.zone(arr, np.array([target]), t_in, IN, tag=tag)
            self.life.zone(arr, np.array([target]), t_out, OUT, tag=tag)
            self.life.park_gate(arr, t_out + rng.uniform(3, 8, 1), OUT)

    def antipassback(self, n: int) -> None:
        w, rng, b = self.w, self.rng, self.base

        def ok(p):
            ins, outs = self.gate_rows(p, IN), self.gate_rows(p, OUT)
            return (
                len(ins) == 1 and len(outs) == 1
                and not ({int(b["dev"][ins[0]]), int(b["dev"][outs[0]])} & self.excluded)
            )  # fmt: skip

        for k, p in enumerate(self.pick(self.on_foot, n, ok)):
            first = self.gate_rows(p, IN)[0]
            zone = int(self.dev_zone[b["dev"][first]])
            t_first = int(b["t"][first])
            if k % 2 == 0:
                out = self.gate_rows(p, OUT)[0]
                self.keep[out] = False
                tag = self.truth.add(
                    "antipassback", self.person_subject(p), w.zone_ref(zone), t_first,
                    self.life.M + 24 * 60 * MIN - 1, variant="entry_without_exit",
                )  # fmt: skip
                b["tag"][first] = tag
            else:
                t2 = self.minutes(t_first) + rng.uniform(60, 180)
                tag = self.truth.add(
                    "antipassback", self.person_subject(p), w.zone_ref(zone), t_first,
                    self.life.ms(t2), variant="double_entry",
                )  # fmt: skip
                b["tag"][first] = tag
                self.life.face_gate(np.array([p]), np.array([zone]), np.array([t2]), IN, tag=tag)

    def watchlist_hit(self, n: int) -> None:
        w, rng = self.w, self.rng
        P, V = w.n_people, w.n_vehicles
        entries = rng.permutation(len(w.watchlist))
        for k in range(n):
            i = int(entries[k % len(entries)])
            entry = w.watchlist[i]
            t0 = rng.uniform(7 * 60, 21 * 60)
            t1 = t0 + rng.uniform(10, 90)
            leaves = rng.random() < 0.7
            if entry["kind"] == "plate":
                park = w.parks[int(rng.integers(0, len(w.parks)))]
                zone = park.vehicle_gates[0]
                keys, method, conf = ("car_in", "car_out"), PLATE, rng.uniform(0.88, 0.99)
                subject = {"kind": "vehicle", "subject": f"W{i + 1:04d}", "method": "plate",
                           "credential": entry["plate"]}  # fmt: skip
            else:
                p = entry["person"]
                park = (
                    w.parks[int(w.people["park"][p])]
                    if p >= 0
                    else w.parks[int(rng.integers(0, len(w.parks)))]
                )
                zone = park.gates[int(rng.integers(0, len(park.gates)))]
                keys, method, conf = ("in", "out"), FACE, rng.uniform(0.86, 0.99)
                subject = {"kind": "person", "subject": w.subject_key(p) if p >= 0 else f"W{i + 1:04d}",
                           "method": "face", "credential": entry["face_id"], "face_id": entry["face_id"]}  # fmt: skip
            if entry["person"] >= 0:
                subj, cred = entry["person"], entry["person"]
            else:
                subj, cred = P + V + i, 3 * P + V + i
            tag = self.truth.add(
                "watchlist_hit", subject, w.zone_ref(zone), self.life.ms(t0),
                self.life.ms(t1 if leaves else t0), level=entry["level"], reason=entry["reason"],
            )  # fmt: skip
            self.emit(keys[0], zone, t0, IN, method, cred, subj, tag, conf)
            if leaves:
                self.emit(keys[1], zone, t1, OUT, method, cred, subj, tag, rng.uniform(0.86, 0.99))
            elif entry["kind"] == "plate" and t0 + UNREGISTERED_VEHICLE_LIMIT_MIN < 24 * 60:
                # it stays: past the limit within the day, an overstay as well
                due = int(self.life.ms(t0)) + UNREGISTERED_VEHICLE_LIMIT_MIN * MIN
                self.truth.add(
                    "unregistered_vehicle_overstay", subject, w.zone_ref(zone), due, due,
                    entered=iso(self.life.ms(t0)), limit_minutes=UNREGISTERED_VEHICLE_LIMIT_MIN,
                )  # fmt: skip

    def visitor_vehicle_overstay(self, n: int) -> None:
        w, rng, b = self.w, self.rng, self.base
        v = w.visits
        today = np.flatnonzero((v["day"] == self.day) & (v["car"] >= 0))
        P = w.n_people
        done = 0
        for i in rng.permutation(today):
            if done == n:
                break
            car = int(v["car"][i])
            ins = self.rows((b["subj"] == P + car) & (b["dirn"] == IN))
            outs = self.rows((b["subj"] == P + car) & (b["dirn"] == OUT))
            if len(ins) != 1 or len(outs) != 1:
                continue
            if {int(b["dev"][ins[0]]), int(b["dev"][outs[0]])} & self.excluded:
                continue
            until = self.life.ms(int(v["end"][i]))
            late = int(v["end"][i]) + rng.uniform(40, 180)
            zone = int(self.dev_zone[b["dev"][ins[0]]])
            subject = {"kind": "vehicle", "subject": f"V{car + 1:06d}", "method": "plate",
                       "credential": w.veh_str["plate"][car]}  # fmt: skip
            if rng.random() < 0.25 or late > 23.5 * 60:
                self.keep[outs[0]] = False
                end, variant = self.life.M + 24 * 60 * MIN - 1, "no_exit"
            else:
                b["t"][outs[0]] = self.life.ms(late)
                end, variant = int(b["t"][outs[0]]), "late_exit"
                b["tag"][outs[0]] = len(self.truth.lines)
            b["tag"][ins[0]] = len(self.truth.lines)
            self.truth.add(
                "visitor_vehicle_overstay", subject, w.zone_ref(zone), until, end,
                allowed_until=iso(until), variant=variant,
            )  # fmt: skip
            done += 1

    def _qualification(self, n: int, role: int, type_: str) -> None:
        if self.life.weekday >= 5:
            return
        w, rng, c = self.w, self.rng, self.c
        pool = np.flatnonzero(self.life.working & (c["role"] == role) & (c["shift"] == DAY))
        for p in self.pick(pool, n):
            target = int(c["errand"][p])
            tag = len(self.truth.lines)
            t_in, t_out = self.life.excursion(
                np.array([p]), np.array([target]), rng.uniform(9 * 60, 10 * 60, 1), 5, 25, tag=tag
            )
            self.truth.add(
                type_, self.person_subject(p, self._method(p, target)), w.zone_ref(target),
                self.life.ms(t_in[0]), self.life.ms(t_out[0]),
                qualification=w.zones[target].quals[0],
            )  # fmt: skip

    def qualification_missing(self, n: int) -> None:
        self._qualification(n, R_LAPSED_MISSING, "qualification_missing")

    def qualification_expired(self, n: int) -> None:
        self._qualification(n, R_LAPSED_EXPIRED, "qualification_expired")

    def _alarm(self, n: int, role: str, type_: str, night: bool) -> None:
        w, rng = self.w, self.rng
        sensors = [d.idx for d in w.devices if d.role == role]
        if not sensors:
            return
        for _ in range(n):
            dev = sensors[int(rng.integers(0, len(sensors)))]
            if night:
                t = (
                    rng.uniform(0, 5 * 60)
                    if rng.random() < 0.6
                    else rng.uniform(22 * 60, 24 * 60 - 1)
                )
            else:
                t = rng.uniform(0, 24 * 60 - 1)
            ms = int(self.life.ms(t))
            d = w.devices[dev]
            tag = self.truth.add(
                type_, {"kind": "device", "device": d.serial}, w.zone_ref(d.zone), ms, ms
            )
            for key, value in (
                ("t", ms),
                ("dev", dev),
                ("type", ALARM_TYPES.index(type_)),
                ("tag", tag),
            ):
                self.alarms[key].append(value)

    def object_missing(self, n: int) -> None:
        self._alarm(n, "motion", "object_missing", night=False)

    def intrusion(self, n: int) -> None:
        self._alarm(n, "ir", "intrusion", night=True)

    # --- result ---------------------------------------------------------------------------

    def passages(self) -> dict[str, np.ndarray]:
        added = self.life.ev.arrays()
        return {k: np.concatenate([self.base[k][self.keep], added[k]]) for k in self.base}

    def alarm_arrays(self) -> dict[str, np.ndarray]:
        return {
            "t": np.array(self.alarms["t"], dtype=np.int64),
            "dev": np.array(self.alarms["dev"], dtype=np.int32),
            "type": np.array(self.alarms["type"], dtype=np.int8),
            "tag": np.array(self.alarms["tag"], dtype=np.int32),
        }
