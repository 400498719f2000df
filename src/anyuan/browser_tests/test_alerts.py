"""The alert queue in the browser: a new alert arrives without a reload and is
acknowledged with one click (police); an enterprise sees only its own alerts and zones."""

from urllib.parse import urlencode, urlsplit

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from anyuan.browser_tests.harness import new_face, reload_until

pytestmark = pytest.mark.browser

ROWS = "#object-table a.row-link"


def searched(path: str, q: str) -> str:
    return f"{path}?{urlencode({'q': q})}"


def is_live_stream(response) -> bool:
    return urlsplit(response.url).path == "/live/events" and response.status == 200


def test_a_new_alert_appears_live_and_is_acknowledged_with_one_click(
    stack, strangers, open_page, shot
):
    page = open_page("police_officer")
    queue = reverse("alerts:alert-list")
    reload_until(page, queue, lambda p: p.locator(ROWS).count() > 0)
    shot(page, "alerts-police-queue")

    # the queue searched for a face not seen yet: empty, and its live stream connected
    face = new_face()
    page.fill("#main input[name=q]", face)
    with page.expect_response(is_live_stream):
        page.press("#main input[name=q]", "Enter")
    assert urlsplit(page.url).query == urlencode({"q": face})
    expect(page.locator("#object-table .empty-row")).to_be_visible()
    count_line = page.locator("#object-count").inner_text()
    page.evaluate("window.anyuanBrowserTest = 'not reloaded'")

    # the face at a door: the processor raises a stranger alert, the push brings it
    stack.stranger(stack.facts["own"]["serial"], face)
    row = page.locator(ROWS)
    expect(row).to_have_count(1)
    expect(page.locator("#object-count")).not_to_have_text(count_line)  # the count follows
    assert page.evaluate("window.anyuanBrowserTest") == "not reloaded"
    alert = row.get_attribute("href")
    assert alert.startswith(queue)
    expect(page.locator(f'.live-toast a.live-toast-title[href="{alert}"]')).to_be_visible()
    shot(page, "alerts-police-new-alert-live")

    # open it; one click acknowledges it
    row.click()
    page.wait_for_url(f"**{alert}")
    expect(page.locator("#field-state .badge.v-new")).to_be_visible()
    steps = page.locator("#alert .timeline li")
    before = steps.count()
    acknowledge = page.locator("#alert form:has(input[name=step][value=acknowledge]) button")
    acknowledge.click()
    expect(page.locator("#field-state .badge.v-acknowledged")).to_be_visible()
    expect(page.locator("#field-state .badge.v-new")).to_have_count(0)
    expect(acknowledge).to_have_count(0)
    expect(steps).to_have_count(before + 1)
    shot(page, "alerts-police-acknowledged")
    page.reload()  # stored, not only shown
    expect(page.locator("#field-state .badge.v-acknowledged")).to_be_visible()


def test_an_enterprise_sees_only_its_own_alerts_and_zones(stack, strangers, open_page, shot):
    own, other = stack.facts["own"], stack.facts["other"]
    queue = reverse("alerts:alert-list")
    zones = reverse("registry:zone-list")
    other_zone = reverse("registry:zone-detail", args=[other["zone"]["id"]])
    other_muster = reverse("events:muster", args=[other["zone"]["id"]])
    own_zone = reverse("registry:zone-detail", args=[own["zone"]["id"]])

    # the other enterprise's alert and zone exist: the police see them
    police = open_page("police_officer")
    reload_until(police, searched(queue, strangers.other), lambda p: p.locator(ROWS).count() == 1)
    other_alert = police.locator(ROWS).get_attribute("href")
    assert police.goto(other_alert).status == 200
    assert police.goto(other_zone).status == 200

    # the enterprise administrator sees its own alert and zone ...
    admin = open_page("enterprise_admin")
    reload_until(admin, searched(queue, strangers.own), lambda p: p.locator(ROWS).count() == 1)
    admin.goto(searched(zones, own["zone"]["name"]))
    expect(admin.locator(f'{ROWS}[href="{own_zone}"]')).to_have_count(1)

    # ... and not the other enterprise's: not in its lists, and their pages are 404s
    admin.goto(searched(queue, strangers.other))
    expect(admin.locator("#object-table .empty-row")).to_be_visible()
    expect(admin.locator(ROWS)).to_have_count(0)
    admin.goto(queue)
    expect(admin.locator(ROWS).first).to_be_visible()
    expect(admin.locator(f'a[href="{other_alert}"]')).to_have_count(0)
    admin.goto(searched(zones, other["zone"]["name"]))
    expect(admin.locator(f'a[href="{other_zone}"]')).to_have_count(0)
    admin.goto(zones)
    expect(admin.locator(f'a[href="{other_zone}"]')).to_have_count(0)
    for path in (other_alert, other_zone, other_muster):
        assert admin.goto(path).status == 404, path
    shot(admin, "scoping-enterprise-admin-404")
