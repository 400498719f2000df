"""The pages pass their Content-Security-Policy in a real browser (settings.py,
``CONTENT_SECURITY_POLICY``): the main pages of a police administrator and of an
enterprise's security staff — the dashboard with its charts, the alert queue, a person,
disputes, incidents, tracing, the API docs — open, draw and answer a hover with no
violation reported (the ``securitypolicyviolation`` event, or Chromium's console message)
and no uncaught error (``open_page`` fails the test on those)."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}` +
                ` at ${e.sourceFile || document.location.pathname}:${e.lineNumber}`);
});
"""


def watched(open_page, username):
    """A signed-in page whose console is read for policy violations."""
    page = open_page(username)
    page.context.add_init_script(REPORT_VIOLATIONS)
    violations = []

    def on_console(message):
        text = message.text
        if "Content Security Policy" in text or text.startswith("CSP violation"):
            violations.append(f"{page.url}: {text}")

    page.on("console", on_console)
    return page, violations


def visit(page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and response.status)
    assert response.headers.get("content-security-policy"), path
    page.wait_for_load_state("load")
    # charts: hover the first one so that ECharts draws its tooltip too
    canvas = page.locator("canvas").first
    if canvas.count():
        canvas.wait_for(state="visible")
        box = canvas.bounding_box()
        if box:
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(600)  # deferred scripts, first htmx and live requests


def first_link(page, pattern: str) -> str:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map((e) => e.getAttribute('href'))")
    for href in hrefs:
        if re.fullmatch(pattern, href or ""):
            return href
    raise AssertionError(f"{page.url}: no link like {pattern}")


def test_police_pages_pass_the_policy(stack, open_page, shot):
    page, violations = watched(open_page, "police_admin")
    visit(page, reverse("dashboard:index"))
    expect(page.locator("#chart-map canvas")).to_have_count(1)  # the charts are drawn
    shot(page, "csp-dashboard")
    visit(page, reverse("alerts:alert-list"))
    visit(page, reverse("registry:person-list"))
    visit(page, first_link(page, r"/registry/person/\d+/"))
    visit(page, reverse("disputes:case-list"))
    visit(page, first_link(page, r"/disputes/\d+/"))
    visit(page, reverse("disputes:stats"))
    visit(page, reverse("incidents:incident-list"))
    visit(page, reverse("incidents:stats"))
    expect(page.locator("#incident-chart canvas")).to_have_count(1)
    visit(page, reverse("tracing:index"))
    visit(page, "/api/v1/docs")
    expect(page.locator("#swagger-ui .opblock").first).to_be_visible()  # swagger-ui ran
    shot(page, "csp-api-docs")
    # the language switch (an inline handler before): still submits, from anyuan.js
    visit(page, reverse("home"))
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.select_option("select[name=language]", "zh-hans")
    assert violations == []


def test_enterprise_security_pages_pass_the_policy(stack, open_page, shot):
    page, violations = watched(open_page, "enterprise_security")
    visit(page, reverse("dashboard:index"))
    expect(page.locator("canvas").first).to_be_visible()
    visit(page, reverse("alerts:alert-list"))
    visit(page, reverse("registry:person-list"))
    visit(page, first_link(page, r"/registry/person/\d+/"))
    shot(page, "csp-person")
    # a list filter submits its form on change (an inline handler before)
    visit(page, reverse("registry:person-list"))
    select = page.locator("select[data-autosubmit]").first
    if select.count():
        with page.expect_navigation():
            select.select_option(index=1)
    assert violations == []
