"""Tracing in the app: who may trace, what each role's trace can see, audit, bad input,
the pages, the XLSX export and the command."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.roles import Role
from anyuan.events.models import Presence
from anyuan.registry.models import Zone
from anyuan.tracing.models import TraceRun

URL = "/api/v1/tracing/runs"


@pytest.fixture
def scene(world):
    """The own workshop: the index case (own.person) 08:00–09:00; a colleague 08:10–08:40
    (30 min: a close contact); the neighbour's employee 08:50–09:30 (10 min: no contact).
    Later the colleague meets the neighbour's colleague in the neighbour's workshop
    (a secondary contact — for the police; the own enterprise cannot see that zone); and
    before the exposure the colleague met the neighbour's employee there (does not count).
    At the park gate (transit) the index case stands an hour with the neighbour's colleague
    (never a contact)."""
    day = (timezone.now() - dt.timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)

    def at(h, m=0):
        return day + dt.timedelta(hours=h, minutes=m)

    own, nb = world.own, world.neighbour
    gate = world.home.shared_zone
    stays = [
        (own.person, own.zone, at(8), at(9)),
        (own.colleague, own.zone, at(8, 10), at(8, 40)),
        (nb.person, own.zone, at(8, 50), at(9, 30)),
        (own.colleague, nb.zone, at(6), at(7)),
        (nb.person, nb.zone, at(6), at(7)),
        (own.colleague, nb.zone, at(10), at(11)),
        (nb.colleague, nb.zone, at(10, 30), None),  # still inside
        (own.person, gate, at(12), at(13)),
        (nb.colleague, gate, at(12), at(13)),
    ]
    for person, zone, a, b in stays:
        Presence.objects.create(
            subject_kind="person", person=person, method="card", credential="C", zone=zone,
            entered_at=a, left_at=b,
        )  # fmt: skip
    world.day = day
    return world


def client_as(world, role):
    c = Client()
    c.force_login(world.users[role])
    return c


def trace(client, world, **extra):
    body = {
        "people": [world.own.person.pk],
        "from": world.day.isoformat(),
        "to": (world.day + dt.timedelta(days=1)).isoformat(),
        "reason": "outbreak case 1",
        **extra,
    }
    return client.post(URL, json.dumps(body), content_type="application/json")


def names(result, hop):
    return sorted(c["name"] for c in result["contacts"] if c["hop"] == hop)


@pytest.mark.django_db
def test_police_trace_finds_close_and_secondary_contacts_and_is_audited(scene):
    w = scene
    r = trace(client_as(w, Role.POLICE_OFFICER), w)
    assert r.status_code == 201, r.content
    body = r.json()
    result = body["result"]
    assert names(result, 1) == [w.own.colleague.name]
    assert names(result, 2) == [w.neighbour.colleague.name]  # not the earlier meeting
    close = result["contacts"][0]
    assert close["exposure_minutes"] == 30.0
    assert close["via"]["name"] == w.own.person.name
    assert [m["zone"]["name"] for m in close["meetings"]] == [w.own.zone.name]
    assert (body["contacts"], body["secondary"]) == (1, 1)
    zones = {t["zone"]["name"]: t["contact_zone"] for t in result["trajectory"]}
    assert zones == {w.own.zone.name: True, w.home.shared_zone.name: False}
    run = TraceRun.objects.get(pk=body["id"])
    audit = AuditEntry.objects.get(object_type="tracing.tracerun", object_id=str(run.pk))
    assert audit.action == AuditAction.CREATE and audit.reason == "outbreak case 1"
    assert audit.after["contacts"] == 1 and audit.after["index_people"] == [w.own.person.pk]


@pytest.mark.django_db
def test_enterprise_trace_sees_only_its_own_zones(scene):
    w = scene
    for role in (Role.ENTERPRISE_SECURITY, Role.ENTERPRISE_ADMIN):
        r = trace(client_as(w, role), w)
        assert r.status_code == 201, r.content
        result = r.json()["result"]
        assert names(result, 1) == [w.own.colleague.name]
        assert names(result, 2) == []  # the neighbour's workshop is not theirs to see
        assert "NEIGHBOUR" not in json.dumps(result, ensure_ascii=False)
        run = TraceRun.objects.get(pk=r.json()["id"])
        assert run.enterprise_id == w.own.enterprise.pk


@pytest.mark.django_db
def test_single_and_cumulative_rules_and_the_threshold(scene):
    w = scene
    c = client_as(w, Role.POLICE_ADMIN)
    # the neighbour's employee shared exactly 10 minutes with the index case
    assert names(trace(c, w, minutes=10, hops=1).json()["result"], 1) == sorted(
        [w.own.colleague.name, w.neighbour.person.name]
    )
    assert names(trace(c, w, minutes=11, hops=1).json()["result"], 1) == [w.own.colleague.name]
    cumulative = trace(c, w, minutes=30, hops=1, rule="cumulative").json()["result"]
    assert names(cumulative, 1) == [w.own.colleague.name]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra, field",
    [
        ({"reason": ""}, "reason"),
        ({"reason": "\x00\x00\x00\x00"}, "reason"),
        ({"hops": 4}, "hops"),
        ({"hops": 0}, "hops"),
        ({"minutes": 0}, "minutes"),
        ({"minutes": 100000}, "minutes"),
        ({"rule": "sometimes"}, "rule"),
        ({"people": []}, "people"),
        ({"people": [10**15]}, "people"),
        ({"plate": "浙Z99999", "people": []}, "plate"),
        ({"plate": "not a plate", "people": []}, "plate"),
        ({"plate": "\x00", "people": []}, "plate"),
        ({"from": "2026-11-03T00:00:00+08:00", "to": "2026-11-02T00:00:00+08:00"}, "end"),
        ({"from": "2026-01-01T00:00:00+08:00", "to": "2026-11-02T00:00:00+08:00"}, "end"),
    ],
)
def test_bad_input_is_a_422_and_changes_nothing(scene, extra, field):
    w = scene
    before = (TraceRun.objects.count(), AuditEntry.objects.count())
    r = trace(client_as(w, Role.POLICE_OFFICER), w, **extra)
    assert r.status_code == 422, r.content
    assert field in json.dumps(r.json())
    assert (TraceRun.objects.count(), AuditEntry.objects.count()) == before


@pytest.mark.django_db
def test_who_may_not_trace_or_whom(scene):
    w = scene
    # an enterprise user cannot trace a person of another enterprise (not in reach)
    r = trace(client_as(w, Role.ENTERPRISE_SECURITY), w, people=[w.neighbour.person.pk])
    assert r.status_code == 422
    # the foreign station's person is out of the police's reach
    r = trace(client_as(w, Role.POLICE_OFFICER), w, people=[w.foreign.person.pk])
    assert r.status_code == 422
    for role in (Role.EMPLOYEE, Role.INFORMANT):
        assert trace(client_as(w, role), w).status_code == 403
    assert trace(Client(), w).status_code == 401
    assert TraceRun.objects.filter(reason="outbreak case 1").count() == 0


@pytest.mark.django_db
def test_plate_as_index(scene):
    w = scene
    v = w.own.vehicle
    yard = Zone.objects.create(
        park=w.home.park, name="OWN 办公室", ring="production", kind="office",
        enterprise=w.own.enterprise, code="OWN-OF",
    )  # fmt: skip
    a = w.day + dt.timedelta(hours=14)
    Presence.objects.create(subject_kind="vehicle", vehicle=v, method="plate", credential=v.plate,
                            zone=yard, entered_at=a, left_at=a + dt.timedelta(hours=1))  # fmt: skip
    Presence.objects.create(subject_kind="person", person=w.own.colleague, method="card",
                            credential="C", zone=yard, entered_at=a, left_at=a + dt.timedelta(minutes=20))  # fmt: skip
    r = trace(client_as(w, Role.POLICE_OFFICER), w, people=[], plate=v.plate.lower(), hops=1)
    assert r.status_code == 201, r.content
    assert names(r.json()["result"], 1) == [w.own.colleague.name]


@pytest.mark.django_db
def test_xlsx_export_is_for_the_police_and_audited(scene):
    import openpyxl

    w = scene
    police = client_as(w, Role.POLICE_OFFICER)
    run_id = trace(police, w).json()["id"]
    r = police.get(f"{URL}/{run_id}.xlsx")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert len(wb.sheetnames) == 3
    cells = [c.value for row in wb[wb.sheetnames[0]].iter_rows() for c in row]
    assert w.own.colleague.name in cells and w.neighbour.colleague.name in cells
    assert (
        AuditEntry.objects.filter(action=AuditAction.EXPORT, object_type="tracing.tracerun").count()
        == 1
    )
    ent = client_as(w, Role.ENTERPRISE_ADMIN)
    ent_run = trace(ent, w).json()["id"]
    assert ent.get(f"{URL}/{ent_run}.xlsx").status_code == 403
    assert ent.get(f"/tracing/runs/{ent_run}/xlsx/").status_code == 403
    # runs are read back in scope only
    assert ent.get(f"{URL}/{run_id}").status_code == 404
    assert police.get(f"{URL}/{ent_run}").status_code == 200  # the station sees its firms' traces
    # the enterprise's own runs only (not the neighbour's, not the police's)
    assert {r["id"] for r in ent.get(URL).json()["items"]} == {ent_run}


@pytest.mark.django_db
def test_pages_form_result_report(scene):
    w = scene
    c = client_as(w, Role.POLICE_OFFICER)
    page = c.get("/tracing/?q=同事")
    assert page.status_code == 200 and w.own.colleague.name in page.content.decode()
    day = timezone.localtime(w.day)
    form = {
        "people": str(w.own.person.pk), "from": day.strftime("%Y-%m-%dT%H:%M"),
        "to": (day + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"), "minutes": "15",
        "rule": "single", "hops": "2", "reason": "theft in the workshop",
    }  # fmt: skip
    r = c.post("/tracing/", form)
    assert r.status_code == 302, r.content.decode()[:2000]
    run_page = c.get(r["Location"])
    text = run_page.content.decode()
    assert run_page.status_code == 200
    assert w.own.colleague.name in text and "vendor/echarts/echarts.min.js" in text
    report = c.get(r["Location"] + "report/")
    assert report.status_code == 200 and w.neighbour.colleague.name in report.content.decode()
    assert c.get(r["Location"] + "xlsx/").status_code == 200
    bad = c.post("/tracing/", {**form, "reason": "", "people": "abc"})
    assert bad.status_code == 400
    assert TraceRun.objects.count() == 3  # the world's two and this one
    assert c.get("/tracing/runs/999999999/").status_code == 404
    assert client_as(w, Role.EMPLOYEE).get("/tracing/").status_code == 403


@pytest.mark.django_db
def test_command(scene, tmp_path):
    w = scene
    out = io.StringIO()
    day = w.day.isoformat()
    call_command(
        "trace", "--as", "police_admin", "--person", str(w.own.person.pk), "--from", day,
        "--reason", "command test", "--xlsx", str(tmp_path / "t.xlsx"), stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "1 close, 1 secondary" in text and w.own.colleague.name in text
    assert (tmp_path / "t.xlsx").stat().st_size > 0
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("trace", "--as", "employee", "--person", "1", "--reason", "xxxx")
    with pytest.raises(CommandError):
        call_command("trace", "--as", "police_admin", "--person", "1", "--reason", "x")
