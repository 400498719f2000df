"""The dashboard's data endpoints: the numbers on a small fixture, scoping (the police's
jurisdiction with its grid and enterprise filters, an enterprise's own zones), refused
parameters, and a bound on the queries of each endpoint."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone

from anyuan.alerts.models import Alert
from anyuan.core.roles import Role
from anyuan.dashboard import rollups
from anyuan.events.models import DeviceLink, Presence
from anyuan.registry.models import Device, Person, PoliceGrid, Vehicle

BASE = "/api/v1/dashboard"
ENDPOINTS = ("occupancy", "passages-hourly", "alerts", "zones", "devices")
DAY = dt.date(2026, 11, 3)  # a Tuesday; compared with Tuesday 27 October
UTC = dt.UTC


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=rollups.local_zone())


def client_for(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def stay(zone, *, person=None, vehicle=None, credential="", method="card", minutes=60, left=False):
    now = timezone.now()
    kind = "person" if person else "vehicle" if vehicle else "unknown"
    return Presence.objects.create(
        subject_kind=kind, person=person, vehicle=vehicle, method=method,
        credential=credential, zone=zone, entered_at=now - dt.timedelta(minutes=minutes),
        left_at=now - dt.timedelta(minutes=1) if left else None,
    )  # fmt: skip


@pytest.fixture
def dash(world):
    """Inside now, alerts, devices and passages in every tenant of the world."""
    now = timezone.now()
    own, neighbour, foreign, home = world.own, world.neighbour, world.foreign, world.home
    own.zone.capacity = 3
    own.zone.save()
    # the neighbour in a grid of its own, for the police's grid filter
    grid2 = PoliceGrid.objects.create(station=home.station, name="HOME 警格2", position=2)
    neighbour.enterprise.grid = grid2
    neighbour.enterprise.save()

    visitor = Vehicle.objects.create(
        station=home.station, plate="浙B9V001", enterprise=own.enterprise, registered=False,
        valid_until=now - dt.timedelta(minutes=30),
    )  # fmt: skip
    # own workshop: a person, a stranger's face, a staff car, a visitor car, an unknown
    # plate, and one who has left
    stay(own.zone, person=own.person)
    stay(own.zone, credential="FACE-X", method="face")
    stay(own.zone, vehicle=own.vehicle, method="plate")
    stay(own.zone, vehicle=visitor, method="plate", minutes=95)
    stay(own.zone, credential="浙A00000", method="plate", minutes=30)
    stay(own.zone, person=own.colleague, left=True)
    # the visitor car is also inside the park (gate zone): one vehicle, two presences
    stay(home.shared_zone, vehicle=visitor, method="plate", minutes=100)
    stay(home.shared_zone, person=own.colleague)
    stay(neighbour.zone, person=neighbour.person)
    stay(neighbour.zone, person=neighbour.colleague)
    stay(foreign.zone, person=foreign.person)

    def alert(tenant, station, *, key, type="stranger", severity="high", state="new", first=None, enterprise=True):  # fmt: skip
        first = first or now
        return Alert.objects.create(
            station=station, enterprise=tenant.enterprise if enterprise else None,
            zone=tenant.zone if enterprise else home.shared_zone, type=type, source_key=key,
            severity=severity, state=state, title=f"{key} title", first_seen=first,
            last_seen=max(first, now - dt.timedelta(minutes=5)),
        )  # fmt: skip

    today = timezone.localdate(now, rollups.local_zone())
    # the world holds one new intrusion alert per enterprise (first seen now)
    alert(own, home.station, key="OWN-K1")
    alert(own, home.station, key="OWN-K2", type="tamper", severity="critical", state="acknowledged")
    alert(own, home.station, key="OWN-OLD", state="resolved", first=now - dt.timedelta(days=3))
    alert(own, home.station, key="OWN-ANCIENT", state="resolved", first=now - dt.timedelta(days=40))
    # 00:30 local today is 16:30 UTC the day before: counted for today
    alert(own, home.station, key="OWN-MIDNIGHT", state="resolved", first=local(today, 0, 30))
    alert(own, home.station, key="PARK-1", enterprise=False)  # the police's only
    alert(neighbour, home.station, key="NEIGHBOUR-K1")
    alert(foreign, world.foreign_station.station, key="FOREIGN-K1")

    # devices: the own gate heard now, a silent door, a never-heard and an inactive one
    DeviceLink.objects.create(device=own.device, last_seen=now, last_heartbeat=now)
    silent = Device.objects.create(
        zone=own.zone, name="OWN 门禁", kind="door", serial="OWN-DOOR", heartbeat_seconds=60
    )
    DeviceLink.objects.create(device=silent, last_seen=now - dt.timedelta(minutes=10))
    Device.objects.create(zone=own.zone, name="OWN 新门", kind="door", serial="OWN-NEW")
    Device.objects.create(
        zone=own.zone, name="OWN 旧门", kind="door", serial="OWN-OLD", active=False
    )
    DeviceLink.objects.create(device=neighbour.device, last_seen=now - dt.timedelta(hours=2))

    # passages: DAY and the same weekday a week before, 08:00–09:00 local
    before = DAY - dt.timedelta(days=7)
    rows = (
        [(own.zone.pk, local(DAY, 8, 5), "in")] * 3
        + [(own.zone.pk, local(DAY, 8, 50), "out")]
        + [(own.zone.pk, local(DAY, 23, 59), "in")]  # 15:59 UTC
        + [(own.zone.pk, local(before, 8, 10), "in")] * 2
        + [(neighbour.zone.pk, local(DAY, 8, 0), "in")] * 5
        + [(home.shared_zone.pk, local(DAY, 8, 0), "in")] * 7
        + [(foreign.zone.pk, local(DAY, 8, 0), "in")] * 11
    )
    rollups.add_passages(rows)
    return SimpleNamespace(world=world, grid2=grid2, visitor=visitor, silent=silent, today=today)


def get(client, endpoint, **params):
    return client.get(f"{BASE}/{endpoint}", params)


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_occupancy_as_police(dash):
    world = dash.world
    data = get(client_for(world.users[Role.POLICE_ADMIN]), "occupancy").json()
    # own 5 + shared 2 + neighbour 2 = 9 open presences; the visitor car twice
    assert data["presences"] == 9
    # people: own person, colleague (shared zone), neighbour 2, the stranger's face
    assert data["people"] == 5
    # vehicles: staff car, visitor car (in two zones: once), the unknown plate
    assert data["vehicles"] == 3
    assert data["visitor_vehicles_total"] == 2
    plates = [
        (v["plate"], v["known"], v["visitor"], v["overdue"]) for v in data["visitor_vehicles"]
    ]
    assert plates == [("浙B9V001", True, True, True), ("浙A00000", False, False, False)]
    assert data["visitor_vehicles"][0]["minutes"] >= 99  # its longer stay: in the park
    assert data["visitor_vehicles"][0]["zone"]["id"] == world.home.shared_zone.pk
    zones = {z["id"]: z for z in data["zones"]}
    own = zones[world.own.zone.pk]
    assert (own["inside"], own["people"], own["vehicles"], own["capacity"]) == (5, 2, 3, 3)
    assert own["over_capacity"] and own["utilisation"] == pytest.approx(1.667, abs=0.001)
    assert data["zones"][0]["id"] == world.own.zone.pk  # the fullest first
    assert zones[world.neighbour.zone.pk]["inside"] == 2
    assert world.foreign.zone.pk not in zones
    rings = {r["ring"]: r for r in data["rings"]}
    assert rings["production"]["inside"] == 7 and rings["production"]["capacity"] == 3
    assert rings["park"]["inside"] == 2
    assert "FOREIGN" not in str(data)


@pytest.mark.django_db
def test_occupancy_of_an_enterprise_is_its_own(dash):
    world = dash.world
    for role in (Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_SECURITY):
        data = get(client_for(world.users[role]), "occupancy").json()
        assert data["presences"] == 5
        assert (data["people"], data["vehicles"]) == (2, 3)
        assert [z["id"] for z in data["zones"]] == [world.own.zone.pk]
        assert [r["ring"] for r in data["rings"]] == ["production"]
        # the visitor car counts in its own workshop, not at the park gate (the police's)
        assert data["visitor_vehicles"][0]["zone"]["id"] == world.own.zone.pk
        assert "NEIGHBOUR" not in str(data) and "FOREIGN" not in str(data)


@pytest.mark.django_db
def test_police_filters_by_grid_and_enterprise(dash):
    world = dash.world
    police = client_for(world.users[Role.POLICE_OFFICER])
    by_grid = get(police, "occupancy", grid=world.home.grid.pk).json()
    assert by_grid["presences"] == 5  # the own enterprise's zone; not the park gate
    by_grid2 = get(police, "occupancy", grid=dash.grid2.pk).json()
    assert by_grid2["presences"] == 2
    assert [z["id"] for z in by_grid2["zones"]] == [world.neighbour.zone.pk]
    by_enterprise = get(police, "zones", enterprise=world.neighbour.enterprise.pk).json()
    assert [z["id"] for z in by_enterprise["zones"]] == [world.neighbour.zone.pk]
    both = get(police, "alerts", grid=dash.grid2.pk, enterprise=world.own.enterprise.pk).json()
    assert both["open"]["total"] == 0
    hourly = get(police, "passages-hourly", day=DAY, enterprise=world.own.enterprise.pk).json()
    assert hourly["total"] == 5
    devices = get(police, "devices", grid=dash.grid2.pk).json()
    assert devices["total"] == 1 and devices["silent"] == 1


@pytest.mark.django_db
def test_passages_hourly(dash):
    world = dash.world
    police = client_for(world.users[Role.POLICE_ADMIN])
    data = get(police, "passages-hourly", day=DAY).json()
    assert data["day"] == "2026-11-03" and data["compare_day"] == "2026-10-27"
    hours = data["hours"]
    assert len(hours) == 24 and hours[0]["label"] == "00:00"
    eight = hours[8]
    assert eight["label"] == "08:00"
    assert dt.datetime.fromisoformat(eight["start"]) == local(DAY, 8)
    # own 3 in + 1 out, neighbour 5, park gate 7 — not the foreign station's 11
    assert (eight["in"], eight["out"], eight["total"]) == (15, 1, 16)
    assert (eight["compare_in"], eight["compare_out"], eight["compare_total"]) == (2, 0, 2)
    assert hours[23]["in"] == 1  # 23:59 local is 15:59 UTC: still this day
    assert data["total"] == 17 and data["compare_total"] == 2
    assert not any(h["future"] for h in hours)  # a past day

    enterprise = client_for(world.users[Role.ENTERPRISE_ADMIN])
    mine = get(enterprise, "passages-hourly", day=DAY).json()
    assert (mine["hours"][8]["in"], mine["hours"][8]["out"], mine["total"]) == (3, 1, 5)

    today = get(police, "passages-hourly").json()
    assert today["day"] == dash.today.isoformat()
    now = timezone.localtime(timezone.now(), rollups.local_zone())
    assert [h["future"] for h in today["hours"]] == [h > now.hour for h in range(24)]


@pytest.mark.django_db
def test_alerts(dash):
    world = dash.world
    data = get(client_for(world.users[Role.POLICE_ADMIN]), "alerts").json()
    # open: 2 intrusions of the world (own, neighbour), OWN-K1, OWN-K2, PARK-1, NEIGHBOUR-K1
    assert data["open"]["total"] == 6
    assert data["open"]["by_severity"] == {"low": 0, "medium": 2, "high": 3, "critical": 1}
    titles = [a["title"] for a in data["feed"]]
    assert "FOREIGN-K1 title" not in titles and "OWN-OLD title" not in titles
    assert len(titles) == 6
    seen = [a["last_seen"] for a in data["feed"]]
    assert seen == sorted(seen, reverse=True)  # newest activity first
    k2 = next(a for a in data["feed"] if a["title"] == "OWN-K2 title")
    assert (k2["type"], k2["severity"], k2["state"]) == ("tamper", "critical", "acknowledged")
    assert k2["zone"] == {"id": world.own.zone.pk, "name": world.own.zone.name}
    assert k2["type_label"] and k2["state_label"]
    today = {t["type"]: t["count"] for t in data["today"]}
    # first seen today: 2 world intrusions, stranger OWN-K1, PARK-1, NEIGHBOUR-K1 and
    # OWN-MIDNIGHT (00:30 local), tamper OWN-K2
    assert today == {"intrusion": 2, "stranger": 4, "tamper": 1}
    days = data["days"]
    assert len(days) == 30 and days[-1]["day"] == dash.today.isoformat()
    assert days[-1]["total"] == 7
    three_ago = (dash.today - dt.timedelta(days=3)).isoformat()
    assert next(d for d in days if d["day"] == three_ago)["by_type"] == {"stranger": 1}
    assert sum(d["total"] for d in days) == 8  # 40 days ago is out of the window
    assert len(data["types"]) == len(Alert.Type.choices)

    short = get(client_for(world.users[Role.POLICE_ADMIN]), "alerts", limit=2).json()
    assert len(short["feed"]) == 2

    mine = get(client_for(world.users[Role.ENTERPRISE_SECURITY]), "alerts").json()
    assert mine["open"]["total"] == 3  # the own intrusion, OWN-K1, OWN-K2
    assert {t["type"]: t["count"] for t in mine["today"]} == {
        "intrusion": 1,
        "stranger": 2,
        "tamper": 1,
    }
    assert "NEIGHBOUR" not in str(mine) and "PARK-1" not in str(mine)


@pytest.mark.django_db
def test_zones(dash):
    world = dash.world
    data = get(client_for(world.users[Role.POLICE_ADMIN]), "zones").json()
    zones = {z["id"]: z for z in data["zones"]}
    assert set(zones) == {world.own.zone.pk, world.neighbour.zone.pk, world.home.shared_zone.pk}
    own = zones[world.own.zone.pk]
    assert (own["inside"], own["open_alerts"], own["over_capacity"]) == (5, 3, True)
    assert own["ring"] == "production" and own["kind"] == "workshop"
    assert own["parent"] is None and own["enterprise"] == world.own.enterprise.pk
    gate = zones[world.home.shared_zone.pk]
    assert (gate["inside"], gate["open_alerts"]) == (2, 1)

    mine = get(client_for(world.users[Role.ENTERPRISE_ADMIN]), "zones").json()
    zones = {z["id"]: z for z in mine["zones"]}
    # its own zone, and the park's shared gate by name only: its counts are the police's
    assert set(zones) == {world.own.zone.pk, world.home.shared_zone.pk}
    assert zones[world.home.shared_zone.pk]["inside"] is None
    assert zones[world.own.zone.pk]["inside"] == 5


@pytest.mark.django_db
def test_devices(dash):
    world = dash.world
    data = get(client_for(world.users[Role.POLICE_ADMIN]), "devices").json()
    # own gate online, own door silent, own new door never heard, the old door inactive;
    # the neighbour's gate silent (2 hours)
    assert (data["total"], data["active"], data["inactive"]) == (5, 4, 1)
    assert (data["online"], data["silent"], data["never_heard"]) == (1, 2, 1)
    serials = [d["serial"] for d in data["silent_devices"]]
    assert serials == [world.neighbour.device.serial, "OWN-DOOR"]  # longest silence first
    assert data["silent_devices"][1]["silent_minutes"] >= 10
    mine = get(client_for(world.users[Role.ENTERPRISE_ADMIN]), "devices").json()
    assert (mine["total"], mine["silent"]) == (4, 1)
    assert [d["serial"] for d in mine["silent_devices"]] == ["OWN-DOOR"]


# --- who may, and bad parameters ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_personal_roles_and_anonymous_are_refused(dash, endpoint):
    world = dash.world
    for role in (Role.INFORMANT, Role.EMPLOYEE):
        assert get(client_for(world.users[role]), endpoint).status_code == 403
    assert Client().get(f"{BASE}/{endpoint}").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_enterprise_users_may_not_filter(dash, endpoint):
    world = dash.world
    client = client_for(world.users[Role.ENTERPRISE_ADMIN])
    for params in ({"enterprise": world.own.enterprise.pk}, {"grid": world.home.grid.pk}):
        response = get(client, endpoint, **params)
        assert response.status_code == 422, (params, response.content)


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_bad_parameters_are_422(dash, endpoint):
    world = dash.world
    client = client_for(world.users[Role.POLICE_ADMIN])
    bad = [
        {"grid": "abc"},
        {"grid": "99999999999999999999999"},
        {"grid": "%00"},
        {"enterprise": "1.5"},
        {"grid": world.foreign_station.grid.pk},  # another station's: unknown
        {"enterprise": world.foreign.enterprise.pk},
        {"enterprise": 2**62},
    ]
    if endpoint == "passages-hourly":
        bad += [{"day": "2026-13-01"}, {"day": "0001-01-01"}, {"day": "9999-12-31"}, {"day": "x"}]
    if endpoint == "alerts":
        bad += [{"limit": 0}, {"limit": 100000}, {"limit": "many"}]
    for params in bad:
        response = get(client, endpoint, **params)
        assert response.status_code == 422, (params, response.status_code, response.content)
    assert get(client, endpoint, grid=world.home.grid.pk).status_code == 200


# --- query bounds ----------------------------------------------------------------------------------

# queries per request, with the session, the user and the device that passed the session's
# second factor (3; police and enterprise administrators sign in with two factors) and a
# grid and an enterprise filter checked (2): none of them grows with the number of zones,
# alerts or devices
QUERIES = {"occupancy": 9, "passages-hourly": 6, "alerts": 8, "zones": 8, "devices": 7}


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_queries_do_not_grow_with_the_rows(dash, endpoint, django_assert_max_num_queries):
    world = dash.world
    # many more zones, presences, alerts and devices: the same number of queries
    from anyuan.registry.models import Zone

    zones = [
        Zone.objects.create(
            park=world.home.park, name=f"OWN 房间{i}", ring="production", kind="room",
            enterprise=world.own.enterprise, capacity=2,
        )
        for i in range(20)
    ]  # fmt: skip
    for i, zone in enumerate(zones):
        stay(zone, credential=f"C{i}")
        Device.objects.create(zone=zone, name=f"D{i}", kind="door", serial=f"OWN-D{i}")
        Alert.objects.create(
            station=world.home.station, enterprise=world.own.enterprise, zone=zone,
            type="stranger", source_key=f"bulk:{i}", title=f"bulk {i}",
        )  # fmt: skip
    rollups.add_passages([(z.pk, local(DAY, 9), "in") for z in zones])
    police = client_for(world.users[Role.POLICE_ADMIN])
    params = {"grid": world.home.grid.pk, "enterprise": world.own.enterprise.pk}
    with django_assert_max_num_queries(QUERIES[endpoint]):
        assert get(police, endpoint, **params).status_code == 200
    enterprise = client_for(world.users[Role.ENTERPRISE_ADMIN])
    with django_assert_max_num_queries(QUERIES[endpoint] - 2):
        assert get(enterprise, endpoint).status_code == 200


@pytest.mark.django_db
def test_occupancy_lists_the_fullest_zones_up_to_the_limit(dash, world):
    police = client_for(world.users[Role.POLICE_ADMIN])
    full = police.get(f"{BASE}/occupancy", {"zones": 1000}).json()
    assert full["zones_total"] == len(full["zones"]) >= 2
    one = police.get(f"{BASE}/occupancy", {"zones": 1}).json()
    assert one["zones"] == full["zones"][:1] and one["zones_total"] == full["zones_total"]
    assert police.get(f"{BASE}/occupancy", {"zones": -1}).status_code == 422


@pytest.mark.django_db
def test_tiles_come_from_each_app_in_reach_and_follow_the_filter(dash, world):
    def tiles(user, **params):
        response = client_for(user).get(f"{BASE}/tiles", params)
        assert response.status_code == 200, response.content
        return {t["key"]: t for t in response.json()["tiles"]}

    police = tiles(world.users[Role.POLICE_ADMIN])
    # registry, alerts, disputes and incidents each add theirs
    assert {"registry.enterprises", "registry.people", "alerts.escalated"} <= set(police)
    assert any(k.startswith("disputes.") for k in police)
    assert any(k.startswith("incidents.") for k in police)
    # the jurisdiction's enterprises; narrowed to one enterprise, one
    assert police["registry.enterprises"]["value"] >= 2
    narrowed = tiles(world.users[Role.POLICE_ADMIN], enterprise=world.own.enterprise.pk)
    assert narrowed["registry.enterprises"]["value"] == 1
    assert narrowed["registry.people"]["value"] < police["registry.people"]["value"]

    own = tiles(world.users[Role.ENTERPRISE_ADMIN])
    assert "registry.enterprises" not in own  # a firm is one firm: no such figure
    assert (
        own["registry.people"]["value"]
        == Person.objects.filter(enterprise=world.own.enterprise).count()
    )
    refused = client_for(world.users[Role.ENTERPRISE_ADMIN]).get(
        f"{BASE}/tiles", {"enterprise": world.neighbour.enterprise.pk}
    )
    assert refused.status_code == 422
