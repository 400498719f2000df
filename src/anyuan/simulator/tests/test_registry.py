"""The registry files: exactly the import formats, valid identifiers, references that
resolve, the sizes of each scale, and a real import."""

import collections
import datetime as dt
import re
from pathlib import Path

import pytest
from django.core.management import call_command

import anyuan
from anyuan.core import identifiers as ids
from anyuan.simulator.registry import COLUMNS
from anyuan.simulator.scales import SCALES
from anyuan.simulator.world import World

DOC = Path(anyuan.__file__).resolve().parents[2] / "docs" / "import-formats.md"


def documented_columns() -> dict[str, list[str]]:
    """The kinds and their columns, read from the table of docs/import-formats.md."""
    kinds = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*`([a-z_]+)`\s*\|(.*)\|\s*$", line)
        if not m:
            continue
        cols = []
        for token in re.findall(r"`([^`]+)`", m.group(2)):
            if re.fullmatch(r"[a-z_]+", token) and token not in cols:
                cols.append(token)
        kinds[m.group(1)] = cols
    return kinds


def test_files_have_exactly_the_documented_columns_in_the_documented_order(sim):
    doc = documented_columns()
    assert list(doc) == list(COLUMNS), "kinds (and their import order) differ from the doc"
    for kind, cols in doc.items():
        assert sim.header(kind) == cols, kind
        assert (sim.out / "registry" / f"{kind}.csv").exists()


def test_every_identifier_is_valid_and_unique(sim):
    start = dt.date(2026, 11, 2)
    people = sim.csv("people")
    id_numbers = [p["id_number"] for p in people]
    assert all(id_numbers), "every simulated person has an ID number"
    for value in id_numbers + [q["id_number"] for q in sim.csv("qualifications")]:
        assert ids.normalize_id_number(value, today=start) == value
    for w in sim.csv("watchlist"):
        if w["id_number"]:
            assert ids.normalize_id_number(w["id_number"], today=start) == w["id_number"]
    assert len(set(id_numbers)) == len(id_numbers)
    for kind in ("enterprises", "labour_agencies"):
        for row in sim.csv(kind):
            assert ids.normalize_credit_code(row["credit_code"]) == row["credit_code"]
    for row in people:
        if row["phone"]:
            assert ids.normalize_phone(row["phone"]) == row["phone"]
    for row in sim.csv("officers") + sim.csv("labour_agencies"):
        phone = row.get("phone") or row.get("contact_phone")
        assert ids.normalize_phone(phone) == phone
    for row in sim.csv("enterprises"):
        assert ids.normalize_phone(row["duty_phone"]) == row["duty_phone"]
    plates = [v["plate"] for v in sim.csv("vehicles")]
    assert len(set(plates)) == len(plates)
    for v in sim.csv("vehicles"):
        if v["kind"] == "ebike":
            assert 4 <= len(v["plate"]) <= 12 and not re.search(r"\s", v["plate"])
        else:
            assert ids.normalize_plate(v["plate"]) == v["plate"]
    for w in sim.csv("watchlist"):
        if w["kind"] == "plate":
            assert ids.normalize_plate(w["plate"]) == w["plate"]
    for column in ("face_id", "card_number"):
        values = [p[column] for p in people if p[column]]
        assert len(set(values)) == len(values), column
    assert all(re.fullmatch(r"F[0-9A-F]{16}", p["face_id"]) for p in people)
    by_enterprise = collections.Counter(
        (p["enterprise_credit_code"], p["employee_number"]) for p in people if p["employee_number"]
    )
    assert max(by_enterprise.values()) == 1
    serials = [d["serial"] for d in sim.csv("devices")]
    assert len(set(serials)) == len(serials)


def test_references_resolve(sim):
    station = sim.csv("stations")[0]["code"]
    for kind in COLUMNS:
        if kind not in ("stations", "qualification_types"):
            assert {r["station_code"] for r in sim.csv(kind)} <= {station}, kind
    parks = {p["name"] for p in sim.csv("parks")}
    zones = {f"{z['park']}/{z['code']}": z for z in sim.csv("zones")}
    rank = {"perimeter": 0, "park": 1, "living": 2, "production": 2, "core": 3}
    credit = {e["credit_code"] for e in sim.csv("enterprises")}
    agencies = {a["credit_code"] for a in sim.csv("labour_agencies")}
    qtypes = {q["code"] for q in sim.csv("qualification_types")}
    for ref, z in zones.items():
        assert z["park"] in parks
        if z["parent_code"]:
            parent = zones[f"{z['park']}/{z['parent_code']}"]
            assert rank[z["ring"]] >= rank[parent["ring"]], ref
            if parent["owner_credit_code"]:
                assert z["owner_credit_code"] == parent["owner_credit_code"], ref
        assert not z["owner_credit_code"] or z["owner_credit_code"] in credit
        for q in filter(None, z["required_qualifications"].split(";")):
            assert q in qtypes
    assert {r["ring"] for r in zones.values()} == set(rank)
    kinds = collections.Counter(z["kind"] for z in zones.values())
    for kind in ("dormitory", "workshop", "warehouse", "canteen", "gate", "office", "room"):
        assert kinds[kind], f"no {kind} zones"
    for d in sim.csv("devices"):
        assert d["zone"] in zones
    people_ids = {p["id_number"] for p in sim.csv("people")}
    for p in sim.csv("people"):
        assert not p["enterprise_credit_code"] or p["enterprise_credit_code"] in credit
        assert not p["agency_credit_code"] or p["agency_credit_code"] in agencies
        assert not p["home_zone"] or zones[p["home_zone"]]["kind"] == "dormitory"
        if p["kind"] == "temporary":
            assert p["agency_credit_code"] and p["enterprise_credit_code"]
    for kind, key in (("access_groups", "name"), ("grids", "name"), ("contact_groups", "name")):
        names = [r[key] for r in sim.csv(kind)]
        assert len(set(names)) == len(names), f"{kind}: names are keys within the station"
    assert len(zones) == len(sim.csv("zones")), "zone codes are unique within a park"
    groups = {}
    for g in sim.csv("access_groups"):
        members = g["member_id_numbers"].split(";") if g["member_id_numbers"] else []
        assert set(members) <= people_ids
        assert len(g["member_id_numbers"]) < 32_767, "a cell Excel and csv readers can hold"
        groups[g["name"]] = members
    for a in sim.csv("authorisations"):
        assert a["zone"] in zones
        assert bool(a["id_number"]) != bool(a["group"])
        assert not a["id_number"] or a["id_number"] in people_ids
        assert not a["group"] or a["group"] in groups
    for q in sim.csv("qualifications"):
        assert q["id_number"] in people_ids and q["type_code"] in qtypes
    badges = {o["badge_number"] for o in sim.csv("officers")}
    for g in sim.csv("contact_groups"):
        assert g["leader_badge"] in badges
        assert set(g["member_badges"].split(";")) <= badges
    grids = {g["name"] for g in sim.csv("grids")}
    for o in sim.csv("officers"):
        assert set(filter(None, o["grids"].split(";"))) <= grids
    for e in sim.csv("enterprises"):
        assert e["park"] in parks and e["grid"] in grids
    for i in sim.csv("informants"):
        assert i["id_number"] in people_ids and zones[i["workshop"]]["kind"] == "workshop"


def test_the_registry_has_every_kind_of_thing_the_issue_asks_for(sim):
    people = collections.Counter(p["kind"] for p in sim.csv("people"))
    assert set(people) == {"employee", "temporary", "visitor", "resident", "officer"}
    shifts = collections.Counter(p["shift"] for p in sim.csv("people") if p["kind"] == "employee")
    assert shifts["day"] and shifts["night"]
    assert any(p["home_zone"] for p in sim.csv("people"))
    assert any(e["hazardous_chemicals"] == "1" for e in sim.csv("enterprises"))
    assert {v["kind"] for v in sim.csv("vehicles")} == {"car", "truck", "ebike"}
    assert any(v["registered"] == "0" and v["valid_until"] for v in sim.csv("vehicles"))
    names = [z["name"] for z in sim.csv("zones") if z["ring"] == "core"]
    for word in ("财务室", "贵重物品仓", "危化品仓库"):
        assert any(word in n for n in names), word
    assert {d["direction"] for d in sim.csv("devices")} == {"in", "out", "both"}
    assert {d["kind"] for d in sim.csv("devices")} == {
        "gate",
        "camera",
        "sensor",
        "access_controller",
    }
    assert {w["kind"] for w in sim.csv("watchlist")} == {"person", "plate"}
    squads = collections.Counter(p["note"] for p in sim.csv("people") if p["kind"] == "temporary")
    assert max(squads.values()) <= 200


@pytest.mark.parametrize(
    ("scale", "days", "people", "checks"),
    [
        ("demo", 1, (1_800, 2_200), {}),
        ("district", 1, (18_000, 22_000), {"enterprises": 50, "grids": 10}),
        ("longhua", 14, (175_000, 185_000), {"on_site": 30_000, "ebikes": 30_000}),
    ],
)
def test_scale_sizes(scale, days, people, checks):
    """Visitors come with appointments, so the people grow a little with the days."""
    w = World(SCALES[scale], 1, dt.date(2026, 11, 2), days)
    assert people[0] <= w.n_people <= people[1]
    if "enterprises" in checks:
        assert len(w.enterprises) == checks["enterprises"]
        assert len(w.grids) == checks["grids"]
    if scale == "longhua":
        assert (w.people["room"] >= 0).sum() == checks["on_site"]
        assert (w.veh["kind"] == 2).sum() == checks["ebikes"]
        assert w.buildings >= 100 and len(w.enterprises) >= 100 and len(w.agencies) >= 20


@pytest.mark.django_db
def test_the_registry_imports(sim):
    from anyuan.registry import models as m

    call_command("import", "all", str(sim.out / "registry"), verbosity=0)
    rows = {k.split("/")[1][:-4]: n for k, n in sim.manifest["registry"].items()}
    assert m.Station.objects.count() == rows["stations"]
    assert m.Enterprise.objects.count() == rows["enterprises"]
    assert m.Zone.objects.count() == rows["zones"]
    assert m.Device.objects.count() == rows["devices"]
    assert m.Person.objects.count() == rows["people"] == sim.manifest["sizes"]["people"]
    assert m.Vehicle.objects.count() == rows["vehicles"]
    assert m.AccessGroup.objects.count() == rows["access_groups"]
    assert m.Authorisation.objects.count() == rows["authorisations"]
    assert m.Qualification.objects.count() == rows["qualifications"]
    assert m.WatchlistEntry.objects.count() == rows["watchlist"]
    assert m.Informant.objects.count() == rows["informants"]
    hz = m.Zone.objects.get(code="HZ01")
    assert list(hz.required_qualifications.values_list("code", flat=True)) == ["hazchem"]
    assert (
        m.Person.objects.filter(home_zone__kind="dormitory").count()
        == (sim.manifest["sizes"]["living_on_site"])
    )
