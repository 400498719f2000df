"""The muster list of a zone and its CSV download, in the browser."""

from pathlib import Path

import pytest
from django.urls import reverse

from anyuan.browser_tests.harness import reload_until
from anyuan.events.processor import MUSTER_COLUMNS

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
