"""The browser-test harness (docs/operations.md, "Browser tests").

Once per test run, for this package only (``scope="package"``: it is torn down after the
package's last test, so the rest of the suite runs without these processes and without
Playwright's event loop):

- ``stack``: a fresh ``ANYUAN_VAR`` in a temporary directory with the demo park, and the
  server, processor and live simulator running on it as children (``harness.py``);
- ``browser``: Debian's Chromium, ``/usr/bin/chromium``, headless, through Playwright's
  Python package. Never a downloaded browser: the project's browser is the distribution's
  (security updates from Debian, no binaries fetched at test time). Missing, the tests
  fail and say how to install it.

Each test opens pages with ``open_page(username)`` (a new browser context with that demo
user signed in through the sign-in page, with the code step for the accounts that need a
second factor, computed from the key ``anyuan demo`` gave them; once per user) and saves screenshots with
``shot(page, name)`` under ``var/test-artefacts/screenshots/``; a failed test also saves
every page it had open. A page may load nothing from another host (no CDN) and must raise
no uncaught JavaScript error.
"""

import contextlib
import os
import re
import tempfile
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from anyuan.browser_tests.harness import HarnessError, Stack, child_env
from anyuan.core.management.commands.demo import DEMO_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 15_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Uncaught errors known and reported, not yet fixed; every other one fails the test.
# live.js passes the payload it gave htmx.trigger (which adds ``elt``, the <body>) on to
# the other tabs: BroadcastChannel cannot clone an element, so other tabs get nothing.
KNOWN_ERRORS: list[re.Pattern] = []  # page errors to tolerate: none

# the Playwright package only drives a browser; it must never fetch one
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


def artefacts() -> Path:
    return Path(settings.VAR_DIR) / "test-artefacts"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, for the screenshots of a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def chromium() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"The browser tests need Debian's Chromium at {CHROMIUM}: "
            "`apt-get install -y chromium` (CI installs it). No other browser is used.",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="package")
def screenshots() -> Path:
    path = artefacts() / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path


@pytest.fixture(scope="package")
def stack(chromium):
    """The demo park served, processed and fed live; stopped after the package."""
    logs = artefacts() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="anyuan-browser-") as tmp:
        var = Path(tmp) / "var"
        park = Stack(var=var, logs=logs, env=child_env(var))
        try:
            park.set_up()
        except HarnessError as e:
            park.stop()
            pytest.fail(str(e), pytrace=False)
        try:
            yield park
        finally:
            park.stop()


@pytest.fixture(scope="package")
def strangers(stack) -> SimpleNamespace:
    """Two stranger alerts raised once: an unregistered face at a zone of the enterprise
    administrator's enterprise (``own``) and at one of another enterprise (``other``);
    each is the face id, which the alert queue's search finds."""
    return SimpleNamespace(
        own=stack.stranger(stack.facts["own"]["serial"]),
        other=stack.stranger(stack.facts["other"]["serial"]),
    )


@pytest.fixture(scope="package")
def browser(chromium, stack):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def signed_in(browser, stack):
    """username → the storage state (session cookie) of that demo user, signed in once
    through the sign-in page."""
    states = {}

    def state(username: str) -> dict:
        if username not in states:
            context = browser.new_context(base_url=stack.url)
            page = context.new_page()
            page.goto(reverse("accounts:login"))
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.press("input[name=password]", "Enter")
            landings = (reverse("dashboard:index"), reverse("home"))  # by role
            code_step = reverse("accounts:two-factor")
            try:
                page.wait_for_url(lambda url: urlsplit(url).path in (*landings, code_step))
                if urlsplit(page.url).path == code_step:
                    second_factor(page, stack.totp_secrets()[username], landings)
                page.wait_for_url(lambda url: urlsplit(url).path in landings)
            except (PlaywrightTimeout, KeyError):
                pytest.fail(f"{username} could not sign in: {page.url}", pytrace=False)
            states[username] = context.storage_state()
            context.close()
        return states[username]

    return state


def totp_now(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app with the base32 ``secret`` shows (RFC 6238)."""
    import base64
    import time

    from django_otp.oath import TOTP

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    totp = TOTP(key)
    totp.time = time.time() + steps_ahead * 30
    return f"{totp.token():06d}"


def second_factor(page, secret: str, landings) -> None:
    """The code step, as a person with the demo account's authenticator app goes through
    it (``anyuan demo`` prints the keys). A code is accepted once: when this account
    already used this 30-second step's code, the next step's is accepted too."""
    for steps_ahead in (0, 1):
        page.fill("input[name=code]", totp_now(secret, steps_ahead))
        with page.expect_navigation():
            page.press("input[name=code]", "Enter")
        if urlsplit(page.url).path in landings:
            return


@pytest.fixture
def shot(screenshots):
    def save(page, name: str) -> Path:
        path = screenshots / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return save


@pytest.fixture
def open_page(request, browser, stack, signed_in, screenshots):
    """``open_page(username=None, **context_options)`` → a page in a new context, in
    Chinese and Shanghai time like the park's users, with ``username`` signed in."""
    opened = []  # (context, page, uncaught errors, requests to other hosts)

    def open_(username: str | None = None, **options):
        context = browser.new_context(
            base_url=stack.url,
            storage_state=signed_in(username) if username else None,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            accept_downloads=True,
            **options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        errors, foreign = [], []
        context.on("request", lambda r: foreign.append(r.url) if _foreign(r.url) else None)
        page = context.new_page()
        page.on("pageerror", lambda e: _known(e) or errors.append(f"{page.url}: {e}"))
        opened.append((context, page, errors, foreign))
        return page

    yield open_

    failed = any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    problems = []
    for n, (context, page, errors, foreign) in enumerate(opened):
        if failed and not page.is_closed():
            with contextlib.suppress(PlaywrightError):  # a crashed page: the failure says it
                page.screenshot(path=screenshots / f"FAILED-{name}-{n}.png", full_page=True)
        problems += [f"JavaScript error: {e}" for e in errors]
        problems += [f"loaded from another host: {u}" for u in foreign]
        with contextlib.suppress(PlaywrightError):
            context.close()
    if problems and not failed:
        pytest.fail("\n".join(problems), pytrace=False)


def _known(error) -> bool:
    return any(known.search(str(error)) for known in KNOWN_ERRORS)


def _foreign(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS
