"""The muster list of a zone and its CSV and XLSX downloads, in the browser."""

import io
from pathlib import Path

import openpyxl
import pytest
from django.urls import reverse

from anyuan.browser_tests.harness import reload_until
from anyuan.events.queries import MUSTER_COLUMNS

pytestmark = pytest.mark.browser


def test_the_muster_list_downloads_as_csv(stack, open_page, shot):
    zone = stack.facts["own"]["zone"]["id"]
    face = stack.stranger(stack.facts["own"]["serial"])  # somebody inside for sure
    page = open_page("police_officer")
    muster = reverse("events:muster", args=[zone])
    reload_until(page, muster, lambda p: p.get_by_text(face, exact=True).count() > 0)
    shot(page, "muster")

    with page.expect_download() as started:
        page.locator(f'a[href="{reverse("events:muster-csv", args=[zone])}"]').click()
    download = started.value
    assert download.failure() is None
    assert download.suggested_filename.startswith(f"muster-{zone}-")
    assert download.suggested_filename.endswith(".csv")
    lines = Path(download.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == ",".join(MUSTER_COLUMNS)
    assert any(face in line for line in lines[1:])

    with page.expect_download() as started:
        page.locator(f'a[href="{reverse("events:muster-xlsx", args=[zone])}"]').click()
    download = started.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".xlsx")
    # the download is stored without an extension, which openpyxl insists on
    workbook = io.BytesIO(Path(download.path()).read_bytes())
    sheet = openpyxl.load_workbook(workbook, read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(MUSTER_COLUMNS)
    assert any(face in row for row in rows[1:])
