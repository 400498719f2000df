"""A day of park life as arrays: shift changes, canteen trips, dormitory returns, evening
outings, visitors, patrols and deliveries.

Everything is generated per cohort with numpy; nothing loops over people or passages.
A day's routines start at local midnight of the *anchor* day and may run into the next
morning (night shifts end at 08:00). Times are true times in UTC milliseconds; the
device clocks, delivery delays and duplicates are applied later (:mod:`.stream`).

Index spaces shared with the writer:

- subject: ``[0, P)`` people (row of ``people.csv``), ``[P, P+V)`` vehicles (row of
  ``vehicles.csv``), ``[P+V, P+V+W)`` watchlist entries (row of ``watchlist.csv``), then
  strangers made up during the run;
- credential: ``method * P + person`` for face, card and employee number, ``3P + vehicle``
  for plates, ``3P + V + entry`` for watchlist entries, then strangers.
"""

import datetime as dt

import numpy as np

from anyuan.simulator.world import (
    CARD,
    DAY,
    EBIKE,
    EMPLOYEE,
    EMPLOYEE_NUMBER,
    FACE,
    MIN,
    NIGHT,
    OFFICER,
    PLATE,
    R_ELECTRICIAN,
    R_FINANCE,
    R_HAZCHEM,
    R_KEEPER,
    R_NONE,
    R_VALUABLES,
    RESIDENT,
    TEMPORARY,
    TRUCK,
    TZ,
    World,
    stream,
)

IN, OUT = 0, 1
COLUMNS = ("t", "dev", "dirn", "method", "cred", "conf", "subj", "tag")
DTYPES = (np.int64, np.int32, np.int8, np.int8, np.int64, np.float32, np.int64, np.int32)


def local_midnight_ms(date: dt.date) -> int:
    return int(dt.datetime.combine(date, dt.time(0), TZ).timestamp() * 1000)


class Events:
    """Column buffers for passages."""

    def __init__(self):
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in COLUMNS}

    def add(self, **cols) -> None:
        n = len(cols["t"])
        if not n:
            return
        for k, dtype in zip(COLUMNS, DTYPES, strict=True):
            v = cols.get(k, -1)
            self.parts[k].append(np.broadcast_to(np.asarray(v, dtype=dtype), (n,)).copy())

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            k: np.concatenate(v) if v else np.zeros(0, dtype=d)
            for (k, v), d in zip(self.parts.items(), DTYPES, strict=True)
        }


class DayLife:
    """The normal life of one anchor day."""

    def __init__(self, world: World, date: dt.date, seed: int, night_only: bool = False):
        self.w, self.date, self.seed = world, date, seed
        self.M = local_midnight_ms(date)
        self.weekday = date.weekday()  # 0 = Monday
        self.day = (date - world.start).days
        self.exclude: np.ndarray | None = None  # devices anomalies keep away from
        self.ev = Events()
        w = world
        c = w.people
        self.P, self.V = w.n_people, w.n_vehicles
        zk = np.array([z.kind for z in w.zones])
        # employee numbers are typed on workshop, office and core-room keypads only
        self.emp_ok = np.isin(zk, ["workshop", "warehouse", "office", "room"])
        self.kind, self.shift, self.room = c["kind"], c["shift"], c["room"]
        self.ws, self.gate, self.canteen = c["ws"], c["gate"], c["canteen"]
        self.liv_gate, self.method, self.car, self.ebike = (
            c["liv_gate"], c["method"], c["car"], c["ebike"],
        )  # fmt: skip
        self.ent, self.role = c["ent"], c["role"]
        ents = w.enterprises
        self.e_start = np.array([e.day_start for e in ents] + [0])
        self.e_end = np.array([e.day_end for e in ents] + [0])
        self.e_lunch = np.array([e.lunch for e in ents] + [0])
        self.e_dinner = np.array([e.dinner for e in ents] + [-1])
        # one random stream per routine: changing one leaves the others as they were
        routines = [self._who_works, self.night_shift]
        if not night_only:
            routines += [self.day_shift, self.off_day, self.errands, self.visitors, self.patrols,
                         self.trucks]  # fmt: skip
        for k, routine in enumerate(routines):
            self.rng = stream(seed, 2, self.day + 1, k)
            routine()

    # --- primitives ---------------------------------------------------------------------

    def u(self, a, b, n) -> np.ndarray:
        return self.rng.uniform(a, b, n)

    def ms(self, minutes) -> np.ndarray:
        return self.M + np.round(np.asarray(minutes) * MIN).astype(np.int64)

    def devices(self, key: str, zones: np.ndarray) -> np.ndarray:
        table, count = self.w.tables[key]
        picked = table[zones, (self.rng.random(len(zones)) * count[zones]).astype(np.int64)]
        if self.exclude is not None:
            for _ in range(20):
                bad = np.flatnonzero(self.exclude[picked])
                if not len(bad):
                    break
                z = zones[bad]
                picked[bad] = table[z, (self.rng.random(len(z)) * count[z]).astype(np.int64)]
        return picked

    def confidence(self, method: np.ndarray) -> np.ndarray:
        n = len(method)
        face = 0.80 + 0.195 * self.rng.beta(5, 1.6, n)
        plate = 0.86 + 0.135 * self.rng.beta(5, 1.5, n)
        return np.where(method == FACE, face, np.where(method == PLATE, plate, 1.0))

    def zone(self, p, zones, minutes, direction, tag=-1) -> None:
        """People ``p`` pass a door of ``zones`` (their own way: face, card or number)."""
        if not len(p):
            return
        m = self.method[p].copy()
        m[(m == EMPLOYEE_NUMBER) & ~self.emp_ok[zones]] = CARD
        self.ev.add(
            t=self.ms(minutes), dev=self.devices("in" if direction == IN else "out", zones),
            dirn=direction, method=m, cred=m.astype(np.int64) * self.P + p,
            conf=self.confidence(m), subj=p, tag=tag,
        )  # fmt: skip

    def face_gate(self, p, zones, minutes, direction, tag=-1) -> None:
        """Face-recognition lanes of a gate (park gates and living-area gates)."""
        if not len(p):
            return
        m = np.full(len(p), FACE, dtype=np.int8)
        self.ev.add(
            t=self.ms(minutes), dev=self.devices("in" if direction == IN else "out", zones),
            dirn=direction, method=m, cred=p, conf=self.confidence(m), subj=p, tag=tag,
        )  # fmt: skip

    def vehicle(self, v, zones, minutes, direction, tag=-1) -> None:
        if not len(v):
            return
        kinds = self.w.veh["kind"][v]
        key = np.where(kinds == EBIKE, 1, 0)
        dev = np.empty(len(v), dtype=np.int32)
        for k, name in ((0, "car"), (1, "ebike")):
            sel = key == k
            if sel.any():
                dev[sel] = self.devices(f"{name}_{'in' if direction == IN else 'out'}", zones[sel])
        m = np.full(len(v), PLATE, dtype=np.int8)
        self.ev.add(
            t=self.ms(minutes), dev=dev, dirn=direction, method=m, cred=3 * self.P + v,
            conf=self.confidence(m), subj=self.P + v, tag=tag,
        )  # fmt: skip

    def park_gate(self, p, minutes, direction) -> None:
        """Through the park gate: by car, by e-bike or on foot."""
        car, ebike = self.car[p], self.ebike[p]
        by_car, by_bike = car >= 0, (car < 0) & (ebike >= 0)
        on_foot = ~(by_car | by_bike)
        veh_gate = self.w.veh["gate"]
        self.vehicle(car[by_car], veh_gate[car[by_car]], minutes[by_car], direction)
        self.vehicle(ebike[by_bike], veh_gate[ebike[by_bike]], minutes[by_bike], direction)
        self.face_gate(p[on_foot], self.gate[p[on_foot]], minutes[on_foot], direction)

    # --- who works today ------------------------------------------------------------------

    def _who_works(self) -> None:
        c = self.w.people
        n = self.P
        rng = self.rng
        works = np.zeros(n, dtype=bool)
        emp = (self.kind == EMPLOYEE) & c["active"]
        works |= emp & (c["rest"] != self.weekday) & (rng.random(n) > 0.04)
        squads = np.array([sq["no"] - 1 for sq in self.w.squads], dtype=np.int64)
        if len(squads):
            p_squad = 0.5 if self.weekday == 6 else 0.85
            squad_on = rng.random(len(squads)) < p_squad
            temp = self.kind == TEMPORARY
            on = np.zeros(n, dtype=bool)
            on[temp] = squad_on[c["squad"][temp]]
            works |= on & (rng.random(n) > 0.05)
        self.working = works

    # --- routines -------------------------------------------------------------------------

    def day_shift(self) -> None:
        p = np.flatnonzero(self.working & (self.shift == DAY))
        ent = self.ent[p]
        S, E = self.e_start[ent].astype(float), self.e_end[ent].astype(float)
        temp = self.kind[p] == TEMPORARY
        # temporary workers come and go by bus, a squad at a time
        arrive = np.full(len(p), np.nan)
        leave = np.full(len(p), np.nan)
        if temp.any():
            nsq = len(self.w.squads)
            bus = self.u(15, 30, nsq)
            bus_back = self.u(15, 35, nsq)
            sq = self.w.people["squad"][p[temp]]
            arrive[temp] = S[temp] - bus[sq] + self.u(0, 5, temp.sum())
            leave[temp] = E[temp] + bus_back[sq] + self.u(0, 5, temp.sum())
        meals = [(self.e_lunch[ent], 0.85), (self.e_dinner[ent], 0.6)]
        home = self.shift_block(
            p, S, E, meals, arrive, leave, breaks=[(15 * 60, 0.5)], breakfast_before=0.35
        )
        # evening outings of people living on site
        live = self.room[p] >= 0
        q, t0 = p[live], home[live]
        go = (t0 < 21.5 * 60) & (self.rng.random(len(q)) < 0.25)
        self.outing(q[go], t0[go] + self.u(20, 60, go.sum()), 40, 150)

    def night_shift(self) -> None:
        p = np.flatnonzero(self.working & (self.shift == NIGHT))
        n = len(p)
        S, E = np.full(n, 1200.0), np.full(n, 1920.0)
        # an afternoon out before the shift, for some who live on site
        live = self.room[p] >= 0
        go = live & (self.rng.random(n) < 0.15)
        q = p[go]
        t0 = self.u(13 * 60, 15 * 60, len(q))
        self.outing(q, t0, 60, 180, back_by=S[go] - 70)
        meals = [(np.full(n, 1440.0), 0.7)]
        nan = np.full(n, np.nan)
        self.shift_block(p, S, E, meals, nan, nan, breaks=[(27.5 * 60, 0.5)], breakfast_after=0.4)

    def shift_block(
        self, p, S, E, meals, arrive, leave, breaks=(), breakfast_before=0.0, breakfast_after=0.0
    ):
        """Arrive, work with meal breaks, leave. Returns when people living on site are
        back in their room (NaN for commuters)."""
        n = len(p)
        rng, u = self.rng, self.u
        live = self.room[p] >= 0
        ws = self.ws[p]
        # --- arrival
        t_ws = np.empty(n)
        c = ~live
        early = 3 + np.minimum(rng.gamma(2.0, 6.0, n), 52)
        early = np.where(rng.random(n) < 0.03, u(60, 150, n), early)  # the early birds
        t_gate = np.where(np.isnan(arrive), S - early, arrive)
        self.park_gate(p[c], t_gate[c], IN)
        t_ws[c] = t_gate[c] + u(2, 9, c.sum()) + np.where(self.car[p[c]] >= 0, 3, 0)
        # the early birds have breakfast in the canteen before work
        birds = np.flatnonzero(c & (t_gate < S - 55))
        if len(birds):
            t_in = t_gate[birds] + u(3, 6, len(birds))
            t_out = S[birds] - u(15, 35, len(birds))
            self.zone(p[birds], self.canteen[p[birds]], t_in, IN)
            self.zone(p[birds], self.canteen[p[birds]], t_out, OUT)
            t_ws[birds] = t_out + u(2, 6, len(birds))
        r = np.flatnonzero(live)
        bf = rng.random(len(r)) < breakfast_before
        t_room = S[r] - np.where(bf, u(40, 60, len(r)), u(10, 28, len(r)))
        self.zone(p[r], self.room[p[r]], t_room, OUT)
        t_lg = t_room + u(1, 4, len(r))
        self.face_gate(p[r], self.liv_gate[p[r]], t_lg, OUT)
        t_ws[r] = t_lg + u(3, 8, len(r))
        b = r[bf]
        if len(b):
            t_in = t_lg[bf] + u(2, 5, len(b))
            t_out = t_in + u(10, 20, len(b))
            self.zone(p[b], self.canteen[p[b]], t_in, IN)
            self.zone(p[b], self.canteen[p[b]], t_out, OUT)
            t_ws[b] = t_out + u(2, 6, len(b))
        self.zone(p, ws, t_ws, IN)
        # --- meals
        for start, prob in meals:
            go = (start >= 0) & (rng.random(n) < prob)
            q = p[go]
            t1 = start[go] + u(0, 20, len(q))
            t2 = t1 + u(2, 6, len(q))
            t3 = t2 + u(15, 35, len(q))
            t4 = t3 + u(2, 6, len(q))
            self.zone(q, ws[go], t1, OUT)
            self.zone(q, self.canteen[q], t2, IN)
            self.zone(q, self.canteen[q], t3, OUT)
            self.zone(q, ws[go], t4, IN)
        # --- a short break outside the workshop (not for those with errands to run)
        for start, prob in breaks:
            go = (rng.random(n) < prob) & np.isin(self.role[p], (R_NONE, R_KEEPER))
            q = p[go]
            t1 = start + u(0, 45, len(q))
            self.zone(q, ws[go], t1, OUT)
            self.zone(q, ws[go], t1 + u(5, 15, len(q)), IN)
        # --- leaving
        overtime = np.where(rng.random(n) < 0.15, u(20, 90, n), u(0, 10, n))
        t_out = np.where(np.isnan(leave), E + overtime, leave - u(5, 12, n))
        self.zone(p, ws, t_out, OUT)
        t_gate_out = np.where(np.isnan(leave), t_out + u(3, 12, n), leave)
        self.park_gate(p[c], t_gate_out[c], OUT)
        home = np.full(n, np.nan)
        t = t_out[r] + u(4, 10, len(r))
        ba = rng.random(len(r)) < breakfast_after
        if ba.any():
            b = r[ba]
            t_in = t[ba] - u(1, 3, len(b))
            t_o = t_in + u(10, 20, len(b))
            self.zone(p[b], self.canteen[p[b]], t_in, IN)
            self.zone(p[b], self.canteen[p[b]], t_o, OUT)
            t[ba] = t_o + u(3, 6, len(b))
        self.face_gate(p[r], self.liv_gate[p[r]], t, IN)
        home[r] = t + u(1, 4, len(r))
        self.zone(p[r], self.room[p[r]], home[r], IN)
        return home

    def outing(self, p, t0, least, most, back_by=None) -> None:
        """Leave the room and the park, come back ``least``–``most`` minutes later."""
        n = len(p)
        if not n:
            return
        u = self.u
        self.zone(p, self.room[p], t0, OUT)
        t1 = t0 + u(1, 4, n)
        self.face_gate(p, self.liv_gate[p], t1, OUT)
        t2 = t1 + u(4, 10, n)
        self.park_gate(p, t2, OUT)
        t3 = t2 + u(least, most, n)
        if back_by is not None:
            t3 = np.minimum(t3, back_by)
        self.park_gate(p, t3, IN)
        t4 = t3 + u(4, 10, n)
        self.face_gate(p, self.liv_gate[p], t4, IN)
        self.zone(p, self.room[p], t4 + u(1, 4, n), IN)

    def off_day(self) -> None:
        """People living on site who do not work today, and residents: lunch in the
        canteen, an afternoon out."""
        c = self.w.people
        p = np.flatnonzero(
            (self.room >= 0)
            & c["active"]
            & ((self.kind == RESIDENT) | ((~self.working) & (self.kind == EMPLOYEE)))
        )
        n = len(p)
        u = self.u
        lunch = self.rng.random(n) < 0.6
        q = p[lunch]
        t0 = u(11 * 60, 12.5 * 60, len(q))
        self.zone(q, self.room[q], t0, OUT)
        t1 = t0 + u(1, 4, len(q))
        self.face_gate(q, self.liv_gate[q], t1, OUT)
        t2 = t1 + u(2, 6, len(q))
        self.zone(q, self.canteen[q], t2, IN)
        t3 = t2 + u(15, 35, len(q))
        self.zone(q, self.canteen[q], t3, OUT)
        t4 = t3 + u(2, 6, len(q))
        self.face_gate(q, self.liv_gate[q], t4, IN)
        self.zone(q, self.room[q], t4 + u(1, 4, len(q)), IN)
        out = self.rng.random(n) < 0.5
        self.outing(p[out], u(14 * 60, 16 * 60, out.sum()), 60, 240)

    def errands(self) -> None:
        """Weekday visits of finance staff, keepers and electricians to their core rooms."""
        if self.weekday >= 5:
            return
        c = self.w.people
        roles = [R_FINANCE, R_VALUABLES, R_HAZCHEM, R_ELECTRICIAN]
        p = np.flatnonzero(self.working & np.isin(c["role"], roles) & (self.shift == DAY))
        morning = self.rng.random(len(p)) < 0.5
        t0 = np.where(morning, self.u(9 * 60, 10 * 60, len(p)), self.u(14 * 60, 16.25 * 60, len(p)))
        self.excursion(p, c["errand"][p], t0, 5, 25)

    def excursion(self, p, target, t0, least, most, tag=-1) -> tuple[np.ndarray, np.ndarray]:
        """Leave the workplace for ``target`` and come back; returns the times in and out
        of the target."""
        n = len(p)
        u = self.u
        self.zone(p, self.ws[p], t0, OUT)
        t_in = t0 + u(1, 4, n)
        t_out = t_in + u(least, most, n)
        self.zone(p, target, t_in, IN, tag=tag)
        self.zone(p, target, t_out, OUT, tag=tag)
        self.zone(p, self.ws[p], t_out + u(1, 4, n), IN)
        return t_in, t_out

    def visitors(self) -> None:
        v = self.w.visits
        today = np.flatnonzero(v["day"] == self.day)
        if not len(today):
            return
        u = self.u
        p, a, b, gate, car = (v[k][today] for k in ("person", "start", "end", "gate", "car"))
        n = len(p)
        arrive = a + u(-10, 15, n)
        has_car = car >= 0
        self.vehicle(car[has_car], gate[has_car], arrive[has_car], IN)
        self.face_gate(p[~has_car], gate[~has_car], arrive[~has_car], IN)
        t_in = arrive + u(3, 8, n)
        office = self.ws[p]
        self.zone(p, office, t_in, IN)
        t_out = np.maximum(t_in + 10, b - u(10, 40, n))
        self.zone(p, office, t_out, OUT)
        t_gate = t_out + u(3, 8, n)
        self.vehicle(car[has_car], gate[has_car], t_gate[has_car], OUT)
        self.face_gate(p[~has_car], gate[~has_car], t_gate[~has_car], OUT)

    def patrols(self) -> None:
        w = self.w
        officers = np.flatnonzero(self.kind == OFFICER)
        u = self.u
        for park in w.parks:
            mine = officers[w.people["park"][officers] == park.idx]
            k = min(3, len(mine) // 2)
            if not k:
                continue
            crew = self.rng.permutation(mine)[: 2 * k]
            start = np.repeat(u(8 * 60, 21 * 60, k), 2) + u(0, 2, 2 * k)
            gate = np.full(2 * k, park.gates[0])
            self.face_gate(crew, gate, start, IN)
            t1 = start + u(2, 5, 2 * k)
            room = np.full(2 * k, park.police_room)
            self.zone(crew, room, t1, IN)
            t2 = t1 + u(10, 40, 2 * k)
            self.zone(crew, room, t2, OUT)
            self.face_gate(crew, gate, t2 + u(20, 60, 2 * k), OUT)

    def trucks(self) -> None:
        veh = self.w.veh
        trucks = np.flatnonzero(veh["kind"] == TRUCK)
        u = self.u
        go = trucks[self.rng.random(len(trucks)) < (0.3 if self.weekday == 6 else 0.6)]
        n = len(go)
        t_in = u(7 * 60, 17 * 60, n)
        t_out = t_in + u(20, 90, n)
        gate = veh["gate"][go]
        self.vehicle(go, gate, t_in, IN)
        self.vehicle(go, gate, t_out, OUT)
        again = (self.rng.random(n) < 0.3) & (t_out < 18 * 60)
        t2 = t_out[again] + u(30, 90, again.sum())
        self.vehicle(go[again], gate[again], t2, IN)
        self.vehicle(go[again], gate[again], t2 + u(20, 90, again.sum()), OUT)
