"""The pages on a phone (390 × 844): no sideways scrolling, and the menu works."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def test_the_alert_queue_and_the_muster_list_fit_a_phone(stack, strangers, open_page, shot):
    page = open_page("police_officer", **PHONE)
    zone = stack.facts["own"]["zone"]["id"]
    for name, path in [
        ("alerts", reverse("alerts:alert-list")),
        ("muster", reverse("events:muster", args=[zone])),
    ]:
        page.goto(path)
        expect(page.locator("#main table.objects tbody tr").first).to_be_visible()
        width, screen = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        shot(page, f"phone-{name}")
        assert width <= screen, f"{path}: {width} px wide on a {screen} px screen"

    # the menu: behind its button, which opens it; a link in it leads on
    occupancy = reverse("events:occupancy")
    menu = page.locator("nav.sidebar")
    expect(menu).to_be_hidden()
    page.locator("label.nav-button").tap()
    expect(menu).to_be_visible()
    shot(page, "phone-menu")
    menu.locator(f'a[href="{occupancy}"]').tap()
    page.wait_for_url(f"**{occupancy}")
    expect(menu).to_be_hidden()
    width, screen = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= screen, f"{occupancy}: {width} px wide on a {screen} px screen"
