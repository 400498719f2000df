"""Spreadsheets the platform writes: text stays text (no formula injection), control
characters are refused on input and stripped on output, and every XLSX or CSV file is
written by the one writer in ``core/spreadsheets.py``."""

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import anyuan
from anyuan.core import spreadsheets
from anyuan.core.roles import Role
from anyuan.core.testing import make_credit_code
from anyuan.events.models import Presence
from anyuan.incidents.models import Incident
from anyuan.registry import models as m
from anyuan.tracing.models import TraceRun

FORMULA = '=HYPERLINK("http://x","y")'
SOURCE = Path(anyuan.__file__).parent


def client_as(world, role):
    c = Client(raise_request_exception=False)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the messages checked are English
    c.force_login(world.users[role])
    return c


def cells(content: bytes):
    """Every cell of every sheet, loaded fully (not read-only: types and formulas kept)."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    return [c for ws in book.worksheets for row in ws.iter_rows() for c in row]


def text_cell(content: bytes, text: str):
    """The cell holding ``text`` — which must be a string cell, not a formula."""
    found = [c for c in cells(content) if isinstance(c.value, str) and text in c.value]
    assert found, f"{text!r} is not in the workbook"
    for c in found:
        assert c.data_type == "s", (c.coordinate, c.data_type, c.value)
    return found[0]


# --- the one writer -------------------------------------------------------------------------

# CSV files of generated data in the importers' formats (input, not exports)
CSV_GENERATORS = {"simulator/registry.py", "simulator/cases.py", "bench/import_people.py"}
WRITERS = re.compile(
    r"openpyxl\.Workbook\(|from openpyxl import Workbook|WriteOnlyCell|load_workbook\("
    r"|csv\.writer\(|csv\.DictWriter\("
)


def test_no_module_writes_a_spreadsheet_but_the_one_writer():
    offenders = []
    for path in SOURCE.rglob("*.py"):
        rel = path.relative_to(SOURCE).as_posix()
        if "/tests/" in rel or rel.startswith("browser_tests/") or rel == "core/spreadsheets.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found = WRITERS.search(line)
            if found and not (rel in CSV_GENERATORS and found.group().startswith("csv.")):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "write spreadsheets with core/spreadsheets.py:\n" + "\n".join(offenders)


def test_text_is_text_numbers_and_dates_keep_their_types():
    when = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)
    content = spreadsheets.xlsx_bytes(
        [("a:b/c", [[FORMULA, "#N/A", "+1", "@SUM(A1)", 7, 2.5, True, when, "a\x07b\x00c", None]])]
    )
    book = openpyxl.load_workbook(io.BytesIO(content))
    row = next(book.worksheets[0].iter_rows())
    assert [c.data_type for c in row[:4]] == ["s"] * 4
    assert [c.value for c in row[:4]] == [FORMULA, "#N/A", "+1", "@SUM(A1)"]
    assert [c.value for c in row[4:7]] == [7, 2.5, True]
    assert row[7].is_date and row[7].value == dt.datetime(2026, 3, 1, 16, 30)  # Asia/Shanghai
    assert row[8].value == "abc"
    assert book.sheetnames == ["a b c"]


def test_csv_cells_that_would_run_are_prefixed_and_controls_stripped():
    text = "".join(
        spreadsheets.csv_chunks([[FORMULA, "-1+2", "@x", "\tx", "ok", "a\x1bb", 3]], bom=False)
    )
    assert next(csv.reader(io.StringIO(text))) == [
        "'" + FORMULA, "'-1+2", "'@x", "'\tx", "ok", "ab", "3",
    ]  # fmt: skip


# --- every export, with a hostile enterprise name and old control characters ---------------


@pytest.fixture
def hostile(world):
    """The own enterprise renamed to a formula, rows holding control characters (written
    before they were refused), a presence for the muster list, an incident and a trace."""
    ent = world.own.enterprise
    m.Enterprise.objects.filter(pk=ent.pk).update(name=FORMULA)
    m.Person.objects.filter(pk=world.own.person.pk).update(name="张\x07三", note="bell\x07")
    now = timezone.now()
    Presence.objects.create(
        subject_kind="person", person=world.own.person, method="card", credential="C\x1b1",
        zone=world.own.zone, entered_at=now - dt.timedelta(minutes=5),
    )  # fmt: skip
    Incident.objects.create(
        station=world.home.station, enterprise=ent, number="J1\x0b", category="theft",
        occurred_at=now, place="@cmd", summary="x\x08",  # (PostgreSQL cannot store NUL at all)
    )  # fmt: skip
    run = TraceRun.objects.create(
        station=world.home.station, reason=FORMULA + "\x01", window_start=now - dt.timedelta(1),
        window_end=now, minutes=15, hops=1,
        result={"index": [{"kind": "person", "id": 1, "name": "=1+1\x02"}], "contacts": [
            {"hop": 1, "name": "-2+3", "enterprise": FORMULA, "first_exposure": "", "via": None,
             "exposure_minutes": 20, "meetings": [{"with": "=A1", "zone": {"name": "Z\x03"},
                                                   "from": "", "to": "", "minutes": 20}]}],
                "trajectory": []},
    )  # fmt: skip
    world.run = run
    return world


@pytest.mark.django_db
def test_registry_exports_carry_the_formula_as_text(hostile):
    c = client_as(hostile, Role.POLICE_ADMIN)
    r = c.get("/registry/enterprise/export/", {"format": "xlsx"})
    assert r.status_code == 200
    assert text_cell(b"".join(r.streaming_content), "HYPERLINK").value == FORMULA
    r = c.get("/registry/enterprise/export/", {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert [cell for row in rows for cell in row if "HYPERLINK" in cell] == ["'" + FORMULA]
    r = c.get("/registry/person/export/", {"format": "xlsx"})
    assert r.status_code == 200  # the name with a bell character: stripped, not a 500
    values = [c.value for c in cells(b"".join(r.streaming_content))]
    assert "张三" in values and "bell" in values


@pytest.mark.django_db
def test_incident_statistics_carry_the_formula_as_text(hostile):
    c = client_as(hostile, Role.POLICE_ADMIN)
    now = timezone.localtime()
    r = c.get(reverse("incidents:stats"), {"year": now.year, "month": now.month, "format": "xlsx"})
    assert r.status_code == 200, r.content[:300]
    assert text_cell(r.content, "HYPERLINK").value == FORMULA
    numbers = [c for c in cells(r.content) if c.data_type == "n" and c.value is not None]
    assert numbers  # the counts stay numbers


@pytest.mark.django_db
def test_muster_exports_strip_control_characters(hostile):
    c = client_as(hostile, Role.POLICE_ADMIN)
    zone = hostile.own.zone.pk
    r = c.get(f"/api/v1/events/muster/{zone}.xlsx")
    assert r.status_code == 200, r.content[:300]
    values = [c.value for c in cells(r.content)]
    assert "张三" in values and "C1" in values
    r = c.get(f"/api/v1/events/muster/{zone}.csv")
    assert r.status_code == 200 and "\x07" not in r.content.decode()


@pytest.mark.django_db
def test_trace_xlsx_with_control_characters_and_formulas(hostile):
    c = client_as(hostile, Role.POLICE_ADMIN)
    for url in (
        f"/api/v1/tracing/runs/{hostile.run.pk}.xlsx",
        f"/tracing/runs/{hostile.run.pk}/xlsx/",
    ):
        r = c.get(url)
        assert r.status_code == 200, r.content[:300]
        assert text_cell(r.content, "HYPERLINK").value == FORMULA
        assert text_cell(r.content, "=A1").value == "=A1"
        assert text_cell(r.content, "-2+3").value == "-2+3"
        assert "Z" in [c.value for c in cells(r.content)]


# --- control characters are refused on input ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["a\x07b", "a\x1bb", "\x7f", "a\x85b", "a\x00b"])
def test_a_persons_note_with_a_control_character_is_a_field_error(world, text):
    c = client_as(world, Role.POLICE_ADMIN)
    person = world.own.person
    url = f"/api/v1/registry/person/{person.pk}"
    r = c.patch(url, json.dumps({"note": text}), content_type="application/json")
    assert r.status_code == 422, r.content
    assert [d["loc"][-1] for d in r.json()["detail"]] == ["note"]
    assert "control characters" in json.dumps(r.json())
    person.refresh_from_db()
    assert person.note != text
    ok = c.patch(
        url, json.dumps({"note": "line 1\nline 2\tend\r\n"}), content_type="application/json"
    )
    assert ok.status_code == 200, ok.content


@pytest.mark.django_db
def test_an_enterprise_name_with_a_control_character_is_a_form_error(world):
    c = client_as(world, Role.POLICE_ADMIN)
    ent = world.own.enterprise
    url = reverse("registry:enterprise-edit", args=[ent.pk])
    form = c.get(url).context["form"]
    data = {k: v for k, v in form.initial.items() if v not in (None, [])}
    r = c.post(url, {**data, "name": "坏\x08公司"})
    assert r.status_code == 400, r.status_code
    assert "control characters" in str(r.context["form"].errors["name"])
    ent.refresh_from_db()
    assert "\x08" not in ent.name
    created = c.post(
        reverse("registry:enterprise-add"),
        {**data, "name": "新\x1f公司", "credit_code": make_credit_code(99)},
    )
    assert "control characters" in str(created.context["form"].errors.get("name"))


@pytest.mark.django_db
def test_a_trace_reason_with_a_control_character_is_refused(world):
    c = client_as(world, Role.POLICE_OFFICER)
    now = timezone.now()
    body = {
        "people": [world.own.person.pk], "from": (now - dt.timedelta(days=1)).isoformat(),
        "to": now.isoformat(), "reason": "outbreak\x0c case",
    }  # fmt: skip
    before = TraceRun.objects.count()
    r = c.post("/api/v1/tracing/runs", json.dumps(body), content_type="application/json")
    assert r.status_code == 422, r.content
    assert "reason" in json.dumps(r.json()) and "control characters" in json.dumps(r.json())
    local = timezone.localtime(now)
    form = {
        "people": str(world.own.person.pk),
        "from": (local - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "to": local.strftime("%Y-%m-%dT%H:%M"), "minutes": "15", "rule": "single",
        "hops": "2", "reason": "theft\x1b in the workshop",
    }  # fmt: skip
    page = c.post("/tracing/", form)
    assert page.status_code == 400
    assert "control characters" in page.content.decode()
    assert TraceRun.objects.count() == before
