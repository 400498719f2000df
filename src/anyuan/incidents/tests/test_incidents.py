"""Police incidents: import (CSV/XLSX, all or nothing), year-on-year and month-on-month
figures on a known dataset, the statistics page and its XLSX, the dashboard tile."""

import datetime as dt
import io
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from anyuan.core.actions import ValidationFailed
from anyuan.core.models import AuditEntry
from anyuan.core.roles import Role
from anyuan.dashboard.api import Place
from anyuan.incidents import importing, stats
from anyuan.incidents.models import Incident
from anyuan.incidents.tiles import tiles

CN = ZoneInfo("Asia/Shanghai")


def csv_bytes(world, rows, header="警情编号,类别,发生时间,地点,企业,警格,是否破案,简要案情"):
    lines = [header, *rows]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


@pytest.fixture
def known(world):
    """The dataset of the figures below: thefts in the own enterprise, March 2025: 3,
    March 2026: 2, February 2026: 4; one fraud in the neighbour enterprise each March."""
    Incident.objects.all().delete()
    own, neighbour = world.own.enterprise.name, world.neighbour.enterprise.name
    rows = []
    n = 0

    def add(category, day, enterprise, solved="否"):
        nonlocal n
        n += 1
        rows.append(f"JQ{n:04d},{category},{day} 10:00,厂区,{enterprise},,{solved},")

    for d in ("2025-03-03", "2025-03-10", "2025-03-28"):
        add("盗窃", d, own)
    for d in ("2026-03-02", "2026-03-31"):
        add("盗窃", d, own, "是")
    for d in ("2026-02-01", "2026-02-10", "2026-02-11", "2026-02-28"):
        add("盗窃", d, own)
    add("诈骗", "2025-03-15", neighbour)
    add("诈骗", "2026-03-15", neighbour)
    result = importing.import_file(
        world.users[Role.POLICE_OFFICER], "jq.csv", csv_bytes(world, rows)
    )
    assert result == {"created": 11, "updated": 0}
    return world


@pytest.mark.django_db
def test_enterprise_thefts_year_on_year(known):
    qs = Incident.objects.restrict(known.users[Role.POLICE_ADMIN]).filter(category="theft")
    table = stats.compare(qs, "enterprise", stats.Period.month(2026, 3))
    row = next(r for r in table["rows"] if r["key"] == known.own.enterprise.pk)
    assert (row["now"], row["year_before"], row["yoy"]) == (2, 3, -33.3)
    assert (row["before"], row["mom"]) == (4, -50.0)
    assert stats.fmt_change(row["yoy"]) == "−33.3%"
    by_category = stats.compare(
        Incident.objects.restrict(known.users[Role.POLICE_ADMIN]),
        "category",
        stats.Period.month(2026, 3),
    )
    fraud = next(r for r in by_category["rows"] if r["key"] == "fraud")
    assert (fraud["now"], fraud["year_before"], fraud["yoy"]) == (1, 1, 0.0)
    assert by_category["total"] == {
        "now": 3,
        "year_before": 4,
        "yoy": -25.0,
        "before": 4,
        "mom": -25.0,
    }
    grid = stats.compare(qs, "grid", stats.Period.month(2026, 3))["rows"][0]
    assert grid["label"] == known.home.grid.name and grid["now"] == 2  # the enterprise's grid
    ytd = stats.compare(qs, "category", stats.Period.year_to(2026, 3))["total"]
    assert (ytd["now"], ytd["year_before"]) == (6, 3) and ytd["yoy"] == 100.0
    months = stats.by_month(qs, 2026)
    assert [m["now"] for m in months[:3]] == [0, 4, 2]
    assert months[2]["year_before"] == 3 and months[2]["yoy"] == -33.3 and months[2]["mom"] == -50.0
    assert months[0]["yoy"] is None  # nothing a year before: no percentage
    assert stats.solved_share(qs, stats.Period.month(2026, 3)) == 100.0


def test_periods():
    p = stats.Period.month(2026, 1)
    assert p.before() == stats.Period.month(2025, 12)
    assert p.year_before() == stats.Period.month(2025, 1)
    assert stats.Period.year_to(2026, 3).before() == stats.Period(2025, 10, 12)
    assert p.end == dt.datetime(2026, 2, 1, tzinfo=CN)
    assert stats.change(2, 3) == -33.3 and stats.change(1, 0) is None


@pytest.mark.django_db
def test_reimport_updates_and_bad_rows_change_nothing(known):
    officer = known.users[Role.POLICE_OFFICER]
    again = csv_bytes(
        known, [f"JQ0001,盗窃,2025-03-03 10:00,厂区,{known.own.enterprise.name},,是,已破"]
    )
    assert importing.import_file(officer, "jq.csv", again) == {"created": 0, "updated": 1}
    assert Incident.objects.get(number="JQ0001").solved is True
    count = Incident.objects.count()
    bad = csv_bytes(known, [
        "JQ9001,盗窃,2026-04-01 10:00,厂区,,,否,",
        "JQ9002,偷鸡,2026-04-01 10:00,厂区,,,否,",
        "JQ9003,盗窃,昨天,厂区,无此公司,,也许,",
        "JQ9001,盗窃,2026-04-01 10:00,厂区,,,否,",
    ])  # fmt: skip
    with pytest.raises(ValidationFailed) as e:
        importing.import_file(officer, "jq.csv", bad)
    text = " ".join(e.value.errors["file"])
    assert "3" in text and "4" in text and "偷鸡" in text and "无此公司" in text
    assert (
        Incident.objects.count() == count and not Incident.objects.filter(number="JQ9001").exists()
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("jq.txt", b"x", "CSV or XLSX"),
        ("jq.xlsx", b"not a zip", "XLSX"),
        ("jq.csv", "编号,时间\n1,2026-01-01\n".encode(), "类别"),
        ("jq.csv", b"", "no rows"),
    ],
)
def test_refused_files(world, name, raw, message):
    from django.utils import translation

    with translation.override("en"), pytest.raises(ValidationFailed) as e:
        importing.import_file(world.users[Role.POLICE_OFFICER], name, raw)
    assert message in " ".join(e.value.errors["file"])


@pytest.mark.django_db
def test_too_large(world, settings):
    settings.ANYUAN_INCIDENT_IMPORT_MAX_BYTES = 10
    with pytest.raises(ValidationFailed) as e:
        importing.import_file(world.users[Role.POLICE_OFFICER], "jq.csv", b"x" * 11)
    assert "MB" in e.value.errors["file"][0]


@pytest.mark.django_db
def test_xlsx_import_and_page(world):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["number", "category", "time", "enterprise", "solved"])
    sheet.append(
        ["X-1", "theft", dt.datetime(2026, 5, 1, 8, 0), world.own.enterprise.credit_code, 1]
    )
    sheet.append(["X-2", "火灾", "2026/5/2 9:30", None, "否"])
    out = io.BytesIO()
    book.save(out)
    client = Client()
    client.force_login(world.users[Role.POLICE_OFFICER])
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = client.post(
        reverse("incidents:import"), {"file": SimpleUploadedFile("jq.xlsx", out.getvalue())}
    )
    assert r.status_code == 303
    x1 = Incident.objects.get(number="X-1")
    assert x1.enterprise == world.own.enterprise and x1.solved and x1.grid == world.home.grid
    assert x1.occurred_at == dt.datetime(2026, 5, 1, 8, 0, tzinfo=CN)
    assert AuditEntry.objects.filter(action="import", object_type="incidents.incident").exists()
    r = client.post(reverse("incidents:import"), {"file": SimpleUploadedFile("jq.exe", b"MZ")})
    assert r.status_code == 400 and "import-errors" in r.content.decode()
    enterprise = Client()
    enterprise.force_login(world.users[Role.ENTERPRISE_ADMIN])
    assert enterprise.get(reverse("incidents:import")).status_code == 403


@pytest.mark.django_db
def test_stats_page_and_xlsx(known):
    client = Client()
    client.force_login(known.users[Role.POLICE_ADMIN])
    url = reverse("incidents:stats")
    r = client.get(url, {"year": 2026, "month": 3, "span": "month", "category": "theft"})
    text = r.content.decode()
    assert r.status_code == 200 and "−33.3%" in text and "−50.0%" in text
    r = client.get(url, {"year": 2026, "month": 3, "category": "theft", "format": "xlsx"})
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    rows = list(book.worksheets[1].iter_rows(values_only=True))  # by enterprise
    assert [known.own.enterprise.name, 2, 3, "−33.3%", 4, "−50.0%"] in [list(x) for x in rows]
    assert AuditEntry.objects.filter(action="export", object_type="incidents.incident").exists()
    # an enterprise sees its own incidents only, and cannot export
    own = Client()
    own.force_login(known.users[Role.ENTERPRISE_ADMIN])
    page = own.get(url, {"year": 2026, "month": 3}).content.decode()
    assert known.own.enterprise.name in page and known.neighbour.enterprise.name not in page
    assert own.get(url, {"format": "xlsx"}).status_code == 403
    informant = Client()
    informant.force_login(known.users[Role.INFORMANT])
    assert informant.get(url).status_code == 403


@pytest.mark.django_db
def test_tile_this_month_against_last_year(known):
    police = known.users[Role.POLICE_ADMIN]
    now = dt.datetime(2026, 3, 31, 12, 0, tzinfo=CN)
    [tile] = tiles(police, Place(), now=now)
    # March 2026 up to the 31st noon: 2 thefts + 1 fraud; March 2025 to the 31st noon: 3 + 1
    assert (tile.key, tile.value, tile.extra["year_before"], tile.extra["yoy"]) == (
        "incidents.month", 3, 4, -25.0,
    )  # fmt: skip
    [narrow] = tiles(police, Place(enterprise=known.neighbour.enterprise.pk), now=now)
    assert (narrow.value, narrow.extra["yoy"]) == (1, 0.0)
    [own] = tiles(known.users[Role.ENTERPRISE_ADMIN], Place(), now=now)
    assert own.value == 2
    assert tiles(known.users[Role.INFORMANT], Place(), now=now) == []
