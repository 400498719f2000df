"""The smart dashboard in the browser: live numbers that change as the simulated park
lives, a new alert that arrives without a reload (flashing: it is high severity) and is
acknowledged with one click, the police's grid and enterprise filters, an enterprise's
own board, the wall screen, and the phone layout."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from anyuan.browser_tests.harness import new_face

pytestmark = pytest.mark.browser

KPIS = ("people", "passages", "alerts", "devices")
ALERTS_API = "/api/v1/alerts"
NOT_RELOADED = "window.anyuanBrowserTest = 'not reloaded'"


def kpis(page) -> dict[str, str]:
    return {k: page.locator(f"#kpi-{k} [data-value]").inner_text() for k in KPIS}


def loaded(page) -> None:
    """Every panel has its first answer: no placeholder left, no error shown."""
    for k in KPIS:
        expect(page.locator(f"#kpi-{k} [data-value]")).not_to_have_text("–")
    expect(page.locator("#feed > li").first).to_be_visible()
    expect(page.locator("#chart-map canvas")).to_have_count(1)
    expect(page.locator("#zones-table tbody tr").first).to_be_visible()
    expect(page.locator(".panel-error")).to_have_count(0)


def alert_id(page, face: str) -> int | None:
    """The id of the open alert for ``face``, through the API with the page's session."""
    answer = page.request.get(f"{ALERTS_API}?type=stranger&limit=200")
    assert answer.ok, answer.status
    for row in answer.json()["items"]:
        if row.get("credential") == face:
            return row["id"]
    return None


def test_the_dashboard_shows_live_numbers_that_change_as_events_arrive(stack, open_page, shot):
    page = open_page("police_officer")
    page.goto(reverse("dashboard:index"))
    loaded(page)
    page.evaluate(NOT_RELOADED)
    first = kpis(page)
    shot(page, "dashboard-police")
    # the simulator keeps sending: the people inside or the passages today move, pushed
    # live (anyuan:occupancy) — no reload
    page.wait_for_function(
        """(first) => ["people", "passages"].some(
             (k) => document.querySelector(`#kpi-${k} [data-value]`).textContent !== first[k])""",
        arg=first,
        timeout=90_000,
    )
    assert page.evaluate("window.anyuanBrowserTest") == "not reloaded"
    shot(page, "dashboard-police-later")
    stack.check()


def test_a_new_alert_flashes_on_the_dashboard_and_is_acknowledged_with_one_click(
    stack, open_page, shot
):
    page = open_page("police_officer")
    page.goto(reverse("dashboard:index"))
    loaded(page)
    page.evaluate(NOT_RELOADED)
    flashes = int(page.locator("#dashboard").get_attribute("data-flashes") or 0)

    face = new_face()
    stack.stranger(stack.facts["own"]["serial"], face)  # a stranger: high severity
    pk = None
    for _ in range(60):
        pk = alert_id(page, face)
        if pk:
            break
        page.wait_for_timeout(500)
    assert pk, "the processor raised no alert for the stranger"
    item = page.locator(f'#feed > li[data-alert="{pk}"]')
    expect(item).to_be_visible()
    expect(item).to_have_class(re.compile(r"\bsev-high\b.*\bis-new\b"))
    expect(page.locator("#dashboard")).to_have_attribute("data-flashes", str(flashes + 1))
    assert page.evaluate("window.anyuanBrowserTest") == "not reloaded"
    shot(page, "dashboard-new-alert")

    item.locator("button.ack").click()
    expect(item.locator("button.ack")).to_have_count(0)
    expect(item.locator(".state")).to_have_text("已确认")
    answer = page.request.get(f"{ALERTS_API}/{pk}")
    assert answer.json()["state"] == "acknowledged"
    shot(page, "dashboard-acknowledged")


def test_the_police_filter_by_enterprise_and_an_enterprise_sees_its_own(stack, open_page, shot):
    own, other = stack.facts["own"], stack.facts["other"]
    own_face, other_face = new_face(), new_face()
    stack.stranger(own["serial"], own_face)
    stack.stranger(other["serial"], other_face)

    police = open_page("police_officer")
    police.goto(reverse("dashboard:index"))
    loaded(police)
    for _ in range(60):
        other_pk, own_pk = alert_id(police, other_face), alert_id(police, own_face)
        if other_pk and own_pk:
            break
        police.wait_for_timeout(500)
    assert other_pk and own_pk
    police.reload()
    expect(police.locator(f'#feed > li[data-alert="{other_pk}"]')).to_be_visible()
    # narrowed to the enterprise administrator's enterprise: the other's alert goes
    police.select_option("#filter-enterprise", str(own["enterprise"]["id"]))
    expect(police.locator(f'#feed > li[data-alert="{other_pk}"]')).to_have_count(0)
    expect(police.locator(f'#feed > li[data-alert="{own_pk}"]')).to_be_visible()
    assert f"enterprise={own['enterprise']['id']}" in police.url
    shot(police, "dashboard-police-filtered")

    admin = open_page("enterprise_admin")
    admin.goto(reverse("dashboard:index"))
    loaded(admin)
    expect(admin.locator(f'#feed > li[data-alert="{own_pk}"]')).to_be_visible()
    expect(admin.locator(f'#feed > li[data-alert="{other_pk}"]')).to_have_count(0)
    expect(admin.locator("#filter-enterprise")).to_have_count(0)  # no filters to pick
    names = " ".join(admin.locator("#zones-table tbody").all_inner_texts())
    assert other["zone"]["name"] not in names
    # the other enterprise's numbers are not reachable through the API either
    refused = admin.request.get(
        reverse("api-v1:dashboard_occupancy") + f"?enterprise={other['enterprise']['id']}"
    )
    assert refused.status == 422
    shot(admin, "dashboard-enterprise")


def test_the_wall_screen_and_the_phone_layout(stack, open_page, shot):
    wall = open_page("police_admin", viewport={"width": 1920, "height": 1080})
    wall.goto(reverse("dashboard:index") + "?wall=1")
    loaded(wall)
    expect(wall.locator("nav.sidebar")).to_have_count(0)  # full screen: no menu
    assert wall.evaluate("document.body.dataset.liveToasts") == "off"
    shot(wall, "dashboard-wall")

    phone = open_page("enterprise_security", viewport={"width": 390, "height": 844})
    phone.goto(reverse("dashboard:index"))
    loaded(phone)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone: {width}px"
    feed = phone.locator("#panel-feed").bounding_box()
    board = phone.locator("#panel-map").bounding_box()
    assert feed["y"] < board["y"], "on a phone the alert feed comes first"
    shot(phone, "dashboard-phone")
