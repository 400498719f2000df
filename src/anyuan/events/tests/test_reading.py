"""Reading the event log: each role sees the events of its own reach only, through the
API and the pages; filters and bad filter values."""

import datetime as dt

import pytest
from django.test import Client

from anyuan.core.roles import Role
from anyuan.events.models import DeviceAlarm, DeviceLink, Passage
from anyuan.registry.models import Device

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def log_passage(device, event_id, minutes=0, credential=None):
    return Passage.objects.create(
        device=device,
        zone=device.zone,
        device_event_id=event_id,
        event_time=T0 + dt.timedelta(minutes=minutes),
        received_time=T0 + dt.timedelta(minutes=minutes, seconds=1),
        direction="in",
        method="card",
        credential=credential or f"{event_id}-CARD",
    )


@pytest.fixture
def log(world):
    """Events at the own, neighbour and foreign gates, and at the park's shared gate (and
    nothing else, whatever the world holds)."""
    Passage.objects.all().delete()
    DeviceAlarm.objects.all().delete()
    shared = Device.objects.create(
        zone=world.home.shared_zone, name="HOME 园区大门闸机", kind="gate", serial="SHARED-SN"
    )
    rows = {
        "own": log_passage(world.own.device, "OWN-1", 1),
        "own2": log_passage(world.own.device, "OWN-2", 2, credential="CARD-X"),
        "neighbour": log_passage(world.neighbour.device, "NEIGHBOUR-1", 3),
        "foreign": log_passage(world.foreign.device, "FOREIGN-1", 4),
        "shared": log_passage(shared, "SHARED-1", 5),
    }
    for key, device in (
        ("own", world.own.device),
        ("neighbour", world.neighbour.device),
        ("foreign", world.foreign.device),
    ):
        DeviceAlarm.objects.create(
            device=device,
            zone=device.zone,
            device_event_id=f"{key.upper()}-A1",
            kind="intrusion",
            event_time=T0,
            received_time=T0,
        )
    DeviceLink.objects.create(device=world.own.device, last_seen=T0, clock_skew=True)
    return rows


def client_for(world, role):
    client = Client(raise_request_exception=False)
    if role is not None:
        client.force_login(world.users[role])
    return client


VISIBLE = {
    Role.POLICE_ADMIN: {"OWN-1", "OWN-2", "NEIGHBOUR-1", "SHARED-1"},
    Role.POLICE_OFFICER: {"OWN-1", "OWN-2", "NEIGHBOUR-1", "SHARED-1"},
    Role.ENTERPRISE_ADMIN: {"OWN-1", "OWN-2"},
    Role.ENTERPRISE_SECURITY: {"OWN-1", "OWN-2"},
    Role.INFORMANT: set(),
    Role.EMPLOYEE: set(),
}


@pytest.mark.parametrize("role", list(VISIBLE), ids=[r.value for r in VISIBLE])
def test_each_role_sees_its_own_reach(world, log, role):
    client = client_for(world, role)
    answer = client.get("/api/v1/events/passages")
    assert answer.status_code == 200
    assert {p["device_event_id"] for p in answer.json()["items"]} == VISIBLE[role]
    alarms = client.get("/api/v1/events/alarms").json()["items"]
    expected = {f"{e.split('-')[0]}-A1" for e in VISIBLE[role]} - {"SHARED-A1"}
    assert {a["device_event_id"] for a in alarms} == expected
    page = client.get("/events/passages/")
    for event_id in {"OWN-1", "NEIGHBOUR-1", "FOREIGN-1", "SHARED-1"} - VISIBLE[role]:
        assert event_id not in page.content.decode()
    for key, row in log.items():
        detail = client.get(f"/events/passages/{row.pk}/")
        if row.device_event_id in VISIBLE[role]:
            assert detail.status_code == 200, (key, detail.status_code)
        else:
            assert detail.status_code in (403, 404), (key, detail.status_code)


def test_anonymous_gets_nothing(world, log):
    client = Client()
    for url in ("/api/v1/events/passages", "/api/v1/events/alarms", "/api/v1/events/devices"):
        assert client.get(url).status_code == 401
    assert client.get("/events/passages/").status_code == 302


def test_filters(world, log):
    client = client_for(world, Role.POLICE_ADMIN)

    def ids(query):
        answer = client.get("/api/v1/events/passages", query)
        assert answer.status_code == 200, answer.content
        return [p["device_event_id"] for p in answer.json()["items"]]

    assert ids({}) == ["SHARED-1", "NEIGHBOUR-1", "OWN-2", "OWN-1"]  # newest first
    assert ids({"device": world.own.device.pk}) == ["OWN-2", "OWN-1"]
    assert ids({"zone": world.neighbour.zone.pk}) == ["NEIGHBOUR-1"]
    assert ids({"zone": world.foreign.zone.pk}) == []
    assert ids({"credential": "CARD-X"}) == ["OWN-2"]
    assert ids({"since": "2026-11-02T08:02:00Z", "until": "2026-11-02T08:05:00Z"}) == [
        "NEIGHBOUR-1",
        "OWN-2",
    ]
    assert ids({"since": "2026-11-02 16:03:00"}) == ["SHARED-1", "NEIGHBOUR-1"]  # local time
    assert ids({"limit": 1, "offset": 1}) == ["NEIGHBOUR-1"]
    for bad in (
        {"credential": "a\x00b"},
        {"since": "9999-12-31T23:59:59-12:00"},
        {"device": 2**70},
        {"since": "noon"},
    ):
        assert client.get("/api/v1/events/passages", bad).status_code in (400, 422), bad
    one = client.get("/api/v1/events/passages", {"credential": "CARD-X"}).json()["items"][0]
    assert one["device_serial"] == world.own.device.serial
    assert one["zone"] == world.own.zone.pk


def test_device_links(world, log):
    client = client_for(world, Role.ENTERPRISE_ADMIN)
    rows = client.get("/api/v1/events/devices").json()["items"]
    assert {r["serial"] for r in rows} == {world.own.device.serial}
    own = rows[0]
    assert own["clock_skew"] is True and own["silent"] is True  # last seen long ago
    police = client_for(world, Role.POLICE_ADMIN)
    skewed = police.get("/api/v1/events/devices", {"clock_skew": True}).json()["items"]
    assert [r["serial"] for r in skewed] == [world.own.device.serial]
    fine = police.get("/api/v1/events/devices", {"clock_skew": False}).json()["items"]
    assert world.own.device.serial not in {r["serial"] for r in fine}
    assert world.neighbour.device.serial in {r["serial"] for r in fine}
    assert all(r["last_seen"] is None for r in fine)


def test_the_log_cannot_be_changed_from_the_pages(world, log):
    client = client_for(world, Role.POLICE_ADMIN)
    page = client.get(f"/events/passages/{log['own'].pk}/").content.decode()
    assert f"/events/passages/{log['own'].pk}/edit/" not in page
    assert client.post(f"/events/passages/{log['own'].pk}/").status_code == 405
