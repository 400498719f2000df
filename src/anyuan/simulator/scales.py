"""The sizes the simulator can generate.

``demo`` is one park of a few enterprises (what ``make demo`` loads); ``district`` is a
station's alliance of 50 enterprises in 10 grids (seed 003); ``longhua`` is the factory
area of seed 004: 180,000 people, 100+ buildings, 20+ labour agencies, 30,000 living on
site, 30,000 e-bikes. ``tiny`` exists for fast tests.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scale:
    name: str
    description: str
    station_name: str
    station_code: str
    city: str  # address prefix
    firm_city: str  # how the city starts a firm's name
    phone_area: str  # telephone area code
    region: str  # GB/T 2260 code where the enterprises are registered
    plate_prefixes: tuple[str, ...]  # local plates
    visitor_plate_prefixes: tuple[str, ...]
    ebike_city: str
    parks: tuple[str, ...]
    enterprises: int
    employees: int
    temporaries: int
    agencies: int
    on_site: int  # people living in the dormitories (employees and residents)
    residents: int  # of them, people who live there without working there
    visitors_per_day: int
    officers: int
    grids: int
    contact_groups: int
    gates: int  # pedestrian gates per park
    lanes: int  # face-gate lanes per gate and direction
    vehicle_gates: int  # of the gates, how many have car lanes
    ebikes: int
    car_share: float  # of commuting employees
    trucks: int
    hazchem_share: float
    two_shift_share: float
    former_on_watchlist: int
    police_watchlist: int
    plate_watchlist: int
    # anomalies and faults per day
    per_day: dict[str, int] = field(default_factory=dict)


def _per_day(k: float) -> dict[str, int]:
    base = {
        "stranger": 3,
        "unauthorised_zone": 2,
        "visitor_vehicle_overstay": 1,
        "watchlist_hit": 2,
        "after_hours_entry": 2,
        "antipassback": 2,
        "qualification_missing": 1,
        "qualification_expired": 1,
        "object_missing": 1,
        "intrusion": 1,
        "device_silent": 1,
        "clock_skew": 1,
        "duplicate_delivery": 10,
        "out_of_order": 10,
    }
    counts = {key: max(1, round(v * k)) for key, v in base.items()}
    counts["clock_skew"] = 1 if k < 4 else 2
    counts["device_silent"] = max(1, round(k / 3))
    return counts


SCALES: dict[str, Scale] = {
    "tiny": Scale(
        name="tiny",
        description="a handful of enterprises, for tests",
        station_name="示例派出所",
        station_code="SIM-TINY",
        city="浙江省宁波市北仑区",
        firm_city="宁波",
        phone_area="0574",
        region="330206",
        plate_prefixes=("浙B",),
        visitor_plate_prefixes=("浙B", "浙A", "沪A"),
        ebike_city="宁波",
        parks=("示例工业园",),
        enterprises=3,
        employees=260,
        temporaries=60,
        agencies=1,
        on_site=70,
        residents=6,
        visitors_per_day=8,
        officers=6,
        grids=1,
        contact_groups=1,
        gates=2,
        lanes=2,
        vehicle_gates=1,
        ebikes=40,
        car_share=0.2,
        trucks=4,
        hazchem_share=0.34,
        two_shift_share=0.5,
        former_on_watchlist=2,
        police_watchlist=3,
        plate_watchlist=2,
        per_day=_per_day(1),
    ),
    "demo": Scale(
        name="demo",
        description="one park, a few enterprises, about 2,000 people",
        station_name="海港派出所",
        station_code="SIM-DEMO",
        city="浙江省宁波市北仑区",
        firm_city="宁波",
        phone_area="0574",
        region="330206",
        plate_prefixes=("浙B",),
        visitor_plate_prefixes=("浙B", "浙A", "浙D", "沪A", "苏E"),
        ebike_city="宁波",
        parks=("海港智造园",),
        enterprises=6,
        employees=1_550,
        temporaries=280,
        agencies=2,
        on_site=420,
        residents=20,
        visitors_per_day=30,
        officers=12,
        grids=2,
        contact_groups=2,
        gates=3,
        lanes=3,
        vehicle_gates=1,
        ebikes=320,
        car_share=0.2,
        trucks=12,
        hazchem_share=0.34,
        two_shift_share=0.5,
        former_on_watchlist=4,
        police_watchlist=6,
        plate_watchlist=4,
        per_day=_per_day(1),
    ),
    "district": Scale(
        name="district",
        description="a station's alliance: 50 enterprises in 10 grids, about 20,000 people",
        station_name="乍南派出所",
        station_code="SIM-DISTRICT",
        city="浙江省嘉兴市平湖市",
        firm_city="平湖市",
        phone_area="0573",
        region="330482",
        plate_prefixes=("浙F",),
        visitor_plate_prefixes=("浙F", "浙A", "浙B", "沪A", "苏E", "皖A"),
        ebike_city="平湖",
        parks=("乍浦化工新材料园", "滨海物流园", "机电产业园"),
        enterprises=50,
        employees=16_300,
        temporaries=2_900,
        agencies=4,
        on_site=3_000,
        residents=100,
        visitors_per_day=120,
        officers=16,
        grids=10,
        contact_groups=5,
        gates=3,
        lanes=4,
        vehicle_gates=2,
        ebikes=3_000,
        car_share=0.2,
        trucks=80,
        hazchem_share=0.4,
        two_shift_share=0.5,
        former_on_watchlist=10,
        police_watchlist=20,
        plate_watchlist=10,
        per_day=_per_day(4),
    ),
    "longhua": Scale(
        name="longhua",
        description="the factory area of seed 004: 180,000 people, 30,000 living on site",
        station_name="松华派出所",
        station_code="SIM-LONGHUA",
        city="广东省深圳市龙华区",
        firm_city="深圳市",
        phone_area="0755",
        region="440309",
        plate_prefixes=("粤B",),
        visitor_plate_prefixes=("粤B", "粤S", "粤L", "粤E", "湘A", "赣B", "桂A"),
        ebike_city="深圳",
        parks=("华南科技厂区",),
        enterprises=110,
        employees=150_900,
        temporaries=26_000,
        agencies=22,
        on_site=30_000,
        residents=500,
        visitors_per_day=150,
        officers=40,
        grids=6,
        contact_groups=6,
        gates=10,
        lanes=12,
        vehicle_gates=3,
        ebikes=30_000,
        car_share=0.08,
        trucks=400,
        hazchem_share=0.1,
        two_shift_share=0.7,
        former_on_watchlist=30,
        police_watchlist=60,
        plate_watchlist=20,
        per_day=_per_day(12),
    ),
}
