"""Rule rows managed through the API (/api/v1/alerts/rules) and the pages (/alerts/rules/):
who may do what, the scope checks of the generic actions, and thresholds validation."""

import json

import pytest
from django.test import Client

from anyuan.alerts.models import Rule
from anyuan.core.models import AuditEntry
from anyuan.core.roles import Role

pytestmark = pytest.mark.django_db

API = "/api/v1/alerts/rules"
PAGES = "/alerts/rules/"
JSON = "application/json"


def client_for(world, role):
    client = Client(raise_request_exception=False)
    client.force_login(world.users[role])
    return client


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type=JSON)


def patch(client, url, data):
    return client.patch(url, json.dumps(data), content_type=JSON)


@pytest.fixture
def rules(world):
    """A station-wide row of the home station (the police's) and a row of the own
    enterprise, beside the world's foreign and neighbour rows."""
    home, own = world.home, world.own
    world.station_rule = Rule.objects.create(
        station=home.station, type="over_capacity", thresholds={"factor": 1.2}
    )
    world.own_rule = Rule.objects.create(
        station=home.station, enterprise=own.enterprise, type="after_hours", severity="high"
    )
    return world


def listed(client) -> set[int]:
    r = client.get(API, {"limit": 1000})
    assert r.status_code == 200, r.content
    return {row["id"] for row in r.json()["items"]}


def test_who_sees_which_rows(rules):
    w = rules
    station, own = w.station_rule.pk, w.own_rule.pk
    neighbour, foreign = w.neighbour.rule.pk, w.foreign_station.rule.pk
    expected = {
        Role.POLICE_ADMIN: {station, own, neighbour},
        Role.POLICE_OFFICER: {station, own, neighbour},
        Role.ENTERPRISE_ADMIN: {own},
        Role.ENTERPRISE_SECURITY: {own},
        Role.INFORMANT: set(),
        Role.EMPLOYEE: set(),
    }
    for role, want in expected.items():
        assert listed(client_for(w, role)) == want, role
    police = client_for(w, Role.POLICE_ADMIN)
    assert police.get(f"{API}/{foreign}").status_code == 404
    assert police.get(f"{API}/{station}").json()["thresholds"] == {"factor": 1.2}
    guard = client_for(w, Role.ENTERPRISE_SECURITY)
    assert guard.get(f"{API}/{own}").status_code == 200
    for pk in (station, neighbour, foreign):
        assert guard.get(f"{API}/{pk}").status_code == 404
    filtered = police.get(API, {"type": "after_hours"}).json()["items"]
    assert [r["id"] for r in filtered] == [own]
    assert police.get(API, {"type": "nonsense"}).status_code == 422


def test_police_admin_crud_by_api(rules):
    w = rules
    c = client_for(w, Role.POLICE_ADMIN)
    r = post(
        c,
        API,
        {
            "station_id": w.home.station.pk,
            "zone_id": w.own.zone.pk,
            "type": "over_capacity",
            "thresholds": {"factor": 1.5},
            "weekdays": "12345",
            "time_from": "08:00",
            "time_until": "18:00",
        },
    )
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    assert r.json()["enabled"] is True and r.json()["zone"] == w.own.zone.pk
    r = patch(c, f"{API}/{pk}", {"enabled": False, "severity": "critical"})
    assert r.status_code == 200, r.content
    assert Rule.objects.get(pk=pk).enabled is False
    assert c.delete(f"{API}/{pk}").status_code == 204
    assert not Rule.objects.filter(pk=pk).exists()
    steps = list(
        AuditEntry.objects.filter(object_type="alerts.rule", object_id=str(pk))
        .order_by("at", "pk")
        .values_list("action", flat=True)
    )
    assert steps == ["create", "update", "delete"]
    # the foreign station's row is out of reach, and no row goes into that station
    foreign = w.foreign_station.rule
    assert patch(c, f"{API}/{foreign.pk}", {"enabled": False}).status_code == 404
    assert c.delete(f"{API}/{foreign.pk}").status_code == 404
    count = Rule.objects.count()
    r = post(c, API, {"station_id": w.foreign_station.station.pk, "type": "stranger"})
    assert r.status_code == 422 and Rule.objects.count() == count


def test_police_officer_only_views(rules):
    w = rules
    c = client_for(w, Role.POLICE_OFFICER)
    count = Rule.objects.count()
    assert post(c, API, {"station_id": w.home.station.pk, "type": "stranger"}).status_code == 403
    url = f"{API}/{w.station_rule.pk}"
    assert patch(c, url, {"enabled": False}).status_code in (403, 404)
    assert c.delete(url).status_code in (403, 404)
    assert Rule.objects.count() == count
    assert Rule.objects.get(pk=w.station_rule.pk).enabled is True
    assert c.get(f"{PAGES}add/").status_code == 403
    assert c.get(f"{PAGES}{w.station_rule.pk}/edit/").status_code == 404
    assert c.post(f"{PAGES}{w.station_rule.pk}/delete/").status_code == 404


def test_enterprise_admin_keeps_rows_of_its_own(rules):
    w = rules
    c = client_for(w, Role.ENTERPRISE_ADMIN)
    own = {"station_id": w.home.station.pk, "enterprise_id": w.own.enterprise.pk}
    r = post(c, API, {**own, "type": "stranger", "severity": "critical"})
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    r = post(c, API, {**own, "zone_id": w.own.zone.pk, "type": "unauthorised_zone"})
    assert r.status_code == 201, r.content
    assert patch(c, f"{API}/{pk}", {"enabled": False}).status_code == 200
    count = Rule.objects.count()
    # not station- or park-wide rows, not the neighbour's, not the park's shared gate
    station_wide = {"station_id": w.home.station.pk, "type": "stranger"}
    assert post(c, API, station_wide).status_code == 403
    park_wide = {**station_wide, "park_id": w.home.park.pk}
    assert post(c, API, park_wide).status_code == 403
    r = post(c, API, {**station_wide, "enterprise_id": w.neighbour.enterprise.pk})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "enterprise"]
    r = post(c, API, {**own, "type": "stranger", "zone_id": w.home.shared_zone.pk})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "zone"]
    assert Rule.objects.count() == count
    # a row of its own cannot be moved out of its reach
    r = patch(c, f"{API}/{pk}", {"enterprise_id": None})
    assert r.status_code == 403
    assert Rule.objects.get(pk=pk).enterprise_id == w.own.enterprise.pk
    # the police's rows and the neighbour's are not its to change
    for other in (w.station_rule, w.neighbour.rule):
        assert patch(c, f"{API}/{other.pk}", {"enabled": False}).status_code == 404
        assert c.delete(f"{API}/{other.pk}").status_code == 404
    assert c.delete(f"{API}/{pk}").status_code == 204


def test_enterprise_security_only_views(rules):
    w = rules
    c = client_for(w, Role.ENTERPRISE_SECURITY)
    own = {
        "station_id": w.home.station.pk,
        "enterprise_id": w.own.enterprise.pk,
        "type": "stranger",
    }
    assert post(c, API, own).status_code == 403
    assert patch(c, f"{API}/{w.own_rule.pk}", {"enabled": False}).status_code in (403, 404)
    assert c.delete(f"{API}/{w.own_rule.pk}").status_code in (403, 404)
    assert Rule.objects.filter(pk=w.own_rule.pk, enabled=True).exists()
    assert c.get(f"{PAGES}{w.own_rule.pk}/").status_code == 200
    assert c.get(f"{PAGES}{w.own_rule.pk}/edit/").status_code == 404
    assert c.get(f"{PAGES}add/").status_code == 403


@pytest.mark.parametrize(
    ("type", "thresholds"),
    [
        ("over_capacity", {"factor": -1}),
        ("over_capacity", {"factor": 0}),
        ("over_capacity", {"factor": "big"}),
        ("over_capacity", {"factor": True}),
        ("over_capacity", {"factr": 1.2}),
        ("stranger", {"factor": 1.2}),
        ("vehicle_overstay", {"minutes": -30}),
        ("after_hours", {"rings": ["nowhere"]}),
        ("after_hours", {"rings": "core"}),
        ("after_hours", {"ring_severity": {"core": "extreme"}}),
        ("after_hours", {"ring_severity": ["core"]}),
        ("over_capacity", [1, 2]),
    ],
)
def test_invalid_thresholds_are_a_field_error(rules, type, thresholds):
    c = client_for(rules, Role.POLICE_ADMIN)
    count = Rule.objects.count()
    r = post(c, API, {"station_id": rules.home.station.pk, "type": type, "thresholds": thresholds})
    assert r.status_code == 422, r.content
    assert {tuple(e["loc"]) for e in r.json()["detail"]} == {("body", "thresholds")}
    assert Rule.objects.count() == count
    r = patch(c, f"{API}/{rules.station_rule.pk}", {"type": type, "thresholds": thresholds})
    assert r.status_code == 422
    assert Rule.objects.get(pk=rules.station_rule.pk).thresholds == {"factor": 1.2}


def test_valid_thresholds(rules):
    c = client_for(rules, Role.POLICE_ADMIN)
    station = rules.home.station.pk
    for type, thresholds in (
        ("over_capacity", {"factor": 2}),
        ("vehicle_overstay", {"minutes": 90}),
        ("device_silent", {"heartbeats": 5}),
        ("after_hours", {"rings": ["core"], "ring_severity": {"core": "critical"}}),
        ("after_hours", {"rings": []}),
        ("stranger", {}),
    ):
        r = post(c, API, {"station_id": station, "type": type, "thresholds": thresholds})
        assert r.status_code == 201, (type, r.content)


def test_defaults_endpoint(rules):
    r = client_for(rules, Role.ENTERPRISE_SECURITY).get(f"{API}/defaults")
    assert r.status_code == 200
    by_type = {d["type"]: d for d in r.json()}
    assert by_type["over_capacity"]["thresholds"] == {"factor": 1.0}
    assert by_type["over_capacity"]["severity"] == "high"
    assert by_type["after_hours"]["thresholds"]["rings"] == ["production", "core"]
    assert client_for(rules, Role.EMPLOYEE).get(f"{API}/defaults").status_code == 403


# --- pages -------------------------------------------------------------------------------


def form(**values):
    data = {
        "station": "",
        "type": "over_capacity",
        "enabled": "on",
        "severity": "",
        "park": "",
        "enterprise": "",
        "zone": "",
        "thresholds": "",
        "weekdays": "",
        "time_from": "",
        "time_until": "",
        "note": "",
    }
    data.update({k: str(v) for k, v in values.items()})
    return data


def test_police_admin_pages(rules):
    w = rules
    c = client_for(w, Role.POLICE_ADMIN)
    listing = c.get(PAGES)
    assert listing.status_code == 200
    body = listing.content.decode()
    assert f"{PAGES}{w.station_rule.pk}/" in body and f"{PAGES}{w.neighbour.rule.pk}/" in body
    assert "FOREIGN" not in body
    assert 'id="rule-defaults"' in body
    assert c.get(f"{PAGES}add/").status_code == 200

    r = c.post(
        f"{PAGES}add/",
        form(station=w.home.station.pk, zone=w.own.zone.pk, thresholds='{"factor": 1.5}'),
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    rule = Rule.objects.get(zone=w.own.zone)
    assert rule.thresholds == {"factor": 1.5}
    assert r["Location"] == f"{PAGES}{rule.pk}/"
    detail = c.get(r["Location"])
    assert detail.status_code == 200
    body = detail.content.decode()
    # the defaults and what is in effect: the default factor 1.0, this row's 1.5
    assert 'id="rule-effective"' in body
    assert "{&quot;factor&quot;: 1.0}" in body and "{&quot;factor&quot;: 1.5}" in body
    assert f"{PAGES}{rule.pk}/edit/" in body and f"{PAGES}{rule.pk}/delete/" in body

    r = c.post(
        f"{PAGES}{rule.pk}/edit/",
        form(station=w.home.station.pk, zone=w.own.zone.pk, thresholds=""),
    )
    assert r.status_code == 302
    rule.refresh_from_db()
    assert rule.thresholds == {} and rule.enabled is True
    assert c.get(f"{PAGES}{rule.pk}/edit/").status_code == 200
    assert c.get(f"{PAGES}{rule.pk}/delete/").status_code == 200
    r = c.post(f"{PAGES}{rule.pk}/delete/")
    assert r.status_code == 302 and not Rule.objects.filter(pk=rule.pk).exists()
    assert AuditEntry.objects.filter(object_type="alerts.rule", action="delete").exists()


def test_invalid_thresholds_on_the_page(rules):
    w = rules
    c = client_for(w, Role.POLICE_ADMIN)
    count = Rule.objects.count()
    for thresholds in ('{"factor": -2}', '{"nope": 1}', "not json", "[1]"):
        r = c.post(f"{PAGES}add/", form(station=w.home.station.pk, thresholds=thresholds))
        assert r.status_code == 400, thresholds
        assert 'id="id_thresholds_error"' in r.content.decode(), thresholds
    assert Rule.objects.count() == count


def test_enterprise_admin_pages(rules):
    w = rules
    c = client_for(w, Role.ENTERPRISE_ADMIN)
    body = c.get(PAGES).content.decode()
    assert f"{PAGES}{w.own_rule.pk}/" in body
    assert "NEIGHBOUR" not in body and "FOREIGN" not in body
    add = c.get(f"{PAGES}add/")
    assert add.status_code == 200
    assert "NEIGHBOUR" not in add.content.decode()
    count = Rule.objects.count()
    # the enterprise is required: no station- or park-wide rows
    r = c.post(f"{PAGES}add/", form(station=w.home.station.pk, type="stranger"))
    assert r.status_code == 400 and Rule.objects.count() == count
    r = c.post(
        f"{PAGES}add/",
        form(station=w.home.station.pk, enterprise=w.neighbour.enterprise.pk, type="stranger"),
    )
    assert r.status_code == 400 and Rule.objects.count() == count
    r = c.post(
        f"{PAGES}add/",
        form(
            station=w.home.station.pk,
            enterprise=w.own.enterprise.pk,
            zone=w.home.shared_zone.pk,
            type="stranger",
        ),
    )
    assert r.status_code == 400 and Rule.objects.count() == count
    r = c.post(
        f"{PAGES}add/",
        form(station=w.home.station.pk, enterprise=w.own.enterprise.pk, type="stranger"),
    )
    assert r.status_code == 302
    rule = Rule.objects.get(enterprise=w.own.enterprise, type="stranger")
    r = c.post(
        f"{PAGES}{rule.pk}/edit/",
        form(
            station=w.home.station.pk,
            enterprise=w.own.enterprise.pk,
            type="stranger",
            severity="low",
        ),
    )
    assert r.status_code == 302
    assert Rule.objects.get(pk=rule.pk).severity == "low"
    for other in (w.station_rule, w.neighbour.rule):
        assert c.get(f"{PAGES}{other.pk}/").status_code == 404
        assert c.get(f"{PAGES}{other.pk}/edit/").status_code == 404
        assert c.post(f"{PAGES}{other.pk}/delete/").status_code == 404
    assert c.post(f"{PAGES}{rule.pk}/delete/").status_code == 302
    assert not Rule.objects.filter(pk=rule.pk).exists()


def test_personal_roles_see_no_rules(rules):
    for role in (Role.INFORMANT, Role.EMPLOYEE):
        c = client_for(rules, role)
        assert c.get(f"{PAGES}{rules.own_rule.pk}/").status_code == 404
        assert c.get(f"{API}/{rules.own_rule.pk}").status_code == 404
        assert c.get(f"{PAGES}add/").status_code == 403
