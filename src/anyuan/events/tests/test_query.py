"""Reading what the processor keeps: presences, a subject's trajectory, a zone's occupancy
and muster list — through the API and the pages, each role within its reach only."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone

from anyuan.core.models import AuditEntry
from anyuan.core.roles import Role
from anyuan.events import queries as events_queries
from anyuan.events.models import DeviceLink, Passage, Presence
from anyuan.events.processor import Processor
from anyuan.events.queries import device_states
from anyuan.registry.models import Device, Person, Zone

pytestmark = pytest.mark.django_db

BASE = "/api/v1/events"
T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
_seq = iter(range(1, 10**6))


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def local(value: dt.datetime) -> str:
    """A datetime-local form value."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def log(device, minutes, credential, direction="in", method="card"):
    return Passage.objects.create(
        device=device,
        zone=device.zone,
        device_event_id=f"Q-{next(_seq)}",
        event_time=at(minutes),
        received_time=at(minutes),
        direction=direction,
        method=method,
        credential=credential,
    )


def stay(zone, entered, left=None, *, person=None, vehicle=None, credential="", method="card"):
    kind = "person" if person else "vehicle" if vehicle else "unknown"
    return Presence.objects.create(
        subject_kind=kind,
        person=person,
        vehicle=vehicle,
        method=method,
        credential=credential,
        zone=zone,
        entered_at=at(entered) if entered is not None else None,
        left_at=at(left) if left is not None else None,
    )


@pytest.fixture
def site(world):
    """A room (capacity 1) below the own workshop; cards for the own, neighbour and foreign
    employees (the foreign one holds the own card number, in its own station); presences
    and passages in every tenant."""
    Passage.objects.all().delete()
    home, own, nb, fr = world.home, world.own, world.neighbour, world.foreign
    s = SimpleNamespace(world=world, own=own, nb=nb, fr=fr, home=home)
    s.room = Zone.objects.create(
        park=home.park,
        parent=own.zone,
        name="OWN 办公室",
        ring="production",
        kind="office",
        enterprise=own.enterprise,
        capacity=1,
    )
    s.room_device = Device.objects.create(
        zone=s.room, name="OWN 办公室门", kind="gate", serial="OWN-ROOM", direction="both"
    )
    s.shared_device = Device.objects.create(
        zone=home.shared_zone, name="HOME 大门闸机", kind="gate", serial="HOME-GATE"
    )
    Person.objects.filter(pk=own.person.pk).update(card_number="C-OWN", face_id="F-OWN")
    Person.objects.filter(pk=nb.person.pk).update(card_number="C-NB")
    Person.objects.filter(pk=fr.person.pk).update(card_number="C-OWN")
    s.p = SimpleNamespace(
        room=stay(s.room, 10, person=own.person, credential="C-OWN"),
        workshop=stay(own.zone, 0, person=own.person, credential="C-OWN"),
        earlier=stay(own.zone, -180, -120, person=own.person, credential="C-OWN"),
        colleague=stay(s.room, 5, person=own.colleague, credential="C-COL"),
        stranger=stay(own.zone, 7, credential="C-STRANGER"),
        vehicle=stay(home.shared_zone, 1, vehicle=own.vehicle, credential=own.vehicle.plate),
        neighbour=stay(nb.zone, 2, person=nb.person, credential="C-NB"),
        foreign=stay(fr.zone, 3, person=fr.person, credential="C-OWN"),
    )
    s.passages = SimpleNamespace(
        workshop=log(own.device, 0, "C-OWN"),
        room=log(s.room_device, 10, "C-OWN"),
        face=log(own.device, 15, "F-OWN", method="face"),
        neighbour=log(nb.device, 20, "C-OWN"),
        foreign=log(fr.device, 30, "C-OWN"),
        long_ago=log(own.device, -40 * 24 * 60, "C-OWN"),
        vehicle=log(s.shared_device, 1, own.vehicle.plate, method="plate"),
    )
    return s


def client_for(world, role, users="users"):
    client = Client(raise_request_exception=False)
    if role is not None:
        client.force_login(getattr(world, users)[role])
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


WINDOW = {"from": iso(at(-60)), "to": iso(at(60))}


# --- presences ---------------------------------------------------------------------------


def test_presences_filters(site):
    c = client_for(site.world, Role.POLICE_ADMIN)
    p = site.p
    url = f"{BASE}/presences"
    # a zone counts with the zones below it
    assert ids(c.get(url, {"zone": site.own.zone.pk})) == {
        p.room.pk, p.workshop.pk, p.earlier.pk, p.colleague.pk, p.stranger.pk
    }  # fmt: skip
    assert ids(c.get(url, {"zone": site.room.pk})) == {p.room.pk, p.colleague.pk}
    assert ids(c.get(url, {"person": site.own.person.pk})) == {
        p.room.pk, p.workshop.pk, p.earlier.pk
    }  # fmt: skip
    assert ids(c.get(url, {"vehicle": site.own.vehicle.pk})) == {p.vehicle.pk}
    assert ids(c.get(url, {"credential": "C-STRANGER"})) == {p.stranger.pk}
    inside = ids(c.get(url, {"person": site.own.person.pk, "inside": "true"}))
    assert inside == {p.room.pk, p.workshop.pk}
    assert ids(c.get(url, {"person": site.own.person.pk, "inside": "false"})) == {p.earlier.pk}
    # the time window overlaps the stay
    window = {"from": iso(at(-150)), "to": iso(at(-100))}
    assert ids(c.get(url, {"person": site.own.person.pk, **window})) == {p.earlier.pk}
    window = {"from": iso(at(-130)), "to": iso(at(1))}
    assert ids(c.get(url, {"person": site.own.person.pk, **window})) == {
        p.earlier.pk, p.workshop.pk
    }  # fmt: skip
    item = next(i for i in c.get(url, {"zone": site.room.pk}).json()["items"] if i["person"])
    assert item["zone_name"] == "OWN 办公室" and item["inside"] is True
    assert item["person_name"] in (site.own.person.name, site.own.colleague.name)
    # paginated
    page = c.get(url, {"limit": 2}).json()
    assert page["count"] == 7 and len(page["items"]) == 2


def test_presences_are_scoped(site):
    p = site.p
    own_zones = {p.room.pk, p.workshop.pk, p.earlier.pk, p.colleague.pk, p.stranger.pk}
    expected = {
        Role.POLICE_ADMIN: own_zones | {p.vehicle.pk, p.neighbour.pk},
        Role.POLICE_OFFICER: own_zones | {p.vehicle.pk, p.neighbour.pk},
        Role.ENTERPRISE_ADMIN: own_zones,
        Role.ENTERPRISE_SECURITY: own_zones,
        Role.INFORMANT: set(),
        Role.EMPLOYEE: set(),
    }
    for role, want in expected.items():
        assert ids(client_for(site.world, role).get(f"{BASE}/presences")) == want, role
    # another tenant's zone filters to nothing (not an error)
    c = client_for(site.world, Role.ENTERPRISE_ADMIN)
    assert ids(c.get(f"{BASE}/presences", {"zone": site.nb.zone.pk})) == set()
    assert client_for(site.world, None).get(f"{BASE}/presences").status_code == 401


# --- trajectory --------------------------------------------------------------------------


def test_person_trajectory(site):
    c = client_for(site.world, Role.POLICE_ADMIN)
    r = c.get(f"{BASE}/trajectory/person/{site.own.person.pk}", WINDOW)
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["subject"] == {"kind": "person", "id": site.own.person.pk, "name": "OWN 员工"}
    assert data["truncated"] is False
    got = [(i["kind"], i["id"]) for i in data["items"]]
    pa, p = site.passages, site.p
    # in time order, a passage before the stay it opens; the foreign station's passage with
    # the same card, and the stay before the window, are not there
    assert got == [
        ("passage", pa.workshop.pk),
        ("presence", p.workshop.pk),
        ("passage", pa.room.pk),
        ("presence", p.room.pk),
        ("passage", pa.face.pk),
        ("passage", pa.neighbour.pk),
    ]
    first, stay_item = data["items"][0], data["items"][1]
    assert first["zone"] == {"id": site.own.zone.pk, "name": site.own.zone.name}
    assert first["direction"] == "in" and first["method"] == "card"
    assert first["device"] == {
        "id": site.own.device.pk, "serial": site.own.device.serial, "name": site.own.device.name
    }  # fmt: skip
    assert stay_item["entered_at"] and stay_item["left_at"] is None and stay_item["inside"]
    # a wider window takes in the earlier stay
    wider = {"from": iso(at(-200)), "to": iso(at(60))}
    items = c.get(f"{BASE}/trajectory/person/{site.own.person.pk}", wider).json()["items"]
    assert items[0]["id"] == p.earlier.pk and items[0]["inside"] is False


def test_enterprise_trajectory_shows_its_own_zones_only(site):
    c = client_for(site.world, Role.ENTERPRISE_SECURITY)
    data = c.get(f"{BASE}/trajectory/person/{site.own.person.pk}", WINDOW).json()
    passages = {i["id"] for i in data["items"] if i["kind"] == "passage"}
    assert passages == {site.passages.workshop.pk, site.passages.room.pk, site.passages.face.pk}


def test_vehicle_trajectory(site):
    c = client_for(site.world, Role.POLICE_OFFICER)
    r = c.get(f"{BASE}/trajectory/vehicle/{site.own.vehicle.pk}", WINDOW)
    assert r.status_code == 200, r.content
    got = [(i["kind"], i["id"]) for i in r.json()["items"]]
    assert got == [("passage", site.passages.vehicle.pk), ("presence", site.p.vehicle.pk)]
    assert r.json()["subject"]["name"] == site.own.vehicle.plate
    # the enterprise owns the vehicle but not the park gate: nothing of it is shown
    c = client_for(site.world, Role.ENTERPRISE_ADMIN)
    assert c.get(f"{BASE}/trajectory/vehicle/{site.own.vehicle.pk}", WINDOW).json()["items"] == []


def test_employee_number_matches_as_the_processor_does(site):
    own, nb = site.own, site.nb
    Person.objects.filter(pk=own.person.pk).update(card_number="", face_id="")
    Passage.objects.all().delete()
    at_own = log(own.device, 1, "OWN-E1", method="employee_number")
    at_neighbour = log(nb.device, 2, "OWN-E1", method="employee_number")
    c = client_for(site.world, Role.POLICE_ADMIN)
    url = f"{BASE}/trajectory/person/{own.person.pk}"

    def passages():
        return {i["id"] for i in c.get(url, WINDOW).json()["items"] if i["kind"] == "passage"}

    # the only holder of the number in the station: theirs in every zone
    assert passages() == {at_own.pk, at_neighbour.pk}
    # a neighbour employee with the same number: in the neighbour's zones it is theirs
    Person.objects.create(
        station=site.home.station,
        enterprise=nb.enterprise,
        name="NEIGHBOUR 同号",
        kind="visitor",
        employee_number="OWN-E1",
    )
    assert passages() == {at_own.pk}


def test_trajectory_of_an_out_of_scope_subject_is_a_404(site):
    w = site.world
    cases = [
        (Role.ENTERPRISE_ADMIN, "person", site.nb.person.pk),
        (Role.ENTERPRISE_ADMIN, "vehicle", site.nb.vehicle.pk),
        (Role.POLICE_ADMIN, "person", site.fr.person.pk),
        (Role.POLICE_OFFICER, "vehicle", site.fr.vehicle.pk),
        (Role.POLICE_ADMIN, "person", 10**9),
        (Role.POLICE_ADMIN, "vehicle", site.own.person.pk + 10**9),
    ]
    for role, kind, pk in cases:
        c = client_for(w, role)
        assert c.get(f"{BASE}/trajectory/{kind}/{pk}", WINDOW).status_code == 404, (role, kind)
        # a bad window does not tell an out-of-scope id from a missing one either
        bad = {"from": iso(at(0)), "to": iso(at(-1))}
        assert c.get(f"{BASE}/trajectory/{kind}/{pk}", bad).status_code == 404
        assert c.get(f"/events/trajectory/{kind}/{pk}/").status_code == 404
    # an employee may see their own person record, but no presences
    c = client_for(w, Role.EMPLOYEE)
    assert c.get(f"{BASE}/trajectory/person/{w.own.person.pk}").status_code == 403
    assert c.get(f"/events/trajectory/person/{w.own.person.pk}/").status_code == 403


def test_trajectory_window(site):
    c = client_for(site.world, Role.POLICE_ADMIN)
    url = f"{BASE}/trajectory/person/{site.own.person.pk}"
    too_long = c.get(url, {"from": iso(at(0)), "to": iso(at(0) + dt.timedelta(days=32))})
    assert too_long.status_code == 422
    assert "31" in str(too_long.json()["detail"])
    assert c.get(url, {"from": iso(at(0)), "to": iso(at(31 * 24 * 60))}).status_code == 200
    assert c.get(url, {"from": iso(at(10)), "to": iso(at(0))}).status_code == 422
    assert c.get(url, {"from": iso(at(0)), "to": iso(at(0))}).status_code == 422
    # one end given: 24 hours from or up to it
    data = c.get(url, {"from": iso(at(-60))}).json()
    assert dt.datetime.fromisoformat(data["to"]) == at(-60) + dt.timedelta(hours=24)
    data = c.get(url, {"to": iso(at(60))}).json()
    assert dt.datetime.fromisoformat(data["from"]) == at(60) - dt.timedelta(hours=24)
    # neither: the last 24 hours
    recent = Passage.objects.create(
        device=site.own.device,
        zone=site.own.zone,
        device_event_id="RECENT",
        event_time=timezone.now() - dt.timedelta(hours=1),
        received_time=timezone.now(),
        direction="out",
        method="card",
        credential="C-OWN",
    )
    data = c.get(url).json()
    assert [i["id"] for i in data["items"] if i["kind"] == "passage"] == [recent.pk]
    for bad in (
        {"from": "yesterday"},
        {"from": "9999-12-31T23:59:59"},
        {"to": "0001-01-01T00:00:00"},
        {"from": "0001-01-01T00:00:00+14:00"},
    ):
        r = c.get(url, bad)
        assert r.status_code == 422, (bad, r.status_code, r.content)
    assert c.get(f"{BASE}/trajectory/person/{2**70}").status_code == 422
    assert c.get(f"{BASE}/trajectory/person/abc").status_code == 404


def test_trajectory_says_when_it_is_truncated(site, monkeypatch):
    monkeypatch.setattr(events_queries, "TRAJECTORY_LIMIT", 1)
    c = client_for(site.world, Role.POLICE_ADMIN)
    data = c.get(f"{BASE}/trajectory/person/{site.own.person.pk}", WINDOW).json()
    assert data["truncated"] is True
    assert len(data["items"]) == 2  # one of each kind


# --- occupancy and muster ------------------------------------------------------------------


def test_occupancy(site):
    c = client_for(site.world, Role.POLICE_ADMIN)
    r = c.get(f"{BASE}/occupancy", {"zone": site.own.zone.pk})
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["zone"] == {"id": site.own.zone.pk, "name": site.own.zone.name}
    assert data["inside"] == 4
    zones = {z["id"]: z for z in data["zones"]}
    assert set(zones) == {site.own.zone.pk, site.room.pk}
    assert zones[site.own.zone.pk]["inside"] == 2  # the workshop stay and the stranger
    assert zones[site.own.zone.pk]["inside_total"] == 4
    assert zones[site.room.pk]["inside"] == 2
    assert zones[site.room.pk]["parent"] == site.own.zone.pk
    assert zones[site.room.pk]["capacity"] == 1
    assert zones[site.room.pk]["over_capacity"] is True
    # the park's shared gate: the police see the vehicle there, the enterprise does not
    shared = {"zone": site.home.shared_zone.pk}
    assert c.get(f"{BASE}/occupancy", shared).json()["inside"] == 1
    e = client_for(site.world, Role.ENTERPRISE_ADMIN)
    assert e.get(f"{BASE}/occupancy", shared).json()["inside"] == 0
    assert e.get(f"{BASE}/occupancy", {"zone": site.own.zone.pk}).json()["inside"] == 4


def test_occupancy_and_muster_of_out_of_scope_zones_are_404(site):
    w = site.world
    for role, zone in (
        (Role.ENTERPRISE_ADMIN, site.nb.zone),
        (Role.ENTERPRISE_SECURITY, site.nb.zone),
        (Role.POLICE_ADMIN, site.fr.zone),
        (Role.POLICE_OFFICER, site.fr.zone),
    ):
        c = client_for(w, role)
        assert c.get(f"{BASE}/occupancy", {"zone": zone.pk}).status_code == 404
        assert c.get(f"{BASE}/muster/{zone.pk}").status_code == 404
        assert c.get(f"{BASE}/muster/{zone.pk}.csv").status_code in (403, 404)
        assert c.get(f"/events/muster/{zone.pk}/").status_code == 404
        assert c.get(f"/events/muster/{zone.pk}/csv/").status_code in (403, 404)
    assert not AuditEntry.objects.filter(object_type="events.presence").exists()
    c = client_for(w, Role.EMPLOYEE)
    assert c.get(f"{BASE}/occupancy", {"zone": site.own.zone.pk}).status_code == 403


def test_occupancy_bad_parameters_are_422(site):
    c = client_for(site.world, Role.POLICE_ADMIN)
    for params in ({}, {"zone": "abc"}, {"zone": str(2**70)}, {"zone": ""}):
        r = c.get(f"{BASE}/occupancy", params)
        assert r.status_code == 422, (params, r.status_code)
    assert c.get(f"{BASE}/occupancy", {"zone": 0}).status_code == 404
    assert c.get(f"{BASE}/occupancy", {"zone": -5}).status_code == 404
    assert c.get(f"{BASE}/muster/{2**70}").status_code == 422
    for params in (
        {"zone": "x"},
        {"inside": "perhaps"},
        {"from": "soon"},
        {"from": iso(at(5)), "to": iso(at(0))},
        {"credential": "a\x00b"},
        {"limit": 0},
    ):
        r = c.get(f"{BASE}/presences", params)
        assert r.status_code == 422, (params, r.status_code)


def test_muster_list(site):
    c = client_for(site.world, Role.POLICE_ADMIN)
    r = c.get(f"{BASE}/muster/{site.own.zone.pk}")
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["count"] == 4
    got = {(row["zone"], row["subject_kind"], row["name"]) for row in data["rows"]}
    assert got == {
        (site.own.zone.pk, "person", site.own.person.name),
        (site.own.zone.pk, "unknown", None),
        (site.room.pk, "person", site.own.person.name),
        (site.room.pk, "person", site.own.colleague.name),
    }
    # the park gate: the police's only
    gate = site.home.shared_zone.pk
    assert c.get(f"{BASE}/muster/{gate}").json()["count"] == 1
    e = client_for(site.world, Role.ENTERPRISE_SECURITY)
    assert e.get(f"{BASE}/muster/{gate}").json()["count"] == 0
    assert e.get(f"{BASE}/muster/{site.room.pk}").json()["count"] == 2


def test_muster_csv_is_an_audited_export(site):
    w = site.world
    url = f"{BASE}/muster/{site.own.zone.pk}.csv"
    for role in (Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_SECURITY, Role.EMPLOYEE):
        assert client_for(w, role).get(url).status_code == 403, role
    assert not AuditEntry.objects.filter(action="export").exists()

    r = client_for(w, Role.POLICE_OFFICER).get(url)
    assert r.status_code == 200, r.content
    assert r["Content-Type"].startswith("text/csv")
    assert "attachment" in r["Content-Disposition"]
    text = r.content.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0] == "zone,subject,name,plate,credential,entered_at"
    assert len(lines) == 5
    assert site.own.person.name in text and site.own.colleague.name in text
    # names, not ID numbers or phones
    person = Person.objects.get(pk=site.own.person.pk)
    assert person.id_number.reveal() not in text
    assert person.phone.reveal() not in text
    entry = AuditEntry.objects.get(action="export")
    assert entry.object_type == "events.presence"
    assert entry.actor == w.users[Role.POLICE_OFFICER]
    assert entry.after == {"count": 4, "format": "csv", "personal": False}


def test_muster_xlsx_is_an_audited_export_with_the_same_rows(site):
    import io

    import openpyxl

    w = site.world
    url = f"{BASE}/muster/{site.own.zone.pk}.xlsx"
    assert client_for(w, Role.ENTERPRISE_SECURITY).get(url).status_code == 403
    page = f"/events/muster/{site.own.zone.pk}/xlsx/"
    assert client_for(w, Role.ENTERPRISE_SECURITY).get(page).status_code == 403
    assert not AuditEntry.objects.filter(action="export").exists()

    police = client_for(w, Role.POLICE_OFFICER)
    csv_lines = police.get(url[: -len("xlsx")] + "csv").content.decode("utf-8-sig").splitlines()
    for got in (police.get(url), police.get(page)):
        assert got.status_code == 200, got.content
        assert got["Content-Type"].startswith("application/vnd.openxmlformats")
        assert got["Content-Disposition"].endswith('.xlsx"')
        sheet = openpyxl.load_workbook(io.BytesIO(got.content), read_only=True).active
        rows = [",".join(c or "" for c in row) for row in sheet.iter_rows(values_only=True)]
        assert rows == csv_lines  # the same list, header first
    entries = AuditEntry.objects.filter(action="export").order_by("pk")
    assert [e.after["format"] for e in entries] == ["csv", "xlsx", "xlsx"]


def test_muster_from_the_processor(site):
    """Presences the processor made from passages are what the muster list shows."""
    Presence.objects.all().delete()
    Passage.objects.all().delete()
    own = site.own
    log(own.device, 0, "C-OWN")
    log(site.room_device, 1, "C-OWN")
    log(site.room_device, 2, "C-OWN", direction="out")
    log(own.device, 3, "C-NOBODY")
    Processor(name="query-test").run_once()
    data = client_for(site.world, Role.POLICE_ADMIN).get(f"{BASE}/muster/{own.zone.pk}").json()
    got = sorted((row["zone_name"], row["name"] or row["credential"]) for row in data["rows"])
    assert got == sorted([(own.zone.name, own.person.name), (own.zone.name, "C-NOBODY")])


# --- pages -------------------------------------------------------------------------------


def page(response) -> str:
    return response.content.decode()


def test_occupancy_and_muster_pages(site):
    w = site.world
    police = client_for(w, Role.POLICE_ADMIN)
    r = police.get("/events/occupancy/")
    assert r.status_code == 200
    assert "OWN 办公室" in page(r) and f"/events/muster/{site.room.pk}/" in page(r)

    r = police.get(f"/events/muster/{site.own.zone.pk}/")
    assert r.status_code == 200
    body = page(r)
    assert site.own.person.name in body and site.own.colleague.name in body
    assert f"/events/muster/{site.own.zone.pk}/csv/" in body  # the download button
    assert f"/events/muster/{site.room.pk}/" in body  # the zone below
    assert f"/events/trajectory/person/{site.own.person.pk}/" in body
    # htmx reloads the panel alone
    panel = police.get(f"/events/muster/{site.own.zone.pk}/", HTTP_HX_REQUEST="true")
    assert panel.status_code == 200 and "<html" not in page(panel)
    assert 'id="muster-panel"' in page(panel)

    e = client_for(w, Role.ENTERPRISE_ADMIN)
    body = page(e.get(f"/events/muster/{site.own.zone.pk}/"))
    assert site.own.person.name in body
    assert "/csv/" not in body  # no export permission: no button
    assert e.get(f"/events/muster/{site.own.zone.pk}/csv/").status_code == 403
    occupancy = page(e.get("/events/occupancy/"))
    assert "NEIGHBOUR" not in occupancy and "FOREIGN" not in occupancy

    r = police.get(f"/events/muster/{site.own.zone.pk}/csv/")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert site.own.person.name in r.content.decode("utf-8-sig")
    assert AuditEntry.objects.filter(action="export", object_type="events.presence").count() == 1

    anonymous = Client()
    assert anonymous.get(f"/events/muster/{site.own.zone.pk}/").status_code == 302
    assert client_for(w, Role.INFORMANT).get("/events/occupancy/").status_code == 403


def test_occupancy_page_reloads_its_table_on_the_live_push(site):
    police = client_for(site.world, Role.POLICE_ADMIN)
    full = page(police.get("/events/occupancy/"))
    assert 'hx-trigger="anyuan:occupancy from:body' in full and 'id="occupancy-count"' in full
    panel = page(police.get("/events/occupancy/", HTTP_HX_REQUEST="true"))
    assert "<html" not in panel and 'id="occupancy-panel"' in panel
    assert 'id="occupancy-count" hx-swap-oob="true"' in panel  # the count line follows
    assert "OWN 办公室" in panel


def test_device_status_page(site):
    now = timezone.now()
    own, nb, fr = site.own.device, site.nb.device, site.fr.device
    for d in (own, nb, fr):
        d.heartbeat_seconds = 60
        d.save()
    DeviceLink.objects.create(device=own, last_seen=now - dt.timedelta(seconds=30))
    DeviceLink.objects.create(
        device=site.room_device, last_seen=now - dt.timedelta(minutes=45), clock_skew=True,
        clock_offset_s=312,
    )  # fmt: skip
    DeviceLink.objects.create(device=nb, last_seen=now - dt.timedelta(hours=5))

    police = client_for(site.world, Role.POLICE_ADMIN)
    body = page(police.get("/events/devices/"))
    assert own.serial in body and site.room_device.serial in body and fr.serial not in body
    assert nb.serial in body  # the neighbour is in the jurisdiction
    rows, counts = device_states(site.world.users[Role.POLICE_ADMIN])
    status = {r["serial"]: r["status"] for r in rows}
    assert status[own.serial] == "online"
    assert status[site.room_device.serial] == "silent"
    assert status[nb.serial] == "silent"
    assert counts == {"online": 1, "silent": 2, "never_heard": len(rows) - 3}
    assert rows[0]["status"] == "silent" and rows[0]["serial"] == nb.serial  # longest first
    assert "312" in body  # the clock offset shown
    silent = page(police.get("/events/devices/", {"status": "silent"}))
    assert site.room_device.serial in silent and own.serial not in silent
    assert page(police.get("/events/devices/", {"status": "nonsense"})).count(own.serial) >= 1
    panel = page(police.get("/events/devices/", HTTP_HX_REQUEST="true"))
    assert "<html" not in panel and 'id="device-status-panel"' in panel

    e = client_for(site.world, Role.ENTERPRISE_SECURITY)
    mine = page(e.get("/events/devices/"))
    assert own.serial in mine and nb.serial not in mine
    assert client_for(site.world, Role.EMPLOYEE).get("/events/devices/").status_code == 403


def test_trajectory_pages(site):
    w = site.world
    police = client_for(w, Role.POLICE_ADMIN)
    url = f"/events/trajectory/person/{site.own.person.pk}/"
    r = police.get(url, {"from": local(at(-60)), "to": local(at(60))})
    assert r.status_code == 200
    body = page(r)
    assert site.own.device.name in body and site.nb.device.name in body
    assert site.fr.device.name not in body
    # the timeline: the stays of the table as bars, zones in order of first visit
    import json
    import re

    found = re.search(
        r'<script id="trajectory-timeline" type="application/json">(.*?)</script>', body
    )
    timeline = json.loads(found.group(1))
    shown = r.context["result"]["items"]
    stays = [i for i in shown if i["kind"] == "presence"]
    assert len(timeline["stays"]) == len(stays) > 0
    assert timeline["zones"] == list(dict.fromkeys(i["zone"]["name"] for i in stays))
    assert all(s["from"] <= s["to"] for s in timeline["stays"])
    assert "events/trajectory.js" in body
    assert f"/registry/person/{site.own.person.pk}/" in body
    # a bad window is a form error, not a failure
    r = police.get(url, {"from": local(at(0)), "to": local(at(0) + dt.timedelta(days=40))})
    assert r.status_code == 400 and "31" in page(r)
    assert police.get(url, {"from": "not a time"}).status_code == 400
    assert police.get(url, {"from": "9999-12-31T23:59"}).status_code == 400
    assert police.get(url, {"to": "0001-01-01T00:00"}).status_code == 400
    assert police.get(url).status_code == 200  # the last 24 hours
    r = police.get(f"/events/trajectory/vehicle/{site.own.vehicle.pk}/", {"from": local(at(-60))})
    assert r.status_code == 200 and site.shared_device.name in page(r)

    # found from the search form
    r = police.get("/events/trajectory/", {"q": "OWN 员"})
    assert r.status_code == 200 and url in page(r)
    e = client_for(w, Role.ENTERPRISE_ADMIN)
    body = page(e.get("/events/trajectory/", {"q": "员工"}))
    assert url in body and "NEIGHBOUR" not in body
    r = e.get("/events/trajectory/", {"q": site.own.vehicle.plate[-4:]})
    assert f"/events/trajectory/vehicle/{site.own.vehicle.pk}/" in page(r)
    assert e.get("/events/trajectory/", {"q": "a\x00b"}).status_code == 400
    assert e.get(f"/events/trajectory/person/{site.nb.person.pk}/").status_code == 404
