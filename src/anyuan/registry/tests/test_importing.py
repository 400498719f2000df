"""Bulk import and export: all rows or none, every problem reported, scope, round trips."""

import csv
import datetime as dt
import io
from types import SimpleNamespace

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings
from django.utils import translation
from ninja.testing import TestClient

from anyuan.accounts.models import User
from anyuan.core.actions import ValidationFailed, not_saved
from anyuan.core.models import AuditEntry
from anyuan.core.personal import digest
from anyuan.core.roles import Role
from anyuan.core.testing import make_credit_code, make_id_number, make_phone
from anyuan.registry import exporting
from anyuan.registry import models as m
from anyuan.registry.api_io import router as io_router
from anyuan.registry.importing import KINDS, import_file

PEOPLE_HEADER = [c.name for c in KINDS["people"].columns]


def csv_bytes(header, rows) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    for row in rows:
        w.writerow([row.get(h, "") for h in header] if isinstance(row, dict) else row)
    return out.getvalue().encode("utf-8")


def run(kind, data: bytes, name="file.csv", **kwargs):
    return import_file(kind, io.BytesIO(data), filename=name, **kwargs)


def user(username, role, **place):
    u = User(username=username, role=role, **place)
    u.set_password("Anyuan-test-2026!")
    u.full_clean(exclude=["password"])
    u.save()
    return u


def bad_id(seq: int) -> str:
    good = make_id_number(seq)
    return good[:-1] + ("1" if good[-1] != "1" else "2")


@pytest.fixture(autouse=True)
def english():
    """Messages are checked in English (the catalogue translates them for the pages)."""
    with translation.override("en"):
        yield


@pytest.fixture
def place(db):
    """Station A (a park, two enterprises, an agency, a dormitory) and station B."""
    p = SimpleNamespace()
    p.a = m.Station.objects.create(code="A", name="东区派出所")
    p.b = m.Station.objects.create(code="B", name="西区派出所")
    p.park = m.Park.objects.create(station=p.a, name="东区工业园")
    p.e1 = m.Enterprise.objects.create(
        station=p.a, park=p.park, name="甲公司", credit_code=make_credit_code(11)
    )
    p.e2 = m.Enterprise.objects.create(
        station=p.a, park=p.park, name="乙公司", credit_code=make_credit_code(12)
    )
    p.eb = m.Enterprise.objects.create(station=p.b, name="西公司", credit_code=make_credit_code(13))
    p.agency = m.LabourAgency.objects.create(
        station=p.a, name="好运劳务", credit_code=make_credit_code(2)
    )
    p.dorm = m.Zone.objects.create(
        park=p.park, name="宿舍101", code="D1", ring="living", kind="dormitory"
    )
    p.police = user("police_a", Role.POLICE_ADMIN, station=p.a)
    p.admin1 = user("admin_e1", Role.ENTERPRISE_ADMIN, enterprise=p.e1)
    p.officer = user("officer_a", Role.POLICE_OFFICER, station=p.a)
    return p


def person_row(p, seq, **over):
    row = {
        "station_code": "A",
        "id_number": make_id_number(seq),
        "kind": "employee",
        "name": f"员工{seq}",
        "phone": make_phone(seq),
        "enterprise_credit_code": p.e1.credit_code,
        "employee_number": f"E{seq:03d}",
        "card_number": f"C{seq:03d}",
        "shift": "day",
        "home_zone": "东区工业园/D1",
        "hire_date": "2024-03-01",
    }
    row.update(over)
    return row


def problems_at(result):
    return {(p.line, p.column): p.message for p in result.problems}


# --- good files ---------------------------------------------------------------------------------


def test_good_people_file_imports_fully_encrypted_and_findable(place):
    rows = [person_row(place, i) for i in range(1, 6)]
    rows.append(person_row(place, 6, kind="temporary", agency_credit_code=place.agency.credit_code))
    rows.append({"station_code": "A", "kind": "visitor", "name": "访客", "face_id": "F900"})
    data = csv_bytes(PEOPLE_HEADER, rows)
    result = run("people", data, "people.csv")

    assert result.ok, result.problems
    assert (result.rows, result.created, result.updated, result.unchanged) == (7, 7, 0, 0)
    assert m.Person.objects.count() == 7

    # encrypted at rest: the raw column holds ciphertext, not the ID number
    number = make_id_number(3)
    with connection.cursor() as cur:
        cur.execute("SELECT id_number, phone, row_key FROM registry_person")
        raw = cur.fetchall()
    assert all(number not in (v or "") and make_phone(3) not in (p or "") for v, p, _k in raw)
    assert any((v or "").startswith("v2:") for v, _p, _k in raw)
    assert len({k for _v, _p, k in raw}) == len(raw)  # each row its own key, not one default

    # the digests were filled: exact look-ups find the person
    person = m.Person.objects.get(id_number_digest=digest("id_number", number))
    assert person.name == "员工3"
    assert person.id_number.reveal() == number
    assert person.birth_date == dt.date(1990, 1, 1)
    assert m.Person.objects.get(phone_digest=digest("phone", make_phone(3))) == person
    assert person.home_zone == place.dorm
    assert m.Person.objects.get(name="员工6").labour_agency == place.agency

    entry = AuditEntry.objects.get(action="import")
    assert entry.object_type == "registry.person"
    assert entry.after["created"] == 7
    assert entry.after["file"] == "people.csv"
    assert len(entry.after["sha256"]) == 64
    assert entry.actor_name == "system"


def test_reimport_counts_updated_and_unchanged_and_keeps_digests_right(place):
    rows = [person_row(place, i) for i in range(1, 5)]
    assert run("people", csv_bytes(PEOPLE_HEADER, rows)).created == 4

    rows[1]["phone"] = make_phone(777)  # an update through bulk_update
    rows[2]["name"] = "改名"
    again = run("people", csv_bytes(PEOPLE_HEADER, rows))
    assert again.ok, again.problems
    assert (again.created, again.updated, again.unchanged) == (0, 2, 2)
    assert m.Person.objects.count() == 4
    moved = m.Person.objects.get(phone_digest=digest("phone", make_phone(777)))
    assert moved.id_number.reveal() == make_id_number(2)
    assert not m.Person.objects.filter(phone_digest=digest("phone", make_phone(2))).exists()

    third = run("people", csv_bytes(PEOPLE_HEADER, rows))
    assert (third.created, third.updated, third.unchanged) == (0, 0, 4)


def test_omitted_optional_columns_are_left_as_they_are(place):
    run("people", csv_bytes(PEOPLE_HEADER, [person_row(place, 1)]))
    partial = csv_bytes(["station_code", "id_number", "kind", "name"],
                        [["A", make_id_number(1), "employee", "新名字"]])  # fmt: skip
    result = run("people", partial)
    assert result.ok and result.updated == 1, result.problems
    person = m.Person.objects.get()
    assert person.name == "新名字"
    assert person.enterprise == place.e1  # not in the file: unchanged
    assert person.phone.reveal() == make_phone(1)


def test_dry_run_writes_nothing(place):
    result = run("people", csv_bytes(PEOPLE_HEADER, [person_row(place, 1)]), dry_run=True)
    assert result.ok and result.created == 1
    assert not m.Person.objects.exists()
    # nothing but its audit record: a dry run tells which keys are taken
    (entry,) = AuditEntry.objects.filter(action="import")
    assert entry.after["dry_run"] is True and entry.after["written"] is False


# --- bad files ------------------------------------------------------------------------------------


def test_bad_rows_refuse_the_whole_file_and_each_is_reported(place):
    rows = [
        person_row(place, 1),  # line 2: good
        person_row(place, 2, id_number=bad_id(2)),  # line 3: check digit
        person_row(place, 3, enterprise_credit_code="91330206000000115X"),  # line 4: bad code
        person_row(place, 4, enterprise_credit_code=make_credit_code(555)),  # line 5: unknown
        person_row(place, 5, name=""),  # line 6: missing required
        person_row(place, 1, employee_number="E901", card_number="C901"),  # line 7: duplicate
        person_row(place, 7, kind="temporary"),  # line 8: temporary without agency
        person_row(place, 8, enterprise_credit_code=""),  # line 9: employee without enterprise
        person_row(place, 9, home_zone="东区工业园/NOPE"),  # line 10: unknown zone
        person_row(
            place, 10, station_code="B", enterprise_credit_code=place.e1.credit_code, home_zone=""
        ),  # line 11: enterprise of another station
    ]
    result = run("people", csv_bytes(PEOPLE_HEADER, rows))

    assert not result.ok
    assert m.Person.objects.count() == 0
    (entry,) = AuditEntry.objects.filter(action="import")  # the refused check, audited
    assert entry.after["written"] is False and entry.after["problems"] == len(result.problems)
    found = problems_at(result)
    assert "check digit" in found[(3, "id_number")]
    assert "check character" in found[(4, "enterprise_credit_code")]
    assert "Unknown" in found[(5, "enterprise_credit_code")]
    assert "required" in found[(6, "name")]
    assert "line 2" in found[(7, "id_number")]
    assert "labour agency" in found[(8, "agency_credit_code")]
    assert "enterprise" in found[(9, "enterprise_credit_code")]
    assert "Unknown" in found[(10, "home_zone")]
    assert "jurisdiction" in found[(11, "enterprise_credit_code")]
    assert {p.line for p in result.problems} == set(range(3, 12))
    # personal data is masked in the report
    text = " ".join(str(p) for p in result.problems)
    assert bad_id(2) not in text and make_id_number(1) not in text
    assert "*" * 17 + bad_id(2)[-1:] in text


def test_bad_plates_and_ebike_local_plates(place):
    header = [c.name for c in KINDS["vehicles"].columns]
    rows = [
        {"station_code": "A", "plate": "浙B12345", "kind": "car"},
        {"station_code": "A", "plate": "浙B1234", "kind": "car"},  # line 3: too short
        {"station_code": "A", "plate": "宁波A1234", "kind": "ebike"},  # local e-bike plate: fine
        {"station_code": "A", "plate": "X", "kind": "ebike"},  # line 5
        {"station_code": "A", "plate": "浙 b 12345", "kind": "car"},  # line 6: same as line 2
    ]
    result = run("vehicles", csv_bytes(header, rows))
    found = problems_at(result)
    assert set(found) == {(3, "plate"), (5, "plate"), (6, "plate")}
    assert "line 2" in found[(6, "plate")]
    assert not m.Vehicle.objects.exists()

    good = run("vehicles", csv_bytes(header, [rows[0], rows[2]]))
    assert good.ok and good.created == 2
    assert set(m.Vehicle.objects.values_list("plate", flat=True)) == {"浙B12345", "宁波A1234"}


def test_unknown_and_missing_columns_are_refused(place):
    result = run("people", b"station_code,name,shoe_size\nA,x,42\n")
    found = problems_at(result)
    assert "Unknown column" in found[(1, "shoe_size")]
    assert "missing" in found[(1, "kind")]


def test_chinese_headers_and_xlsx(place):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["派出所代码", "统一社会信用代码", "名称", "园区", "人数", "危化品", "风险等级"])
    ws.append(["A", make_credit_code(21), "丙公司", "东区工业园", 120, True, "high"])
    ws.append(["A", make_credit_code(22), "丁公司", None, 30.0, "否", "低"])
    buf = io.BytesIO()
    wb.save(buf)
    result = run("enterprises", buf.getvalue(), "enterprises.xlsx")
    assert result.ok, result.problems
    assert result.created == 2 and result.format == "xlsx"
    c = m.Enterprise.objects.get(name="丙公司")
    assert (c.headcount, c.hazardous_chemicals, c.risk_level, c.park) == (
        120, True, "high", place.park,
    )  # fmt: skip
    assert m.Enterprise.objects.get(name="丁公司").risk_level == "low"


def test_unreadable_files_are_refused_not_crashed(place):
    cases = {
        "latin1.csv": "station_code,name\nA,caf\xe9\n".encode("latin-1"),
        "empty.csv": b"",
        "noise.xlsx": b"PK\x03\x04 not really a zip",
        "binary.xlsx": bytes(range(256)),
        "old.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100,
        "utf16.csv": "station_code\n".encode("utf-16"),
    }
    for name, data in cases.items():
        result = run("people", data, name)
        assert not result.ok, name
        assert result.problems[0].message, name


# --- zones: the tree ------------------------------------------------------------------------------


ZONE_HEADER = [c.name for c in KINDS["zones"].columns]


def zone(code, ring, parent="", owner="", kind="area"):
    return {"station_code": "A", "park": "东区工业园", "code": code, "name": code, "ring": ring,
            "kind": kind, "parent_code": parent, "owner_credit_code": owner}  # fmt: skip


def test_zones_parents_later_in_the_file_paths_like_save(place):
    e1 = place.e1.credit_code
    rows = [
        zone("A1-2F", "core", "A1", e1, "floor"),
        zone("A1", "production", "P", e1, "workshop"),
        zone("P", "park"),
        zone("D2", "living", "D1"),  # under a stored zone
    ]
    result = run("zones", csv_bytes(ZONE_HEADER, rows))
    assert result.ok, result.problems
    z = {x.code: x for x in m.Zone.objects.all()}
    assert z["A1-2F"].parent == z["A1"] and z["A1"].parent == z["P"]
    assert z["A1-2F"].path == f"/{z['P'].pk}/{z['A1'].pk}/{z['A1-2F'].pk}/"
    assert (z["P"].depth, z["A1"].depth, z["A1-2F"].depth) == (0, 1, 2)
    assert z["D2"].path == f"{z['D1'].path}{z['D2'].pk}/"

    # moving a subtree rewrites the paths below it
    moved = run("zones", csv_bytes(ZONE_HEADER, [zone("A1", "production", "D1", e1)]))
    assert moved.ok, moved.problems
    z = {x.code: x for x in m.Zone.objects.all()}
    assert z["A1-2F"].path == f"{z['D1'].path}{z['A1'].pk}/{z['A1-2F'].pk}/"
    assert z["A1-2F"].depth == 2


def test_zone_rules(place):
    e1, e2 = place.e1.credit_code, place.e2.credit_code
    rows = [
        zone("P", "production"),
        zone("X", "park", "P"),  # line 3: outer ring than its parent
        zone("C1", "core", "C2"),  # lines 4, 5: a cycle
        zone("C2", "core", "C1"),
        zone("W", "production", "NOPE"),  # line 6: unknown parent
        zone("E", "production", "", e1),
        zone("F", "core", "E", e2),  # line 8: inside e1's zone but owned by e2
    ]
    result = run("zones", csv_bytes(ZONE_HEADER, rows))
    found = problems_at(result)
    assert "outer ring" in found[(3, "ring")]
    assert "inside itself" in found[(4, "parent_code")]
    assert "inside itself" in found[(5, "parent_code")]
    assert (6, "parent_code") in found
    assert (8, "owner_credit_code") in found
    assert m.Zone.objects.count() == 1  # only the fixture's dormitory


# --- scope ----------------------------------------------------------------------------------------


def test_enterprise_admin_imports_only_into_own_enterprise(place):
    rows = [person_row(place, 1), person_row(place, 2, enterprise_credit_code=place.e2.credit_code)]
    result = run("people", csv_bytes(PEOPLE_HEADER, rows), actor=place.admin1)
    found = problems_at(result)
    assert set(found) == {(3, "enterprise_credit_code")}
    assert not m.Person.objects.exists()

    ok = run("people", csv_bytes(PEOPLE_HEADER, rows[:1]), actor=place.admin1)
    assert ok.ok and ok.created == 1, ok.problems
    written = [e for e in AuditEntry.objects.filter(action="import") if "written" not in e.after]
    assert [e.actor for e in written] == [place.admin1]

    # a person of the neighbour enterprise, stored already: the key matches, but out of scope
    m.Person.objects.create(
        station=place.a, enterprise=place.e2, name="邻居", id_number=make_id_number(50)
    )
    clash = run("people", csv_bytes(PEOPLE_HEADER, [person_row(place, 50)]), actor=place.admin1)
    # refused with the one neutral message: it does not say the number exists elsewhere
    assert problems_at(clash)[(2, "id_number")] == not_saved()
    assert (
        m.Person.objects.get(id_number_digest=digest("id_number", make_id_number(50))).name
        == "邻居"
    )


def test_police_import_is_bounded_by_station_and_permission(place):
    header = [c.name for c in KINDS["enterprises"].columns]
    rows = [
        {"station_code": "A", "credit_code": make_credit_code(31), "name": "新公司"},
        {"station_code": "B", "credit_code": make_credit_code(32), "name": "外所公司"},
        {"station_code": "A", "credit_code": place.eb.credit_code, "name": "抢走"},
    ]
    result = run("enterprises", csv_bytes(header, rows), actor=place.police)
    found = problems_at(result)
    assert set(found) == {(3, "station_code"), (4, "credit_code")}
    assert m.Enterprise.objects.count() == 3

    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        run("people", csv_bytes(PEOPLE_HEADER, [person_row(place, 1)]), actor=place.officer)


def test_qualification_types_are_maintained_by_the_site_not_a_station(place):
    """docs/import-formats.md: police administrators import every kind but qualification
    types, which belong to no station; the system (the command line without --as) does."""
    from django.core.exceptions import PermissionDenied

    from anyuan.core.roles import IMPORT, user_can

    importable = {
        name for name, kind in KINDS.items() if user_can(place.police, kind.model, IMPORT)
    }
    assert importable == set(KINDS) - {"qualification_types"}
    data = b"code,name,validity_months\nhazchem,\xe5\x8d\xb1\xe5\x8c\x96\xe5\x93\x81,12\n"
    with pytest.raises(PermissionDenied):
        run("qualification_types", data, actor=place.police)
    assert not m.QualificationType.objects.exists()
    assert run("qualification_types", data).ok
    assert m.QualificationType.objects.get(code="hazchem").validity_months == 12
    assert m.QualificationType.objects.restrict(place.police).filter(code="hazchem").exists()


# --- the command line -----------------------------------------------------------------------------


def write_demo(directory, place):
    """A small file for many kinds, referring to each other (as the simulator does)."""
    e1, e2, ag = place.e1.credit_code, place.e2.credit_code, place.agency.credit_code
    ids = [make_id_number(i) for i in range(100, 104)]
    files = {
        "qualification_types": "code,name,validity_months\nhazchem,危化品培训,12\n",
        "grids": "station_code,name,position\nA,警格1,1\nA,警格2,2\n",
        "officers": "station_code,badge_number,name,kind,duty,phone,grids\n"
        f"A,001001,王警官,police,chief,{make_phone(1)},警格1;警格2\nA,001002,李辅警,auxiliary,patrol,,警格1\n",
        "contact_groups": "station_code,name,leader_badge,member_badges\nA,包保一组,001001,001001;001002\n",
        "enterprises": "station_code,credit_code,name,park,grid,contact_group,headcount,hazardous_chemicals,risk_level\n"
        f"A,{e1},甲公司,东区工业园,警格1,包保一组,120,1,high\n",
        "zones": "station_code,park,code,name,ring,kind,parent_code,owner_credit_code,capacity,is_transit,required_qualifications\n"
        f"A,东区工业园,A1,甲车间,production,workshop,P,{e1},,0,hazchem\nA,东区工业园,P,园区,park,area,,,,0,\n",
        "devices": "station_code,serial,name,kind,zone,direction\nA,SN-1,闸机,gate,东区工业园/P,in\n",
        "people": ",".join(PEOPLE_HEADER) + "\n"
        f"A,{ids[0]},employee,=HYPERLINK(1),{make_phone(100)},{e1},,E1,C1,F1,day,东区工业园/D1,2024-03-01,,\n"
        f"A,{ids[1]},temporary,李娜,,{e1},{ag},,C2,,night,,,,\n"
        f"A,{ids[2]},employee,王强,,{e2},,E1,,,,,,,\n"
        "A,,visitor,访客,,,,,,F9,,,,,\n",
        "qualifications": f"station_code,id_number,type_code,number,issued_on,valid_until\nA,{ids[0]},hazchem,Q1,2025-01-01,2026-01-01\n",
        "vehicles": "station_code,plate,kind,owner_id_number,enterprise_credit_code,valid_until\n"
        f"A,浙B12345,car,{ids[0]},{e1},2026-11-23T08:00:00+08:00\nA,宁波A1234,ebike,,{e1},\n",
        "access_groups": f"station_code,name,enterprise_credit_code,member_id_numbers\nA,甲组,{e1},{ids[0]};{ids[1]}\n",
        "authorisations": "station_code,zone,id_number,group,weekdays,time_from,time_until\n"
        f"A,东区工业园/A1,{ids[0]},,12345,08:00,18:00\nA,东区工业园/A1,,甲组,7654321,,\n",
        "watchlist": "station_code,kind,name,id_number,face_id,plate,reason,level\n"
        f"A,plate,,,,浙C99999,黑车,alarm\nA,person,某人,{make_id_number(99)},,,在逃,warning\n",
        "informants": f"station_code,id_number,workshop,team,since\nA,{ids[1]},东区工业园/A1,一班,2025-02-01\n",
    }
    for kind, text in files.items():
        (directory / f"{kind}.csv").write_text(text, encoding="utf-8")
    return files


def test_import_all_then_export_all_round_trip(place, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    files = write_demo(src, place)
    call_command("import", "all", str(src))
    out = capsys.readouterr().out
    assert "people.csv: 4 rows — 4 created" in out
    assert m.Officer.objects.get(badge_number="001001").grids.count() == 2
    assert m.ContactGroup.objects.get().members.count() == 2
    assert m.Zone.objects.get(code="A1").required_qualifications.get().code == "hazchem"
    assert m.AccessGroup.objects.get().members.count() == 2
    assert m.Authorisation.objects.get(group__isnull=False).weekdays == "1234567"
    assert m.WatchlistEntry.objects.get(kind="person").person is None
    assert m.Informant.objects.get().workshop.code == "A1"
    assert AuditEntry.objects.filter(action="import").count() == len(files)

    dst = tmp_path / "out"
    call_command("export", "all", str(dst), "--reveal", "--reason", "round trip test")
    assert "'=HYPERLINK(1)" in (dst / "people.csv").read_text(encoding="utf-8-sig")
    capsys.readouterr()
    call_command("import", "all", str(dst))
    out = capsys.readouterr().out
    assert " created" in out
    assert all(", 0 updated" in line and "— 0 created" in line for line in out.splitlines()), out
    assert m.Person.objects.filter(name="=HYPERLINK(1)").count() == 1


def test_import_all_refuses_two_files_of_one_kind(place, tmp_path):
    write_demo(tmp_path, place)
    (tmp_path / "grids.xlsx").write_bytes(b"")
    with pytest.raises(CommandError):
        call_command("import", "all", str(tmp_path))
    assert not m.PoliceGrid.objects.exists()


def test_import_all_is_all_or_nothing(place, tmp_path):
    write_demo(tmp_path, place)
    (tmp_path / "vehicles.csv").write_text(
        "station_code,plate,kind\nA,浙B1,car\n", encoding="utf-8"
    )
    with pytest.raises(CommandError):
        call_command("import", "all", str(tmp_path))
    assert not m.Officer.objects.exists()
    assert not m.Person.objects.exists()
    assert not AuditEntry.objects.filter(action="import").exists()


def test_command_refuses_bad_file_with_report(place, tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes(PEOPLE_HEADER, [person_row(place, 1, id_number=bad_id(1))]))
    with pytest.raises(CommandError):
        call_command("import", "people", str(path))
    err = capsys.readouterr().err
    assert "id_number" in err and bad_id(1) not in err
    with pytest.raises(CommandError):
        call_command("import", "people", str(path), "--as", "nobody")


# --- export ---------------------------------------------------------------------------------------


def test_export_masks_personal_data_unless_revealed_with_reason(place):
    run("people", csv_bytes(PEOPLE_HEADER, [person_row(place, 1)]))
    number = make_id_number(1)

    out = io.BytesIO()
    assert exporting.export_file("people", out, fmt="csv", actor=place.admin1) == 1
    text = out.getvalue().decode("utf-8-sig")
    assert number not in text and make_phone(1) not in text
    assert "*" * 17 + number[-1:] in text

    with pytest.raises(ValidationFailed):
        exporting.export_file("people", io.BytesIO(), fmt="csv", actor=place.admin1, reveal=True)

    out = io.BytesIO()
    exporting.export_file(
        "people", out, fmt="csv", actor=place.admin1, reveal=True, reason="checking the roster"
    )
    assert number in out.getvalue().decode("utf-8-sig")
    audits = list(AuditEntry.objects.filter(action="export").order_by("id"))
    assert [a.after["personal"] for a in audits] == [False, True]
    assert audits[1].reason == "checking the roster"

    # the export round-trips through the importer (XLSX too)
    out = io.BytesIO()
    exporting.export_file("people", out, fmt="xlsx", reveal=True, reason="round trip")
    again = run("people", out.getvalue(), "people.xlsx")
    assert again.ok and again.unchanged == 1, again.problems


def test_export_keeps_to_the_users_scope(place):
    run("people", csv_bytes(PEOPLE_HEADER, [
        person_row(place, 1), person_row(place, 2, enterprise_credit_code=place.e2.credit_code),
    ]))  # fmt: skip
    out = io.BytesIO()
    assert exporting.export_file("people", out, fmt="csv", actor=place.admin1) == 1
    assert "员工2" not in out.getvalue().decode("utf-8-sig")


# --- web pages ------------------------------------------------------------------------------------


def login(u):
    c = Client(raise_request_exception=False)
    c.force_login(u)
    return c


def upload(client, data: bytes, name="people.csv", url="/registry/person/import/", **extra):
    return client.post(url, {"file": SimpleUploadedFile(name, data), **extra})


def test_import_page_imports_a_good_file(place):
    c = login(place.admin1)
    assert c.get("/registry/person/import/").status_code == 200
    response = upload(c, csv_bytes(PEOPLE_HEADER, [person_row(place, 1)]))
    assert response.status_code == 200
    assert m.Person.objects.count() == 1
    # a large upload is kept on disk by Django: the same path works
    with override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=10):
        response = upload(c, csv_bytes(PEOPLE_HEADER, [person_row(place, 2)]), dry_run="1")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="message success"' in page and 'id="import-result"' in page
    assert m.Person.objects.count() == 1  # a check only


def test_import_page_refuses_bad_uploads_with_4xx(place):
    c = login(place.admin1)
    bad = {
        "wrong-encoding.csv": "station_code,kind,name\nA,employee,caf\xe9\n".encode("latin-1"),
        "not-a-csv.csv": bytes(range(256)) * 4,
        "unknown-columns.csv": b"foo,bar\n1,2\n",
        "not-a-zip.xlsx": b"PK\x03\x04garbage",
        "random.xlsx": bytes(range(200)),
        "bad-rows.csv": csv_bytes(PEOPLE_HEADER, [person_row(place, 1, id_number=bad_id(1))]),
        "header-only-but-broken.csv": b'"unterminated\n',
    }
    for name, data in bad.items():
        response = upload(c, data, name)
        assert 400 <= response.status_code < 500, (name, response.status_code)
    assert upload(c, b"", "empty.csv").status_code == 400  # an empty upload
    assert c.post("/registry/person/import/", {}).status_code == 400  # no file at all
    response = upload(c, csv_bytes(PEOPLE_HEADER, [person_row(place, 1, id_number=bad_id(1))]))
    page = response.content.decode()
    assert "id_number" in page and bad_id(1) not in page
    assert not m.Person.objects.exists()


def test_import_page_refuses_large_files_and_unauthorised_users(place):
    c = login(place.admin1)
    with override_settings(ANYUAN_IMPORT_MAX_BYTES=100):
        response = upload(c, csv_bytes(PEOPLE_HEADER, [person_row(place, i) for i in range(20)]))
    assert response.status_code == 413
    assert not m.Person.objects.exists()

    officer = login(place.officer)  # police officers may not import people
    assert officer.get("/registry/person/import/").status_code == 403
    assert upload(officer, csv_bytes(PEOPLE_HEADER, [person_row(place, 1)])).status_code == 403
    assert Client().get("/registry/person/import/").status_code == 302  # sign in first


def test_export_download(place):
    run("people", csv_bytes(PEOPLE_HEADER, [person_row(place, 1)]))
    c = login(place.admin1)
    assert c.get("/registry/person/export/").status_code == 200
    response = c.get("/registry/person/export/?format=csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(PEOPLE_HEADER)
    assert make_id_number(1) not in text
    assert c.post("/registry/person/export/", {"format": "csv", "reveal": "1"}).status_code == 400
    response = c.post(
        "/registry/person/export/", {"format": "xlsx", "reveal": "1", "reason": "audit check"}
    )
    assert response.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert make_id_number(1) in [c.value for c in wb.active[2]]
    assert c.get("/registry/person/export/?format=pdf").status_code == 400
    # the list's search and filters carry over to the export
    run("people", csv_bytes(PEOPLE_HEADER, [person_row(place, 2, kind="resident")]))
    response = c.get("/registry/person/export/?format=csv&kind=resident")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "员工2" in text and "员工1" not in text
    assert login(place.officer).get("/registry/person/export/?format=csv").status_code == 403


def test_api_import(place):
    client = TestClient(io_router)
    data = csv_bytes(PEOPLE_HEADER, [person_row(place, 1, id_number=bad_id(1))])
    response = client.post(
        "/import/people", FILES={"file": SimpleUploadedFile("p.csv", data)}, user=place.admin1
    )
    assert response.status_code == 422
    assert response.json()["problems"][0]["column"] == "id_number"
    data = csv_bytes(PEOPLE_HEADER, [person_row(place, 1)])
    response = client.post(
        "/import/people", FILES={"file": SimpleUploadedFile("p.csv", data)}, user=place.admin1
    )
    assert response.status_code == 200 and response.json()["created"] == 1


def test_the_format_page_and_the_declarations_name_the_same_columns():
    """docs/import-formats.md is what the simulator writes: it must match the engine."""
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[4] / "docs" / "import-formats.md"
    table = doc.read_text(encoding="utf-8").split("## Reading a file")[0]
    documented = {}
    for line in table.splitlines():
        cells = line.split("|")
        if len(cells) > 3 and cells[1].strip().startswith("`"):
            kind = cells[1].strip().strip("`")
            names = re.findall(r"`([a-z][a-z_0-9]*)`", cells[2])
            documented[kind] = list(dict.fromkeys(names))  # a note may name a column again
    assert list(documented) == list(KINDS)
    for kind, columns in documented.items():
        assert columns == [c.name for c in KINDS[kind].columns], kind
        required = {c.name for c in KINDS[kind].columns if c.required}
        starred = set(
            re.findall(r"`([a-z][a-z_0-9]*)`\*", table.split(f"| `{kind}` |")[1].split("\n")[0])
        )
        assert required <= starred | {"station_code"}, kind


def test_devices_report_through_a_platform_registered_before_them(place):
    header = "station_code,serial,name,kind,zone,direction,upstream\n"
    hub = run("devices", (header + "A,HUB-1,门禁平台,platform,东区工业园/D1,,\n").encode())
    assert hub.ok, hub.problems
    result = run(
        "devices",
        (
            header + "A,SN-1,闸机,gate,东区工业园/D1,in,HUB-1\n"
            "A,SN-2,闸机,gate,东区工业园/D1,in,NO-SUCH\n"  # unknown platform
            "A,SN-3,闸机,gate,东区工业园/D1,in,SN-1\n"  # a gate is no platform
            "A,HUB-2,平台,platform,东区工业园/D1,,HUB-1\n"  # platforms do not nest
        ).encode(),
    )
    assert set(problems_at(result)) == {(3, "upstream"), (4, "upstream"), (5, "upstream")}
    good = run("devices", (header + "A,SN-1,闸机,gate,东区工业园/D1,in,HUB-1\n").encode())
    assert good.ok, good.problems
    assert m.Device.objects.get(serial="SN-1").upstream.serial == "HUB-1"
    cleared = run("devices", (header + "A,SN-1,闸机,gate,东区工业园/D1,in,\n").encode())
    assert cleared.ok and cleared.updated == 1
    assert m.Device.objects.get(serial="SN-1").upstream is None
