"""The simulated registry: station, parks, enterprises, zones, devices, people, vehicles,
access rights, qualifications and watchlists.

People are held column-wise (numpy arrays, one entry per row of ``people.csv``) so that
the daily life of 180,000 of them can be generated without a Python loop per person.
"""

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from anyuan.simulator import identity
from anyuan.simulator.scales import Scale

TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
MIN = 60_000  # milliseconds

# person kinds, shifts, access methods, roles
EMPLOYEE, TEMPORARY, VISITOR, RESIDENT, OFFICER = range(5)
KIND_NAMES = ("employee", "temporary", "visitor", "resident", "officer")
NO_SHIFT, DAY, NIGHT = range(3)
SHIFT_NAMES = ("", "day", "night")
FACE, CARD, EMPLOYEE_NUMBER, PLATE = range(4)
METHOD_NAMES = ("face", "card", "employee_number", "plate")
CAR, TRUCK, EBIKE = range(3)
VEHICLE_KINDS = ("car", "truck", "ebike")
(
    R_NONE,
    R_FINANCE,
    R_VALUABLES,
    R_HAZCHEM,
    R_ELECTRICIAN,
    R_LAPSED_MISSING,
    R_LAPSED_EXPIRED,
    R_KEEPER,
) = range(8)

QUALIFICATION_TYPES = [
    ("hazchem", "危险化学品安全作业培训", 12, "危化品仓库作业人员须持有效培训合格证"),
    ("electrician", "特种作业操作证（电工）", 72, "配电房作业须持证"),
    ("forklift", "特种设备作业人员证（叉车）", 48, "仓库叉车作业"),
    ("first-briefing", "首次安全宣传教育（首宣）", 12, "临时务工人员进场前的首宣责任制培训"),
]

TRADE_WORDS = "鸿华鑫德瑞泰宏达恒升安盛富源科信联创嘉隆永鼎晟汇腾飞越星辉明光通和顺祥吉利丰盈正新中"
INDUSTRIES = [
    ("精密电子", "电子设备制造"),
    ("电子科技", "电子设备制造"),
    ("精密模具", "模具制造"),
    ("光电", "光电器件制造"),
    ("五金制品", "金属制品"),
    ("塑胶制品", "塑料制品"),
    ("智能装备", "专用设备制造"),
    ("纺织服饰", "纺织服装"),
    ("供应链", "仓储物流"),
    ("包装材料", "包装"),
]
HAZCHEM_INDUSTRIES = [
    ("化工", "化学原料和化学制品制造"),
    ("新材料", "化学原料和化学制品制造"),
    ("涂料", "涂料制造"),
    ("电池材料", "电池制造"),
]
WATCH_REASONS = [
    ("网上追逃人员", "alarm"),
    ("涉盗窃前科，重点关注", "warning"),
    ("涉诈重点人员", "warning"),
    ("涉嫌盗窃企业财物", "alarm"),
]
PLATE_REASONS = [("被盗抢车辆", "alarm"), ("涉案车辆", "alarm"), ("套牌嫌疑车辆", "warning")]
COLOURS = ("白", "黑", "银", "灰", "蓝", "红")
BRANDS = ("比亚迪", "大众", "丰田", "本田", "吉利", "长安", "日产", "别克", "特斯拉", "五菱")
TRUCK_BRANDS = ("东风", "解放", "福田", "江淮", "重汽")
EBIKE_BRANDS = ("雅迪", "爱玛", "台铃", "新日", "绿源")


PEOPLE_COLUMNS = [
    "kind", "ent", "agency", "shift", "room", "ws", "gate", "canteen", "park", "method", "role",
    "errand", "rest", "squad", "active", "liv_gate",
]  # fmt: skip
PEOPLE_STRINGS = [
    "id_number", "name", "phone", "employee_number", "card_number", "face_id", "hire_date",
    "leave_date", "note",
]  # fmt: skip


# role: kind, direction, protocol, vendor, heartbeat seconds, serial tag
DEVICE_ROLES = {
    "face_in": ("gate", "in", "isapi", "Hikvision", 60, "FI"),
    "face_out": ("gate", "out", "isapi", "Hikvision", 60, "FO"),
    "car_in": ("camera", "in", "gat1400", "Dahua", 60, "VI"),
    "car_out": ("camera", "out", "gat1400", "Dahua", 60, "VO"),
    "ebike_in": ("camera", "in", "gat1400", "Uniview", 60, "EI"),
    "ebike_out": ("camera", "out", "gat1400", "Uniview", 60, "EO"),
    "turnstile_in": ("gate", "in", "native", "ZKTeco", 60, "TI"),
    "turnstile_out": ("gate", "out", "native", "ZKTeco", 60, "TO"),
    "door": ("access_controller", "both", "isapi", "Hikvision", 120, "AC"),
    "lock": ("access_controller", "both", "mqtt", "Tuya", 600, "LK"),
    "camera": ("camera", "both", "gat1400", "Hikvision", 60, "CM"),
    "ir": ("sensor", "both", "mqtt", "Honeywell", 300, "IR"),
    "motion": ("sensor", "both", "mqtt", "Hikvision", 300, "MS"),
}


def stream(seed: int, *key: int) -> np.random.Generator:
    """An independent random stream per concern (and day), so that adding one kind of
    event does not change every other."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


@dataclass
class Zone:
    idx: int
    park: int
    code: str
    name: str
    ring: str
    kind: str
    parent: int = -1
    owner: int = -1
    capacity: int | None = None
    transit: bool = False
    quals: tuple[str, ...] = ()


@dataclass
class Device:
    idx: int
    serial: str
    name: str
    kind: str
    zone: int
    direction: str
    role: str
    protocol: str
    vendor: str
    heartbeat: int


@dataclass
class Enterprise:
    idx: int
    name: str
    credit_code: str
    park: int
    grid: int
    contact_group: int
    industry: str
    hazchem: bool
    risk: str
    two_shift: bool
    day_start: int  # minutes after midnight
    day_end: int
    lunch: int
    dinner: int  # -1: none
    prefix: str
    security_contact: str = ""
    duty_phone: str = ""
    headcount: int = 0
    buildings: list[int] = field(default_factory=list)
    workshops: list[int] = field(default_factory=list)
    warehouses: list[int] = field(default_factory=list)
    office: int = -1
    finance: int = -1
    valuables: int = -1
    hazchem_stores: list[int] = field(default_factory=list)
    power_rooms: list[int] = field(default_factory=list)


@dataclass
class Park:
    idx: int
    name: str
    address: str
    prefix: str
    zone_per: int = -1
    zone_park: int = -1
    gates: list[int] = field(default_factory=list)
    vehicle_gates: list[int] = field(default_factory=list)
    logistics_gate: int = -1
    police_room: int = -1
    canteens: list[int] = field(default_factory=list)
    canteen_area: int = -1
    living: int = -1
    living_gates: list[int] = field(default_factory=list)
    dorm_buildings: list[int] = field(default_factory=list)
    rooms: list[int] = field(default_factory=list)
    production: int = -1


class World:
    """Everything in the registry, built deterministically from the scale and the seed."""

    def __init__(self, scale: Scale, seed: int, start: dt.date, days: int):
        self.scale, self.seed, self.start, self.days = scale, seed, start, days
        self.station_name = scale.station_name
        self.station_code = scale.station_code
        self.zones: list[Zone] = []
        self.devices: list[Device] = []
        self.parks: list[Park] = []
        self.enterprises: list[Enterprise] = []
        self.agencies: list[dict] = []
        self.grids: list[dict] = []
        self.officers: list[dict] = []
        self.contact_groups: list[dict] = []
        self.access_groups: list[dict] = []
        self.authorisations: list[dict] = []
        self.qualifications: list[dict] = []
        self.watchlist: list[dict] = []
        self.informants: list[dict] = []
        self.taken: dict[str, set[str]] = {
            k: set() for k in ("id", "credit", "plate", "face", "card")
        }
        self._build()

    # --- small helpers ------------------------------------------------------------------

    def rng(self, part: int) -> np.random.Generator:
        return stream(self.seed, 1, part)

    def _zone(self, park: int, code: str, name: str, ring: str, kind: str, **kw) -> int:
        z = Zone(len(self.zones), park, code, name, ring, kind, **kw)
        self.zones.append(z)
        return z.idx

    def _device(self, zone: int, role: str, name: str, n: int = 1) -> list[int]:
        kind, direction, protocol, vendor, hb, tag = DEVICE_ROLES[role]
        z = self.zones[zone]
        out = []
        for k in range(n):
            serial = f"{self.parks[z.park].prefix}-{z.code}-{tag}{k + 1:02d}"
            label = f"{z.name} {name}{k + 1 if n > 1 else ''}"
            d = Device(
                len(self.devices), serial, label, kind, zone, direction, role, protocol, vendor, hb
            )
            self.devices.append(d)
            out.append(d.idx)
        return out

    # --- the build ----------------------------------------------------------------------

    def _build(self) -> None:
        s = self.scale
        rng = self.rng(1)
        self.station_address = f"{s.city}{s.station_name[:-3]}路1号"
        self.station_hotline = f"{s.phone_area}-{rng.integers(20000000, 89999999)}"
        for i, name in enumerate(s.parks):
            self.parks.append(
                Park(
                    i, name, f"{s.city}{name}", prefix=f"{s.station_code.split('-')[-1][:2]}{i + 1}"
                )
            )
        self.grids = [
            {"name": f"{s.station_name[:-3]}第{i + 1}警格", "position": i + 1,
             "description": "由北向南" if s.grids > 1 else ""}
            for i in range(s.grids)
        ]  # fmt: skip
        self._build_enterprises()
        self._build_agencies()
        self._build_zones()
        self._build_people()
        self._build_officers()
        self._build_vehicles()
        self._build_visitors()
        self._build_access()
        self._build_watchlist()
        self._build_informants()
        self._build_tables()

    def _build_enterprises(self) -> None:
        s = self.scale
        rng = self.rng(2)
        n = s.enterprises
        weights = rng.lognormal(0.0, 1.3, n)
        heads = np.maximum(20, np.floor(weights / weights.sum() * s.employees)).astype(int)
        heads[np.argmax(heads)] += s.employees - heads.sum()
        n_haz = max(1, round(n * s.hazchem_share))
        hazchem = np.zeros(n, dtype=bool)
        hazchem[rng.choice(n, n_haz, replace=False)] = True
        codes = identity.credit_codes(rng, n, s.region, self.taken["credit"])
        used_names: set[str] = set()
        city = s.firm_city
        order = np.argsort(-heads, kind="stable")
        two_shift = np.zeros(n, dtype=bool)
        # the largest enterprises run two shifts around the clock
        two_shift[order[: max(1, round(n * s.two_shift_share))]] = True
        contacts = identity.names(rng, rng.random(n) < 0.7)
        duty_phones = identity.phones(rng, n)
        for i in range(n):
            while True:
                trade = "".join(TRADE_WORDS[k] for k in rng.integers(0, len(TRADE_WORDS), size=2))
                suffix, industry = (HAZCHEM_INDUSTRIES if hazchem[i] else INDUSTRIES)[
                    int(rng.integers(0, len(HAZCHEM_INDUSTRIES if hazchem[i] else INDUSTRIES)))
                ]
                name = f"{city}{trade}{suffix}有限公司"
                if name not in used_names:
                    used_names.add(name)
                    break
            park = int(i % len(self.parks))
            if len(self.parks) > 1 and hazchem[i]:
                park = 0  # the chemical park
            if two_shift[i]:
                day_start, day_end, lunch, dinner = (
                    480,
                    1200,
                    660 + 15 * (i % 6),
                    1020 + 10 * (i % 4),
                )
            else:
                day_start = 480 + 30 * (i % 2)
                day_end = day_start + 570
                lunch, dinner = 690 + 10 * (i % 4), -1
            risk = (
                "major"
                if hazchem[i] and heads[i] > 300
                else "high"
                if hazchem[i]
                else ("medium" if heads[i] > 2000 else "low")
            )
            self.enterprises.append(
                Enterprise(
                    idx=i, name=name, credit_code=codes[i], park=park,
                    grid=int(i * s.grids // n), contact_group=int(i % s.contact_groups),
                    industry=industry, hazchem=bool(hazchem[i]), risk=risk,
                    two_shift=bool(two_shift[i]), day_start=day_start, day_end=day_end,
                    lunch=lunch, dinner=dinner, prefix=_prefix(i),
                    security_contact=contacts[i], duty_phone=duty_phones[i],
                    headcount=int(heads[i]),
                )
            )  # fmt: skip

    def _build_agencies(self) -> None:
        s = self.scale
        rng = self.rng(3)
        codes = identity.credit_codes(rng, s.agencies, s.region, self.taken["credit"])
        contacts = identity.names(rng, rng.random(s.agencies) < 0.5)
        phones = identity.phones(rng, s.agencies)
        city = s.firm_city
        used: set[str] = set()
        for i in range(s.agencies):
            while True:
                trade = "".join(TRADE_WORDS[k] for k in rng.integers(0, len(TRADE_WORDS), size=2))
                kind = ("人力资源有限公司", "劳务派遣有限公司", "劳务服务有限公司")[i % 3]
                name = f"{city}{trade}{kind}"
                if name not in used:
                    used.add(name)
                    break
            self.agencies.append(
                {
                    "name": name,
                    "credit_code": codes[i],
                    "licence_number": f"{s.region}{2016 + i % 8}{i + 1:04d}",
                    "address": f"{s.city}人民路{int(rng.integers(1, 400))}号",
                    "contact_name": contacts[i],
                    "contact_phone": phones[i],
                }
            )

    def _build_zones(self) -> None:
        s = self.scale
        rng = self.rng(4)
        # who lives on site: split between the parks by their headcount
        park_heads = np.zeros(len(self.parks))
        for e in self.enterprises:
            park_heads[e.park] += e.headcount
        self.on_site_by_park = _split(s.on_site, park_heads)
        building_no = 0
        for p in self.parks:
            pi = p.idx
            p.zone_per = self._zone(pi, "PER", f"{p.name}周界", "perimeter", "area")
            p.zone_park = self._zone(pi, "PARK", f"{p.name}园区", "park", "area", parent=p.zone_per)
            for g in range(s.gates):
                z = self._zone(
                    pi,
                    f"G{g + 1}",
                    f"{g + 1}号门",
                    "park",
                    "gate",
                    parent=p.zone_park,
                    transit=True,
                )
                p.gates.append(z)
            p.production = self._zone(
                pi, "PROD", "生产区", "production", "area", parent=p.zone_park
            )
            p.logistics_gate = self._zone(
                pi, "GL", "物流门", "park", "gate", parent=p.zone_park, transit=True
            )
            p.police_room = self._zone(
                pi,
                "PS",
                "警企共建工作室（警务室）",
                "park",
                "office",
                parent=p.zone_park,
                capacity=20,
            )
            p.canteen_area = self._zone(pi, "CTN", "食堂区", "park", "area", parent=p.zone_park)
            n_canteens = max(1, round(park_heads[pi] / 12_000))
            for c in range(n_canteens):
                cap = int(max(200, park_heads[pi] / n_canteens * 0.4))
                p.canteens.append(
                    self._zone(
                        pi, f"CTN-{c + 1}", f"{c + 1}号食堂", "park", "canteen",
                        parent=p.canteen_area, capacity=cap,
                    )
                )  # fmt: skip
            on_site = int(self.on_site_by_park[pi])
            if on_site:
                p.living = self._zone(pi, "LIV", "生活区", "living", "area", parent=p.zone_park)
                n_lg = max(1, min(4, math.ceil(on_site / 6000)))
                for g in range(n_lg):
                    p.living_gates.append(
                        self._zone(
                            pi, f"LG{g + 1}", f"生活区{g + 1}号门", "living", "gate",
                            parent=p.living, transit=True,
                        )
                    )  # fmt: skip
                n_rooms = math.ceil(on_site / 8 * 1.05)
                per_building = 150
                n_buildings = math.ceil(n_rooms / per_building)
                per_building = math.ceil(n_rooms / n_buildings)
                per_floor = min(25, math.ceil(per_building / 6))
                made = 0
                for b in range(n_buildings):
                    code = f"D{b + 1:02d}"
                    bz = self._zone(
                        pi, code, f"{b + 1}号宿舍楼", "living", "building", parent=p.living,
                        capacity=per_building * 8,
                    )  # fmt: skip
                    p.dorm_buildings.append(bz)
                    for r in range(per_building):
                        if made == n_rooms:
                            break
                        floor, num = r // per_floor + 1, r % per_floor + 1
                        p.rooms.append(
                            self._zone(
                                pi, f"{code}-{floor:02d}{num:02d}", f"{b + 1}栋{floor}{num:02d}室",
                                "living", "dormitory", parent=bz, capacity=8,
                            )
                        )  # fmt: skip
                        made += 1
        # production buildings per enterprise, by headcount
        haz_no = 0
        for e in self.enterprises:
            p = self.parks[e.park]
            nb = max(1, round(e.headcount / 2200))
            heads = _split(e.headcount, np.ones(nb))
            for b in range(nb):
                building_no += 1
                code = f"B{building_no:03d}"
                bz = self._zone(
                    e.park, code, f"{building_no}号厂房", "production", "building",
                    parent=p.production, owner=e.idx, capacity=int(heads[b] * 1.2),
                )  # fmt: skip
                e.buildings.append(bz)
                n_ws = int(np.clip(math.ceil(heads[b] / 500), 1, 8))
                for w in range(n_ws):
                    e.workshops.append(
                        self._zone(
                            e.park, f"{code}-W{w + 1}", f"{building_no}号厂房{w + 1}车间",
                            "production", "workshop", parent=bz, owner=e.idx,
                            capacity=int(heads[b] / n_ws * 1.2) + 10,
                        )
                    )  # fmt: skip
                e.warehouses.append(
                    self._zone(
                        e.park, f"{code}-K1", f"{building_no}号厂房成品仓", "production",
                        "warehouse", parent=bz, owner=e.idx, capacity=30,
                    )
                )  # fmt: skip
                if e.headcount >= 300:
                    e.power_rooms.append(
                        self._zone(
                            e.park, f"{code}-PWR", f"{building_no}号厂房配电房", "production",
                            "room", parent=bz, owner=e.idx, capacity=5, quals=("electrician",),
                        )
                    )  # fmt: skip
                if b == 0:
                    e.office = self._zone(
                        e.park, f"{code}-OF", f"{e.name}办公室", "production", "office",
                        parent=bz, owner=e.idx, capacity=max(20, e.headcount // 20),
                    )  # fmt: skip
                    e.finance = self._zone(
                        e.park, f"{code}-FIN", f"{e.name}财务室", "core", "room",
                        parent=bz, owner=e.idx, capacity=10,
                    )  # fmt: skip
                    e.valuables = self._zone(
                        e.park, f"{code}-VAL", f"{e.name}贵重物品仓", "core", "warehouse",
                        parent=bz, owner=e.idx, capacity=6,
                    )  # fmt: skip
            if e.hazchem:
                haz_no += 1
                e.hazchem_stores.append(
                    self._zone(
                        e.park, f"HZ{haz_no:02d}", f"{e.name}危化品仓库", "core", "warehouse",
                        parent=p.production, owner=e.idx, capacity=6, quals=("hazchem",),
                    )
                )  # fmt: skip
        self.buildings = sum(len(e.buildings) for e in self.enterprises) + sum(
            len(p.dorm_buildings) for p in self.parks
        )
        # devices
        for p in self.parks:
            for g, gz in enumerate(p.gates):
                self._device(gz, "face_in", "人脸闸机入口", s.lanes)
                self._device(gz, "face_out", "人脸闸机出口", s.lanes)
                self._device(gz, "camera", "全景摄像机")
                if g < s.vehicle_gates:
                    p.vehicle_gates.append(gz)
                    self._device(gz, "car_in", "车牌识别入口", 2)
                    self._device(gz, "car_out", "车牌识别出口", 2)
                if s.ebikes:
                    self._device(gz, "ebike_in", "非机动车道入口", 1 + s.lanes // 4)
                    self._device(gz, "ebike_out", "非机动车道出口", 1 + s.lanes // 4)
            self._device(p.logistics_gate, "car_in", "货车车牌识别入口", 2)
            self._device(p.logistics_gate, "car_out", "货车车牌识别出口", 2)
            self._device(p.police_room, "door", "门禁", 2)
            n_ir = max(4, 2 * s.gates)
            self._device(p.zone_per, "ir", "周界红外对射", n_ir)
            self._device(p.zone_per, "camera", "周界摄像机", n_ir)
            for c in p.canteens:
                lanes = max(2, self.zones[c].capacity // 400)
                self._device(c, "turnstile_in", "入口通道", lanes)
                self._device(c, "turnstile_out", "出口通道", lanes)
            for lg in p.living_gates:
                self._device(lg, "face_in", "人脸闸机入口", max(2, s.lanes // 2))
                self._device(lg, "face_out", "人脸闸机出口", max(2, s.lanes // 2))
            for r in p.rooms:
                self._device(r, "lock", "智能门锁")
        for e in self.enterprises:
            for w in e.workshops:
                self._device(w, "door", "门禁", 2)
            for k in e.warehouses:
                self._device(k, "door", "门禁", 2)
                if rng.random() < 0.5:
                    self._device(k, "motion", "移动侦测")
            for z in (e.office,):
                self._device(z, "door", "门禁", 2)
            for z in [e.finance, e.valuables, *e.hazchem_stores, *e.power_rooms]:
                self._device(z, "door", "门禁", 2 if self.zones[z].kind == "warehouse" else 1)
            for z in [e.valuables, *e.hazchem_stores]:
                self._device(z, "motion", "移动侦测")
                self._device(z, "camera", "摄像机")

    def _build_people(self) -> None:
        s = self.scale
        rng = self.rng(5)
        start = self.start
        cols: dict[str, list] = {k: [] for k in PEOPLE_COLUMNS}
        strs: dict[str, list] = {k: [] for k in PEOPLE_STRINGS}
        self._people_cols, self._people_strs = cols, strs
        # employees, enterprise by enterprise
        self.squads: list[dict] = []
        for e in self.enterprises:
            p = self.parks[e.park]
            n = e.headcount
            shift = np.full(n, DAY, dtype=np.int8)
            if e.two_shift:
                shift[rng.random(n) < 0.35] = NIGHT
            ws_cap = np.array([self.zones[w].capacity for w in e.workshops], dtype=float)
            ws = np.array(e.workshops)[rng.choice(len(ws_cap), n, p=ws_cap / ws_cap.sum())]
            role = np.full(n, R_NONE, dtype=np.int8)
            errand = np.full(n, -1, dtype=np.int64)
            # special posts (day shift): warehouse keepers, finance, valuables, hazardous
            # chemicals, electricians, and some whose qualification is missing or lapsed
            posts = [(2 if n > 100 else 1, R_KEEPER, -1, k) for k in e.warehouses]
            posts += [(2 if n > 200 else 1, R_FINANCE, e.finance, e.office)]
            posts += [(1, R_VALUABLES, e.valuables, -1)]
            for hz in e.hazchem_stores:
                posts += [(3, R_HAZCHEM, hz, -1), (1, R_LAPSED_MISSING, hz, -1)]
                posts += [(1, R_LAPSED_EXPIRED, hz, -1)]
            for i, pwr in enumerate(e.power_rooms):
                posts += [(1, R_ELECTRICIAN, pwr, -1)]
                if i == 0 and not e.hazchem_stores:
                    posts += [(1, R_LAPSED_EXPIRED, pwr, -1)]
            day_idx = np.flatnonzero(shift == DAY)
            rng.shuffle(day_idx)
            cursor = 0
            for k, post, zone, place in posts:
                picked = day_idx[cursor : cursor + k]
                cursor += len(picked)
                role[picked] = post
                errand[picked] = zone
                if place >= 0:
                    ws[picked] = place
            gate = np.array(p.gates)[
                np.where(rng.random(n) < 0.85, ws, rng.integers(0, len(p.gates), n)) % len(p.gates)
            ]
            canteen = np.full(n, p.canteens[e.idx % len(p.canteens)])
            method = rng.choice(3, n, p=[0.7, 0.25, 0.05]).astype(np.int8)
            rest = np.where(rng.random(n) < 0.5, 6, rng.integers(0, 6, n)).astype(np.int8)
            self._add_people(
                rng, n, EMPLOYEE, born=(start.year - 55, start.year - 18), ent=e.idx, shift=shift,
                ws=ws, gate=gate, canteen=canteen, park=e.park, method=method, role=role,
                errand=errand, rest=rest, emp_prefix=e.prefix,
                hire_from=start - dt.timedelta(days=3650), hire_until=start - dt.timedelta(days=7),
            )  # fmt: skip
        # temporary workers: squads of up to 200, from the agencies, to the big enterprises
        big = sorted(self.enterprises, key=lambda e: -e.headcount)[
            : max(1, len(self.enterprises) // 3)
        ]
        remaining = s.temporaries
        sq = 0
        temp_count: dict[int, int] = {}
        while remaining > 0:
            size = int(min(remaining, rng.integers(120, 201)))
            e = big[sq % len(big)]
            agency = sq % s.agencies
            p = self.parks[e.park]
            gate = p.gates[sq % len(p.gates)]
            self.squads.append(
                {"agency": agency, "ent": e.idx, "size": size, "gate": gate, "no": sq + 1}
            )
            ws = np.array(e.workshops)[rng.integers(0, len(e.workshops), size)]
            first = temp_count.get(e.idx, 0)
            temp_count[e.idx] = first + size
            self._add_people(
                rng, size, TEMPORARY, born=(start.year - 50, start.year - 18), ent=e.idx,
                shift=np.full(size, DAY, dtype=np.int8), ws=ws, gate=np.full(size, gate),
                canteen=np.full(size, p.canteens[e.idx % len(p.canteens)]), park=e.park,
                method=rng.choice(2, size, p=[0.8, 0.2]).astype(np.int8), agency=agency,
                squad=sq, emp_prefix="T" + e.prefix, emp_first=first,
                hire_from=start - dt.timedelta(days=60), hire_until=start - dt.timedelta(days=1),
                leave_in=(30, 120), note=f"{self.agencies[agency]['name']} 第{sq + 1}方队",
            )  # fmt: skip
            remaining -= size
            sq += 1
        # residents who live on site without working there
        for p in self.parks:
            n = self._residents_in(p.idx)
            if not n or p.living < 0:
                continue
            self._add_people(
                rng, n, RESIDENT, born=(start.year - 70, start.year - 16), park=p.idx,
                gate=np.array(p.gates)[rng.integers(0, len(p.gates), n)],
                canteen=np.full(n, p.canteens[0]), method=np.full(n, CARD, dtype=np.int8),
                live=np.ones(n, dtype=bool), note="园区住户",
            )  # fmt: skip
        # former employees (left before the period; some are on their employer's watchlist)
        self.former: list[int] = []
        for k in range(s.former_on_watchlist):
            e = self.enterprises[k % len(self.enterprises)]
            p = self.parks[e.park]
            first = sum(len(chunk) for chunk in cols["kind"])  # the row this person gets
            self._add_people(
                rng, 1, EMPLOYEE, born=(start.year - 50, start.year - 20), ent=e.idx,
                shift=np.full(1, DAY, dtype=np.int8), ws=np.array([e.workshops[0]]),
                gate=np.array([p.gates[0]]), canteen=np.array([p.canteens[0]]), park=e.park,
                method=np.zeros(1, dtype=np.int8), emp_prefix="X" + e.prefix, emp_first=k,
                hire_from=start - dt.timedelta(days=1500), hire_until=start - dt.timedelta(days=400),
                leave_before=(10, 300), active=False, note="已离职",
            )  # fmt: skip
            self.former.append(first)
        self._assign_rooms(rng)

    def _residents_in(self, park: int) -> int:
        if not self.on_site_by_park[park]:
            return 0
        total = int(self.on_site_by_park.sum())
        return round(self.scale.residents * self.on_site_by_park[park] / total) if total else 0

    def _add_people(
        self, rng, n, kind, *, born, ent=-1, shift=None, ws=None, gate=None, canteen=None,
        park=0, method=None, role=None, errand=None, rest=None, live=None, agency=-1,
        squad=-1, emp_prefix="", emp_first=0, hire_from=None, hire_until=None, leave_in=None,
        leave_before=None, active=True, note="",
    ) -> None:  # fmt: skip
        cols, strs = self._people_cols, self._people_strs
        fill = lambda v, dtype=np.int64: np.full(n, v, dtype=dtype)  # noqa: E731
        ids, male = identity.id_numbers(
            rng, n, dt.date(born[0], 1, 1), dt.date(born[1], 12, 31), taken=self.taken["id"]
        )
        cols["kind"].append(fill(kind, np.int8))
        cols["ent"].append(fill(ent))
        cols["agency"].append(fill(agency))
        cols["shift"].append(shift if shift is not None else fill(NO_SHIFT, np.int8))
        cols["room"].append(np.where(live, -2, -1) if live is not None else fill(-1))
        cols["ws"].append(ws if ws is not None else fill(-1))
        cols["gate"].append(gate if gate is not None else fill(-1))
        cols["canteen"].append(canteen if canteen is not None else fill(-1))
        cols["park"].append(fill(park))
        cols["method"].append(method if method is not None else fill(FACE, np.int8))
        cols["role"].append(role if role is not None else fill(R_NONE, np.int8))
        cols["errand"].append(errand if errand is not None else fill(-1))
        cols["rest"].append(rest if rest is not None else fill(-1, np.int8))
        cols["squad"].append(fill(squad))
        cols["active"].append(fill(active, bool))
        cols["liv_gate"].append(fill(-1))
        strs["id_number"] += ids
        strs["name"] += identity.names(rng, male)
        strs["phone"] += identity.phones(rng, n)
        if emp_prefix:
            strs["employee_number"] += [f"{emp_prefix}{emp_first + k + 1:06d}" for k in range(n)]
        else:
            strs["employee_number"] += [""] * n
        if kind in (EMPLOYEE, TEMPORARY, RESIDENT):
            strs["card_number"] += identity.card_numbers(rng, n, self.taken["card"])
        else:
            strs["card_number"] += [""] * n
        strs["face_id"] += identity.face_ids(rng, n, self.taken["face"])
        if hire_from is not None:
            span = (hire_until - hire_from).days
            hires = [hire_from + dt.timedelta(days=int(d)) for d in rng.integers(0, span + 1, n)]
            strs["hire_date"] += [h.isoformat() for h in hires]
        else:
            strs["hire_date"] += [""] * n
        if leave_in is not None:
            d = rng.integers(leave_in[0], leave_in[1], n)
            strs["leave_date"] += [(self.start + dt.timedelta(days=int(x))).isoformat() for x in d]
        elif leave_before is not None:
            d = rng.integers(leave_before[0], leave_before[1], n)
            strs["leave_date"] += [(self.start - dt.timedelta(days=int(x))).isoformat() for x in d]
        else:
            strs["leave_date"] += [""] * n
        strs["note"] += [note] * n if isinstance(note, str) else list(note)

    def _assign_rooms(self, rng) -> None:
        c = {k: np.concatenate(v) for k, v in self._people_cols.items()}
        for p in self.parks:
            if p.living < 0:
                continue
            # the employees who live on site
            eligible = np.flatnonzero(
                (c["park"] == p.idx) & (c["kind"] == EMPLOYEE) & (c["role"] == R_NONE) & c["active"]
            )
            k = int(self.on_site_by_park[p.idx]) - self._residents_in(p.idx)
            c["room"][np.sort(rng.choice(eligible, min(k, len(eligible)), replace=False))] = -2
            who = np.flatnonzero((c["room"] == -2) & (c["park"] == p.idx))
            # roommates: same enterprise and shift where possible
            order = np.lexsort((c["shift"][who], c["ent"][who]))
            who = who[order]
            rooms = np.array(p.rooms)
            c["room"][who] = rooms[np.arange(len(who)) // 8 % len(rooms)]
            building_of_room = {r: self.zones[r].parent for r in p.rooms}
            lgs = np.array(p.living_gates)
            b_index = {b: i for i, b in enumerate(p.dorm_buildings)}
            c["liv_gate"][who] = lgs[
                np.array([b_index[building_of_room[r]] for r in c["room"][who]], dtype=int)
                % len(lgs)
            ]
        c["room"][c["room"] == -2] = -1
        self.people = c
        self.people_str = self._people_strs
        del self._people_cols, self._people_strs

    def _append_person(self, **vals) -> int:
        """Add one person after the bulk build (officers, visitors)."""
        defaults = {"shift": NO_SHIFT, "method": FACE, "role": R_NONE, "active": True}
        for k in self.people:
            vals.setdefault(k, defaults.get(k, -1))
        self._pending.append(vals)
        return len(self.people["kind"]) + len(self._pending) - 1

    def _flush_pending(self) -> None:
        c, s = self.people, self.people_str
        if not self._pending:
            return
        for k in c:
            c[k] = np.concatenate([c[k], np.array([v[k] for v in self._pending], dtype=c[k].dtype)])
        for k in s:
            s[k] = s[k] + [v.get("s_" + k, "") for v in self._pending]
        self._pending = []

    def _build_officers(self) -> None:
        s = self.scale
        rng = self.rng(6)
        self._pending: list[dict] = []
        n = s.officers
        n_police = max(3, n // 3)
        ids, male = identity.id_numbers(
            rng, n, dt.date(self.start.year - 55, 1, 1), dt.date(self.start.year - 23, 12, 31),
            taken=self.taken["id"],
        )  # fmt: skip
        nm = identity.names(rng, male)
        ph = identity.phones(rng, n)
        faces = identity.face_ids(rng, n, self.taken["face"])
        duties = ["chief", "deputy"] + ["liaison", "community", "case"] * n
        for i in range(n):
            police = i < n_police
            duty = duties[i] if police else ("patrol" if i % 3 else "community")
            officer = {
                "badge_number": f"{330000 + 17 * i + 101:06d}" if police else f"FJ{4001 + i:04d}",
                "name": nm[i], "kind": "police" if police else "auxiliary", "duty": duty,
                "phone": ph[i], "grids": [], "person": -1,
            }  # fmt: skip
            if duty in ("community", "liaison") or not police:
                officer["grids"] = [self.grids[i % len(self.grids)]["name"]]
            p = self.parks[i % len(self.parks)]
            officer["person"] = self._append_person(
                kind=OFFICER, park=p.idx, gate=p.gates[0], s_id_number=ids[i], s_name=nm[i],
                s_phone=ph[i], s_face_id=faces[i], s_note="派出所民警" if police else "辅警",
            )  # fmt: skip
            self.officers.append(officer)
        self._flush_pending()
        # contact groups (包保联系小组): a leader and members, "4 to 1"
        for g in range(s.contact_groups):
            members = [self.officers[(g * 4 + k) % n] for k in range(4)]
            self.contact_groups.append(
                {
                    "name": f"包保联系{g + 1}组",
                    "leader": members[0]["badge_number"],
                    "members": [m["badge_number"] for m in members],
                }
            )

    def _build_vehicles(self) -> None:
        s = self.scale
        rng = self.rng(7)
        c = self.people
        n_people = len(c["kind"])
        veh = {k: [] for k in ("kind", "owner", "ent", "gate", "registered")}
        vstr = {k: [] for k in ("plate", "colour", "brand", "valid_until")}
        car = np.full(n_people, -1, dtype=np.int64)
        ebike = np.full(n_people, -1, dtype=np.int64)
        commuters = np.flatnonzero(
            (c["kind"] == EMPLOYEE) & (c["room"] < 0) & c["active"] & (c["role"] == R_NONE)
        )
        has_car = commuters[rng.random(len(commuters)) < s.car_share]
        rest = np.setdiff1d(commuters, has_car)
        has_ebike = np.sort(rng.choice(rest, min(s.ebikes, len(rest)), replace=False))
        car_plates = identity.plates(
            rng, len(has_car), s.plate_prefixes, self.taken["plate"], new_energy_share=0.35
        )
        for k, person in enumerate(has_car):
            car[person] = len(veh["kind"])
            park = self.parks[int(c["park"][person])]
            veh["kind"].append(CAR)
            veh["owner"].append(int(person))
            veh["ent"].append(int(c["ent"][person]))
            veh["gate"].append(park.vehicle_gates[int(person) % len(park.vehicle_gates)])
            veh["registered"].append(True)
            vstr["plate"].append(car_plates[k])
            vstr["colour"].append(COLOURS[int(rng.integers(0, len(COLOURS)))])
            vstr["brand"].append(BRANDS[int(rng.integers(0, len(BRANDS)))])
            vstr["valid_until"].append("")
        eplates = identity.ebike_plates(rng, len(has_ebike), s.ebike_city, self.taken["plate"])
        for k, person in enumerate(has_ebike):
            ebike[person] = len(veh["kind"])
            veh["kind"].append(EBIKE)
            veh["owner"].append(int(person))
            veh["ent"].append(int(c["ent"][person]))
            veh["gate"].append(int(c["gate"][person]))
            veh["registered"].append(True)
            vstr["plate"].append(eplates[k])
            vstr["colour"].append(COLOURS[int(rng.integers(0, len(COLOURS)))])
            vstr["brand"].append(EBIKE_BRANDS[int(rng.integers(0, len(EBIKE_BRANDS)))])
            vstr["valid_until"].append("")
        truck_plates = identity.plates(
            rng, s.trucks, s.plate_prefixes + s.visitor_plate_prefixes[1:2], self.taken["plate"]
        )
        for k in range(s.trucks):
            e = self.enterprises[k % len(self.enterprises)]
            veh["kind"].append(TRUCK)
            veh["owner"].append(-1)
            veh["ent"].append(e.idx)
            veh["gate"].append(self.parks[e.park].logistics_gate)
            veh["registered"].append(True)
            vstr["plate"].append(truck_plates[k])
            vstr["colour"].append(("黄", "蓝", "白")[k % 3])
            vstr["brand"].append(TRUCK_BRANDS[k % len(TRUCK_BRANDS)])
            vstr["valid_until"].append("")
        self.veh, self.veh_str = veh, vstr
        c["car"], c["ebike"] = car, ebike

    def _build_visitors(self) -> None:
        """Visitors with appointments, day by day (their vehicles are visitor vehicles)."""
        s = self.scale
        rng = self.rng(8)
        c = self.people
        self._pending = []
        n = s.visitors_per_day * self.days
        ids, male = identity.id_numbers(
            rng, n, dt.date(self.start.year - 65, 1, 1), dt.date(self.start.year - 20, 12, 31),
            taken=self.taken["id"],
        )  # fmt: skip
        nm = identity.names(rng, male)
        ph = identity.phones(rng, n)
        faces = identity.face_ids(rng, n, self.taken["face"])
        has_car = rng.random(n) < 0.35
        plates = identity.plates(
            rng, int(has_car.sum()), s.visitor_plate_prefixes, self.taken["plate"], 0.3
        )
        vis = {k: [] for k in ("person", "day", "start", "end", "ent", "gate", "car")}
        k_car = 0
        for i in range(n):
            day = i // s.visitors_per_day
            e = self.enterprises[int(rng.integers(0, len(self.enterprises)))]
            p = self.parks[e.park]
            begin = int(rng.integers(8 * 60 + 30, 16 * 60)) // 15 * 15
            end = begin + int(rng.choice([60, 90, 120, 180]))
            date = self.start + dt.timedelta(days=day)
            gate = (
                p.vehicle_gates[i % len(p.vehicle_gates)]
                if has_car[i]
                else p.gates[i % len(p.gates)]
            )
            person = self._append_person(
                kind=VISITOR, ent=e.idx, park=p.idx, gate=gate, ws=e.office,
                s_id_number=ids[i], s_name=nm[i], s_phone=ph[i], s_face_id=faces[i],
                s_note=f"预约来访 {date.isoformat()} {_hhmm(begin)}–{_hhmm(end)}",
            )  # fmt: skip
            car = -1
            if has_car[i]:
                car = len(self.veh["kind"])
                self.veh["kind"].append(CAR)
                self.veh["owner"].append(person)
                self.veh["ent"].append(e.idx)
                self.veh["gate"].append(gate)
                self.veh["registered"].append(False)
                self.veh_str["plate"].append(plates[k_car])
                self.veh_str["colour"].append(COLOURS[int(rng.integers(0, len(COLOURS)))])
                self.veh_str["brand"].append(BRANDS[int(rng.integers(0, len(BRANDS)))])
                until = dt.datetime.combine(date, dt.time(end // 60, end % 60), TZ)
                self.veh_str["valid_until"].append(until.isoformat())
                k_car += 1
            for key, v in (("person", person), ("day", day), ("start", begin), ("end", end),
                           ("ent", e.idx), ("gate", gate), ("car", car)):  # fmt: skip
                vis[key].append(v)
        self._flush_pending()
        self.visits = {k: np.array(v, dtype=np.int64) for k, v in vis.items()}
        c["car"][self.visits["person"]] = self.visits["car"]
        self.veh = {
            k: np.array(v, dtype=np.int64 if k != "registered" else bool)
            for k, v in self.veh.items()
        }

    def _build_access(self) -> None:
        rng = self.rng(9)
        c, cs = self.people, self.people_str
        ids = cs["id_number"]
        z = self.zones
        ref = self.zone_ref

        def group(name, members, ent=-1, description=""):
            chunks = [members[i : i + 1000] for i in range(0, len(members), 1000)] or [[]]
            names = []
            for k, chunk in enumerate(chunks):
                gname = name if len(chunks) == 1 else f"{name}{k + 1:02d}"
                self.access_groups.append(
                    {"name": gname, "ent": ent, "members": [ids[m] for m in chunk],
                     "description": description}
                )  # fmt: skip
                names.append(gname)
            return names

        def authorise(zone, *, person=-1, group_name="", weekdays="1234567", window=None,
                      valid=None, note=""):  # fmt: skip
            self.authorisations.append(
                {"zone": ref(zone), "id_number": ids[person] if person >= 0 else "",
                 "group": group_name, "weekdays": weekdays,
                 "time_from": window[0] if window else "", "time_until": window[1] if window else "",
                 "valid_from": valid[0] if valid else "", "valid_until": valid[1] if valid else "",
                 "note": note}
            )  # fmt: skip

        active = c["active"]
        for e in self.enterprises:
            p = self.parks[e.park]
            staff = np.flatnonzero((c["ent"] == e.idx) & (c["kind"] == EMPLOYEE) & active)
            window = None if e.two_shift else ("06:30", "21:30")
            for g in group(f"{e.name}员工", staff.tolist(), e.idx, "本企业员工通行"):
                for gate in p.gates:
                    authorise(gate, group_name=g)
                authorise(p.canteen_area, group_name=g)
                authorise(e.office, group_name=g)
                for w in e.workshops:
                    authorise(w, group_name=g, window=window)
            keepers = np.flatnonzero((c["ent"] == e.idx) & (c["role"] == R_KEEPER))
            for g in group(f"{e.name}仓管", keepers.tolist(), e.idx, "成品仓管理"):
                for k in e.warehouses:
                    authorise(k, group_name=g)
            core = np.flatnonzero(
                (c["ent"] == e.idx)
                & np.isin(
                    c["role"],
                    [
                        R_FINANCE,
                        R_VALUABLES,
                        R_HAZCHEM,
                        R_ELECTRICIAN,
                        R_LAPSED_MISSING,
                        R_LAPSED_EXPIRED,
                    ],
                )
            )
            for person in core:
                authorise(
                    int(c["errand"][person]), person=int(person), weekdays="12345",
                    window=("08:00", "18:00"), note="核心区域授权",
                )  # fmt: skip
        # temporary workers: one group per squad, valid while the squad is engaged
        valid = (
            (self.start - dt.timedelta(days=30)).isoformat(),
            (self.start + dt.timedelta(days=self.days + 60)).isoformat(),
        )
        for sq in self.squads:
            e = self.enterprises[sq["ent"]]
            p = self.parks[e.park]
            members = np.flatnonzero(c["squad"] == sq["no"] - 1).tolist()
            ag = self.agencies[sq["agency"]]
            for g in group(f"{ag['name']}第{sq['no']}方队", members, e.idx, f"派驻{e.name}"):
                for gate in p.gates:
                    authorise(gate, group_name=g, valid=valid)
                authorise(p.canteen_area, group_name=g, valid=valid)
                for w in e.workshops:
                    authorise(w, group_name=g, valid=valid, window=("06:00", "22:00"))
        # people living on site: the living-area gates and their own room
        for p in self.parks:
            if p.living < 0:
                continue
            for b in p.dorm_buildings:
                rooms = {r for r in p.rooms if z[r].parent == b}
                lodgers = np.flatnonzero(np.isin(c["room"], list(rooms))).tolist()
                for g in group(f"{p.name}{z[b].name}住宿人员", lodgers, -1, "住宿人员"):
                    for lg in p.living_gates:
                        authorise(lg, group_name=g)
            lodgers = np.flatnonzero((c["park"] == p.idx) & (c["room"] >= 0))
            for person in lodgers:
                authorise(int(c["room"][person]), person=int(person), note="本人宿舍")
            residents = np.flatnonzero((c["park"] == p.idx) & (c["kind"] == RESIDENT))
            for g in group(f"{p.name}住户", residents.tolist(), -1, "园区住户"):
                for gate in p.gates:
                    authorise(gate, group_name=g)
                authorise(p.canteen_area, group_name=g)
        # officers: every gate and the police room of every park
        officers = np.flatnonzero(c["kind"] == OFFICER).tolist()
        for g in group(f"{self.station_name}民警辅警", officers, -1, "派出所警力"):
            for p in self.parks:
                for gate in p.gates:
                    authorise(gate, group_name=g)
                authorise(p.police_room, group_name=g)
        # visitors: their gate and the host's office, on the day of the appointment
        v = self.visits
        for i in range(len(v["person"])):
            date = (self.start + dt.timedelta(days=int(v["day"][i]))).isoformat()
            window = (_hhmm(max(0, v["start"][i] - 30)), _hhmm(min(1439, v["end"][i] + 30)))
            e = self.enterprises[int(v["ent"][i])]
            for zone in (int(v["gate"][i]), e.office):
                authorise(zone, person=int(v["person"][i]), window=window, valid=(date, date),
                          note="访客预约")  # fmt: skip
        # qualifications
        start = self.start
        for person in np.flatnonzero(
            np.isin(c["role"], [R_HAZCHEM, R_ELECTRICIAN, R_LAPSED_EXPIRED])
        ):
            zone = int(c["errand"][person])
            code = z[zone].quals[0]
            months = {q[0]: q[2] for q in QUALIFICATION_TYPES}[code]
            if c["role"][person] == R_LAPSED_EXPIRED:
                until = start - dt.timedelta(days=int(rng.integers(5, 90)))
            else:
                until = start + dt.timedelta(days=self.days + int(rng.integers(30, 300)))
            issued = until - dt.timedelta(days=round(months * 30.4))
            self.qualifications.append(
                {"id_number": ids[person], "type": code, "issued_on": issued.isoformat(),
                 "valid_until": until.isoformat(),
                 "number": f"{code[:2].upper()}{self.scale.region}{len(self.qualifications) + 1:06d}"}
            )  # fmt: skip
        for person in np.flatnonzero(c["role"] == R_KEEPER):
            until = start + dt.timedelta(days=self.days + int(rng.integers(60, 900)))
            self.qualifications.append(
                {"id_number": ids[person], "type": "forklift",
                 "issued_on": (until - dt.timedelta(days=1460)).isoformat(),
                 "valid_until": until.isoformat(),
                 "number": f"FL{self.scale.region}{len(self.qualifications) + 1:06d}"}
            )  # fmt: skip
        temps = np.flatnonzero(c["kind"] == TEMPORARY)
        for person in temps:
            issued = dt.date.fromisoformat(cs["hire_date"][person])
            self.qualifications.append(
                {"id_number": ids[person], "type": "first-briefing", "issued_on": issued.isoformat(),
                 "valid_until": (issued + dt.timedelta(days=365)).isoformat(), "number": ""}
            )  # fmt: skip

    def _build_watchlist(self) -> None:
        s = self.scale
        rng = self.rng(10)
        c, cs = self.people, self.people_str
        for person in self.former:
            e = self.enterprises[int(c["ent"][person])]
            self.watchlist.append(
                {"kind": "person", "name": cs["name"][person], "id_number": cs["id_number"][person],
                 "face_id": cs["face_id"][person], "plate": "", "reason": "已离职人员，禁止入厂",
                 "level": "warning", "ent": e.idx, "valid_until": "", "person": person}
            )  # fmt: skip
        n = s.police_watchlist
        ids, male = identity.id_numbers(
            rng, n, dt.date(self.start.year - 60, 1, 1), dt.date(self.start.year - 18, 12, 31),
            taken=self.taken["id"],
        )  # fmt: skip
        nm = identity.names(rng, male)
        faces = identity.face_ids(rng, n, self.taken["face"])
        for i in range(n):
            reason, level = WATCH_REASONS[i % len(WATCH_REASONS)]
            self.watchlist.append(
                {"kind": "person", "name": nm[i], "id_number": ids[i], "face_id": faces[i],
                 "plate": "", "reason": reason, "level": level, "ent": -1, "valid_until": "",
                 "person": -1}
            )  # fmt: skip
        plates = identity.plates(
            rng, s.plate_watchlist, s.visitor_plate_prefixes, self.taken["plate"]
        )
        for i in range(s.plate_watchlist):
            reason, level = PLATE_REASONS[i % len(PLATE_REASONS)]
            self.watchlist.append(
                {"kind": "plate", "name": "", "id_number": "", "face_id": "", "plate": plates[i],
                 "reason": reason, "level": level, "ent": -1,
                 "valid_until": (self.start + dt.timedelta(days=365)).isoformat(), "person": -1}
            )  # fmt: skip

    def _build_informants(self) -> None:
        rng = self.rng(11)
        c = self.people
        for e in self.enterprises:
            staff = np.flatnonzero(
                (c["ent"] == e.idx) & (c["kind"] == EMPLOYEE) & c["active"] & (c["role"] == R_NONE)
            )
            k = max(1, len(staff) // 300)
            for person in np.sort(rng.choice(staff, min(k, len(staff)), replace=False)):
                ws = int(c["ws"][person])
                since = self.start - dt.timedelta(days=int(rng.integers(30, 1000)))
                self.informants.append(
                    {"person": int(person), "workshop": ws,
                     "team": f"{self.zones[ws].name}{int(rng.integers(1, 4))}班",
                     "since": since.isoformat()}
                )  # fmt: skip

    def _build_tables(self) -> None:
        """Lookup tables for the daily life: the devices of each zone by role."""
        nz = len(self.zones)
        roles: dict[str, list[list[int]]] = {}
        for d in self.devices:
            role = d.role
            keys = {
                "face_in": ["in"], "face_out": ["out"], "turnstile_in": ["in"],
                "turnstile_out": ["out"], "door": ["in", "out"], "lock": ["in", "out"],
                "car_in": ["car_in"], "car_out": ["car_out"], "ebike_in": ["ebike_in"],
                "ebike_out": ["ebike_out"], "motion": ["motion"], "ir": ["ir"],
            }.get(role, [])  # fmt: skip
            for key in keys:
                if key not in roles:
                    roles[key] = [[] for _ in range(nz)]
                roles[key][d.zone].append(d.idx)
        self.tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key, per_zone in roles.items():
            width = max(len(x) for x in per_zone)
            table = np.full((nz, width), -1, dtype=np.int32)
            count = np.zeros(nz, dtype=np.int32)
            for zi, devs in enumerate(per_zone):
                table[zi, : len(devs)] = devs
                count[zi] = len(devs)
            self.tables[key] = (table, count)
        self.device_zone = np.array([d.zone for d in self.devices], dtype=np.int32)
        self.n_people = len(self.people["kind"])
        self.n_vehicles = len(self.veh["kind"])

    # --- references as the import files write them ----------------------------------------

    def zone_ref(self, zone: int) -> str:
        z = self.zones[zone]
        return f"{self.parks[z.park].name}/{z.code}"

    def subject_key(self, person: int) -> str:
        return f"P{person + 1:06d}"


def _prefix(i: int) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return letters[i // len(letters) % len(letters)] + letters[i % len(letters)]


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` that add up to ``total``."""
    weights = np.asarray(weights, dtype=float)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=int)
    raw = weights / weights.sum() * total
    out = np.floor(raw).astype(int)
    rest = total - out.sum()
    out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


def _hhmm(minutes: int) -> str:
    minutes = int(minutes)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
