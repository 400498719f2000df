"""Imports are bounded: rows per file, bytes unpacked from an XLSX zip, problems listed;
control characters are refused cell by cell; large files run in the background with their
state and progress in the database."""

import datetime as dt
import io
import re
import time
import zipfile

import openpyxl
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from ninja.testing import TestClient

from anyuan.core.models import AuditEntry
from anyuan.incidents import importing as incident_importing
from anyuan.registry import models as m
from anyuan.registry.api_io import router as io_router
from anyuan.registry.importing import jobs
from anyuan.registry.models import ImportJob
from anyuan.registry.tests.test_importing import (  # noqa: F401 - fixtures
    PEOPLE_HEADER,
    bad_id,
    csv_bytes,
    english,
    person_row,
    run,
)


def xlsx_bytes(header, rows, *, dimension=True) -> bytes:
    """A workbook written the way Excel does (with the sheet's dimension), or without it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append([row.get(h, "") for h in header] if isinstance(row, dict) else row)
    out = io.BytesIO()
    wb.save(out)
    if dimension:
        return out.getvalue()
    src = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    again = io.BytesIO()
    with zipfile.ZipFile(again, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"<dimension[^>]*/>", b"", data)
            dst.writestr(info, data)
    return again.getvalue()


def client_for(user):
    c = Client(raise_request_exception=False)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    c.force_login(user)
    return c


def upload(client, data: bytes, name="people.csv", **extra):
    return client.post(
        "/registry/person/import/", {"file": SimpleUploadedFile(name, data), **extra}
    )


# --- rows, bytes, problems ----------------------------------------------------------------


@override_settings(ANYUAN_IMPORT_MAX_ROWS=5)
@pytest.mark.parametrize(
    "name, make, message",
    [
        ("p.xlsx", lambda rows: xlsx_bytes(PEOPLE_HEADER, rows), "more than 5"),
        ("p.xlsx", lambda rows: xlsx_bytes(PEOPLE_HEADER, rows, dimension=False), "more than 5"),
        ("p.csv", lambda rows: csv_bytes(PEOPLE_HEADER, rows), "more than 5"),
    ],
)
def test_a_file_with_too_many_rows_is_refused_whole(place, name, make, message):
    data = make([person_row(place, i) for i in range(1, 7)])
    result = run("people", data, name)
    assert [p.message for p in result.problems] == [
        next(p.message for p in result.problems if message in p.message)
    ]
    assert not result.ok and not m.Person.objects.exists()
    ok = run("people", make([person_row(place, i) for i in range(1, 6)]), name)
    assert ok.ok and ok.created == 5


def test_a_zip_bomb_is_refused_before_parsing(place):
    rows = [person_row(place, i, note="x" * 2000) for i in range(1, 60)]
    data = xlsx_bytes(PEOPLE_HEADER, rows)
    unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    assert unpacked > 100_000 > len(data) * 4  # compresses well
    with override_settings(ANYUAN_IMPORT_MAX_UNPACKED_BYTES=100_000):
        result = run("people", data, "p.xlsx")
        assert [p.message for p in result.problems] == [
            f"The workbook unpacks to {unpacked // 2**20} MB; at most 0 MB can be read."
        ]
        with pytest.raises(incident_importing.ValidationFailed) as e:
            incident_importing.import_file(place.police, "jq.xlsx", data)
        assert "unpacks to" in str(e.value.errors)
    assert run("people", data, "p.xlsx").ok


@override_settings(ANYUAN_IMPORT_MAX_PROBLEMS=10)
def test_only_the_first_problems_are_listed_the_others_counted(place):
    rows = [person_row(place, i, id_number=bad_id(i), phone="1") for i in range(1, 31)]
    result = run("people", csv_bytes(PEOPLE_HEADER, rows))
    assert len(result.problems) == 10 and result.more_problems == 50 and result.bad_rows == 30
    assert result.as_dict()["more_problems"] == 50
    api = TestClient(io_router)
    r = api.post(
        "/import/people",
        FILES={"file": SimpleUploadedFile("p.csv", csv_bytes(PEOPLE_HEADER, rows))},
        user=place.admin1,
    )
    assert r.status_code == 422 and len(r.json()["problems"]) == 10
    assert r.json()["more_problems"] == 50
    page = upload(client_for(place.admin1), csv_bytes(PEOPLE_HEADER, rows)).content.decode()
    assert "… and 50 more problems" in page
    assert not m.Person.objects.exists()


def test_control_characters_in_a_cell_are_a_problem_of_that_cell(place):
    rows = [person_row(place, 1, name="张\x07三"), person_row(place, 2, note="a\x1bb")]
    for data, name in ((csv_bytes(PEOPLE_HEADER, rows), "p.csv"),):
        result = run("people", data, name)
        assert {(p.line, p.column) for p in result.problems} == {(2, "name"), (3, "note")}
        assert all("control characters" in p.message for p in result.problems)
    assert not m.Person.objects.exists()


def test_incident_import_refuses_control_characters(place):
    data = "警情编号,类别,发生时间,地点\nJ1,盗窃,2026-03-01 10:00,仓库\x07\n".encode()
    with pytest.raises(incident_importing.ValidationFailed) as e:
        incident_importing.import_file(place.police, "jq.csv", data)
    assert "control characters" in str(e.value.errors)


# --- in the background --------------------------------------------------------------------


@pytest.fixture
def background(monkeypatch, settings):
    """Every upload goes to the background; jobs are recorded, run by the test."""
    settings.ANYUAN_IMPORT_BACKGROUND_BYTES = 0
    launched = []
    monkeypatch.setattr(jobs, "launch", launched.append)
    return launched


def test_a_large_upload_runs_in_the_background_and_shows_progress(
    place, background, django_capture_on_commit_callbacks
):
    c = client_for(place.admin1)
    data = xlsx_bytes(PEOPLE_HEADER, [person_row(place, i) for i in range(1, 41)])
    with django_capture_on_commit_callbacks(execute=True):
        r = upload(c, data, "staff.xlsx")
    assert r.status_code == 303
    job = ImportJob.objects.get()
    assert r["Location"] == f"/registry/import-jobs/{job.pk}/" and background == [job.pk]
    assert (job.state, job.user, job.kind, job.filename) == (
        "queued",
        place.admin1,
        "people",
        "staff.xlsx",
    )
    assert jobs.upload_path(job).stat().st_mode & 0o077 == 0  # private to the server
    page = c.get(r["Location"]).content.decode()
    assert "Waiting to start" in page and 'hx-trigger="every 1s"' in page
    assert not m.Person.objects.exists()

    assert jobs.run(job.pk) and not jobs.run(job.pk)  # claimed once
    job.refresh_from_db()
    assert job.state == "done" and (job.done, job.total) == (40, 40)
    assert job.result["created"] == 40 and m.Person.objects.count() == 40
    assert not jobs.upload_path(job).exists()
    entry = AuditEntry.objects.get(action="import")
    assert entry.actor == place.admin1 and entry.after["created"] == 40
    status = c.get(r["Location"], headers={"HX-Request": "true"}).content.decode()
    assert "40 rows — 40 created" in status and "hx-trigger" not in status

    other = client_for(place.police)  # a job is its user's own
    assert other.get(r["Location"]).status_code == 404
    assert other.get(f"/registry/import-jobs/{job.pk}/problems.csv").status_code == 404


@override_settings(ANYUAN_IMPORT_MAX_PROBLEMS=3)
def test_a_refused_background_import_lists_and_offers_its_problems(place, background):
    c = client_for(place.admin1)
    rows = [person_row(place, i, id_number=bad_id(i)) for i in range(1, 6)]
    rows.append(person_row(place, 6, name='=HYPERLINK("http://x","y")', id_number=bad_id(6)))
    r = upload(c, csv_bytes(PEOPLE_HEADER, rows), dry_run="1")
    job = ImportJob.objects.get()
    assert jobs.run(job.pk)
    job.refresh_from_db()
    assert job.state == "refused" and job.result["more_problems"] == 3
    page = c.get(r["Location"]).content.decode()
    assert "was refused" in page and "… and 3 more problems" in page
    csv_text = b"".join(c.get(f"/registry/import-jobs/{job.pk}/problems.csv").streaming_content)
    lines = csv_text.decode("utf-8-sig").splitlines()
    assert lines[0] == "Line,Column,Value,Problem" and len(lines) == 1 + 3 + 1
    assert "3 more problems" in lines[-1]
    assert not m.Person.objects.exists()


def test_an_interrupted_job_says_so_and_the_command_runs_waiting_ones(place, background):
    c = client_for(place.admin1)
    upload(c, csv_bytes(PEOPLE_HEADER, [person_row(place, 1)]))
    waiting = ImportJob.objects.get()
    stale = ImportJob.objects.create(
        user=place.admin1, kind="people", filename="old.csv", state="running",
        heartbeat=timezone.now() - dt.timedelta(minutes=11),
    )  # fmt: skip
    page = c.get(f"/registry/import-jobs/{stale.pk}/").content.decode()
    assert "stopped without finishing" in page and "hx-trigger" not in page
    call_command("import_jobs", stdout=io.StringIO())
    waiting.refresh_from_db()
    assert waiting.state == "done" and m.Person.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_background_thread_imports_and_reports(place, settings):
    """The real thing: a thread of the process runs the job (its own connection)."""
    settings.ANYUAN_IMPORT_BACKGROUND_BYTES = 0
    p = place
    c = client_for(p.admin1)
    r = upload(c, csv_bytes(PEOPLE_HEADER, [person_row(p, i) for i in range(1, 4)]))
    assert r.status_code == 303
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = ImportJob.objects.get()
        if job.state not in job.OPEN:
            break
        time.sleep(0.1)
    assert job.state == "done", job.result
    assert m.Person.objects.count() == 3


def _with_doctype(data: bytes, doctype: bytes) -> bytes:
    """The workbook with ``doctype`` declared at the top of its first sheet, and the
    entity ``a`` in place of a cell's text."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            part = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                head, sep, rest = part.partition(b"?>")
                part = head + sep + doctype + rest.replace(b"<t>1</t>", b"<t>&a;</t>", 1)
            target.writestr(info, part)
    return out.getvalue()


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE w [<!ENTITY b "laugh"><!ENTITY a "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
        b'<!DOCTYPE w [<!ENTITY a SYSTEM "file:///etc/hostname">]>',
    ],
    ids=["entity expansion", "external entity"],
)
def test_a_workbook_declaring_entities_is_refused(place, doctype):
    """XLSX parts are parsed with defusedxml (openpyxl uses it when it is installed): an
    entity declaration — the seed of a billion laughs or of an external-entity read — makes
    the file unreadable instead of being expanded into the rows."""
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML
    data = xlsx_bytes(PEOPLE_HEADER, [person_row(place, 1)])
    assert run("people", data, "p.xlsx").ok  # the same workbook without the declaration
    result = run("people", _with_doctype(data, doctype), "p.xlsx")
    assert not result.ok
    assert [p.message for p in result.problems] == ["Not a valid XLSX file."]
