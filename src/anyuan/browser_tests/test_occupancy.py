"""The occupancy page follows the live simulator's passages."""

import pytest
from django.urls import reverse

from anyuan.browser_tests.harness import reload_until

pytestmark = pytest.mark.browser


def counts(page) -> list[str]:
    return page.locator("#main table.objects tbody td.t-num").all_inner_texts()


def test_occupancy_changes_as_the_simulated_park_lives(stack, open_page, shot):
    page = open_page("police_officer")
    path = reverse("events:occupancy")
    page.goto(path)
    first = counts(page)
    assert first, "no zones on the occupancy page"
    shot(page, "occupancy-before")
    reload_until(page, path, lambda p: counts(p) != first, timeout_s=60, every_s=2)
    shot(page, "occupancy-after")
    stack.check()  # the simulator is still sending
