"""The incidents API (/api/v1/incidents): who sees which incidents, adding and changing
through the one audited action the pages use too, bad input (422 with the field, nothing
written), and the statistics as ``stats.py`` computes them (year on year, month on month)."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from anyuan.core.actions import not_saved
from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.roles import Role
from anyuan.incidents import actions, stats
from anyuan.incidents.models import Incident

API = "/api/v1/incidents"
CN = ZoneInfo("Asia/Shanghai")


def client_for(world, role) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the messages checked are English
    client.force_login(world.users[role])
    return client


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["items"]}


def audits(obj=None, action=AuditAction.CREATE) -> int:
    qs = AuditEntry.objects.filter(object_type="incidents.incident", action=action)
    return qs.filter(object_id=str(obj.pk)).count() if obj else qs.count()


# --- who sees what -------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_role_sees_its_own_incidents(world):
    own, neighbour, foreign = world.own.incident, world.neighbour.incident, world.foreign.incident
    police = client_for(world, Role.POLICE_OFFICER)
    assert ids(police.get(API)) == {own.pk, neighbour.pk}
    assert police.get(f"{API}/{foreign.pk}").status_code == 404
    enterprise = client_for(world, Role.ENTERPRISE_SECURITY)
    assert ids(enterprise.get(API)) == {own.pk}
    assert enterprise.get(f"{API}/{own.pk}").json()["number"] == own.number
    assert enterprise.get(f"{API}/{neighbour.pk}").status_code == 404
    for role in (Role.INFORMANT, Role.EMPLOYEE, Role.PARTNER):
        assert ids(client_for(world, role).get(API)) == set()
        assert client_for(world, role).get(f"{API}/{own.pk}").status_code == 404


@pytest.mark.django_db
def test_filters(world):
    client = client_for(world, Role.POLICE_ADMIN)
    own, neighbour = world.own.incident, world.neighbour.incident
    Incident.objects.filter(pk=neighbour.pk).update(category="fraud", solved=True)
    assert ids(client.get(f"{API}?category=fraud")) == {neighbour.pk}
    assert ids(client.get(f"{API}?solved=false")) == {own.pk}
    assert ids(client.get(f"{API}?enterprise={own.enterprise_id}")) == {own.pk}
    assert ids(client.get(f"{API}?q=NEIGHBOUR")) == {neighbour.pk}
    assert ids(client.get(f"{API}?since=2026-11-03T00:00:00Z")) == set()
    bad = client.get(f"{API}?category=arson")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "category"
    nul = client.get(f"{API}?q=a%00b")
    assert nul.status_code in (400, 422)


# --- adding and changing -------------------------------------------------------------------


@pytest.mark.django_db
def test_police_add_an_incident_in_their_station(world):
    count = audits()
    response = post(
        client_for(world, Role.POLICE_OFFICER),
        API,
        {
            "number": "JQ-API-1",
            "category": "theft",
            "occurred_at": "2026-03-02T10:00:00+08:00",
            "enterprise_id": world.own.enterprise.pk,
            "place": "仓库",
        },
    )
    assert response.status_code == 201, response.content
    row = Incident.objects.get(pk=response.json()["id"])
    assert row.station == world.home.station  # the officer's station by default
    assert row.grid == world.own.enterprise.grid  # the enterprise's grid
    assert response.json()["station"] == world.home.station.pk
    assert audits() == count + 1 and audits(row) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"category": "theft", "occurred_at": "2026-03-02T10:00:00+08:00"}, "number"),
        ({"number": "JQ-X", "category": "theft"}, "occurred_at"),
        ({"number": "JQ-X", "category": "arson", "occurred_at": "2026-03-02T10:00"}, "category"),
        ({"number": "JQ-X", "category": "theft", "occurred_at": "yesterday"}, "occurred_at"),
        (
            {
                "number": "JQ-X",
                "category": "theft",
                "occurred_at": "2026-03-02T10:00",
                "enterprise_id": "FOREIGN",
            },
            "enterprise_id",
        ),
        (
            {
                "number": "JQ-X",
                "category": "theft",
                "occurred_at": "2026-03-02T10:00",
                "station_id": 10**30,
            },
            "station_id",
        ),
        (
            {"number": "OWN-JQ-1", "category": "theft", "occurred_at": "2026-03-02T10:00"},
            None,
        ),
    ],
)
def test_bad_input_is_a_422_and_adds_nothing(world, data, field):
    count = Incident.objects.count()
    response = post(client_for(world, Role.POLICE_OFFICER), API, data)
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    if field:
        assert any(e["loc"][-1] == field and e["msg"] for e in detail), detail
    else:  # a number the station has already: the one neutral message, on the field
        with translation.override("en"):  # the client chose English
            expected = not_saved()
        assert [(e["loc"], e["msg"]) for e in detail] == [(["body", "number"], expected)]
    assert Incident.objects.count() == count


@pytest.mark.django_db
def test_an_enterprise_of_another_station_is_refused(world):
    count = Incident.objects.count()
    response = post(client_for(world, Role.POLICE_OFFICER), API,
                    {"number": "JQ-X", "category": "theft", "occurred_at": "2026-03-02T10:00",
                     "enterprise_id": world.foreign.enterprise.pk})  # fmt: skip
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "enterprise"], "msg": "Unknown reference.", "type": "invalid"}
    ]
    assert Incident.objects.count() == count


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.ENTERPRISE_ADMIN, Role.INFORMANT, Role.PARTNER])
def test_others_may_not_add(world, role):
    count = Incident.objects.count()
    response = post(client_for(world, role), API,
                    {"number": "JQ-X", "category": "theft", "occurred_at": "2026-03-02T10:00"})  # fmt: skip
    assert response.status_code == 403
    assert Incident.objects.count() == count


@pytest.mark.django_db
def test_change_an_incident(world):
    row = world.own.incident
    client = client_for(world, Role.POLICE_ADMIN)
    response = client.patch(f"{API}/{row.pk}", json.dumps({"solved": True}),
                            content_type="application/json")  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["solved"] is True
    row.refresh_from_db()
    assert row.solved and audits(row, AuditAction.UPDATE) == 1
    enterprise = client_for(world, Role.ENTERPRISE_ADMIN)
    refused = enterprise.patch(f"{API}/{row.pk}", json.dumps({"solved": False}),
                               content_type="application/json")  # fmt: skip
    assert refused.status_code == 404  # theirs to read, not to change
    foreign = client.patch(f"{API}/{world.foreign.incident.pk}", json.dumps({"solved": True}),
                           content_type="application/json")  # fmt: skip
    assert foreign.status_code == 404
    row.refresh_from_db()
    assert row.solved and not Incident.objects.get(pk=world.foreign.incident.pk).solved


@pytest.mark.django_db
def test_the_page_adds_through_the_same_action(world, monkeypatch):
    calls = []
    real = actions.create

    def spy(actor, data, **kwargs):
        calls.append(data)
        return real(actor, data, **kwargs)

    monkeypatch.setattr(actions, "create", spy)
    client = client_for(world, Role.POLICE_OFFICER)
    response = client.post(
        reverse("incidents:incident-add"),
        {"station": world.home.station.pk, "number": "JQ-PAGE-1", "category": "fraud",
         "occurred_at": "2026-03-05 09:30", "solved": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    row = Incident.objects.get(number="JQ-PAGE-1")
    assert [c["number"] for c in calls] == ["JQ-PAGE-1"]
    assert audits(row) == 1


# --- statistics ----------------------------------------------------------------------------


@pytest.fixture
def known(world):
    """Thefts in the own enterprise, March 2025: 3, March 2026: 2, February 2026: 4; one
    fraud in the neighbour enterprise each March; one theft in the foreign station."""
    Incident.objects.all().delete()
    n = 0

    def add(category, day, e, station=None, solved=False):
        nonlocal n
        n += 1
        Incident.objects.create(
            station=station or world.home.station, number=f"JQ{n:04d}", category=category,
            occurred_at=dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=CN),
            enterprise=e, grid=e.grid, solved=solved,
        )  # fmt: skip

    own, neighbour = world.own.enterprise, world.neighbour.enterprise
    for d in ("2025-03-03", "2025-03-10", "2025-03-28"):
        add("theft", d, own)
    for d in ("2026-03-02", "2026-03-31"):
        add("theft", d, own, solved=True)
    for d in ("2026-02-01", "2026-02-10", "2026-02-11", "2026-02-28"):
        add("theft", d, own)
    add("fraud", "2025-03-15", neighbour)
    add("fraud", "2026-03-15", neighbour)
    add("theft", "2026-03-15", world.foreign.enterprise, station=world.foreign_station.station)
    return world


def computed(qs, period, year) -> dict:
    with translation.override("en"):
        tables = {d: stats.compare(qs, d, period) for d in stats.DIMENSIONS}
        months = stats.by_month(qs, year)
    return json.loads(json.dumps({"tables": tables, "by_month": months}))


@pytest.mark.django_db
def test_statistics_are_what_stats_computes(known):
    client = client_for(known, Role.POLICE_ADMIN)
    response = client.get(f"{API}/stats?year=2026&month=3&category=theft")
    assert response.status_code == 200, response.content
    body = response.json()
    qs = Incident.objects.restrict(known.users[Role.POLICE_ADMIN]).filter(category="theft")
    expected = computed(qs, stats.Period.month(2026, 3), 2026)
    assert {k: body[k] for k in ("tables", "by_month")} == expected
    assert (body["period"], body["span"], body["solved"]) == ("2026-03", "month", 100.0)
    row = next(
        r for r in body["tables"]["enterprise"]["rows"] if r["key"] == known.own.enterprise.pk
    )
    assert (row["now"], row["year_before"], row["yoy"]) == (2, 3, -33.3)
    assert (row["before"], row["mom"]) == (4, -50.0)
    assert body["tables"]["enterprise"]["total"]["now"] == 2  # not the foreign station's
    march = body["by_month"][2]
    assert (march["now"], march["year_before"], march["before"]) == (2, 3, 4)


@pytest.mark.django_db
def test_statistics_year_to_date_and_scope(known):
    response = client_for(known, Role.ENTERPRISE_ADMIN).get(
        f"{API}/stats?year=2026&month=3&span=ytd"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    qs = Incident.objects.restrict(known.users[Role.ENTERPRISE_ADMIN])
    assert {k: body[k] for k in ("tables", "by_month")} == computed(
        qs, stats.Period.year_to(2026, 3), 2026
    )
    total = body["tables"]["category"]["total"]
    assert (total["now"], total["year_before"]) == (6, 3)  # own thefts only, no frauds
    police = client_for(known, Role.POLICE_ADMIN)
    narrow = police.get(f"{API}/stats?year=2026&month=3&enterprise={known.neighbour.enterprise.pk}")
    assert narrow.json()["tables"]["category"]["total"]["now"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("month=13", "month"),
        ("year=1999", "year"),
        ("span=week", "span"),
        ("category=arson", "category"),
        ("enterprise=FOREIGN", "enterprise"),
        ("enterprise=99999999", "enterprise"),
        ("grid=99999999", "grid"),
    ],
)
def test_statistics_bad_input_is_a_422(known, query, field):
    if query == "enterprise=FOREIGN":
        query = f"enterprise={known.foreign.enterprise.pk}"
    response = client_for(known, Role.POLICE_ADMIN).get(f"{API}/stats?{query}")
    assert response.status_code == 422, response.content
    assert any(e["loc"][-1] == field for e in response.json()["detail"])


@pytest.mark.django_db
def test_statistics_need_the_right_to_view(known):
    response = client_for(known, Role.INFORMANT).get(f"{API}/stats")
    assert response.status_code == 403
