"""Headers and cookies: the Content-Security-Policy on every page, the templates that keep
to it, and the one deployment switch (``ANYUAN_TLS=1``) for a site behind a TLS proxy.
The pages passing the policy in a real browser: browser_tests/test_csp.py."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.template import engines
from django.test import Client

import anyuan
from anyuan.core.roles import Role


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


@pytest.mark.parametrize("path", ["/overview/", "/dashboard/", "/registry/person/"])
def test_every_page_carries_a_strict_policy(world, path):
    client = Client()
    client.force_login(world.users[Role.POLICE_ADMIN])
    r = client.get(path)
    assert r.status_code == 200
    csp = policy(r)
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    for directive in ("script-src", "style-src"):
        assert "'self'" in csp[directive]
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"} & set(
            csp[directive]
        ), directive
    assert "script-src-attr" not in csp  # no on...= attribute runs


def template_files() -> list[Path]:
    dirs = [Path(d) for d in engines["django"].engine.dirs]
    dirs += sorted(Path(anyuan.__file__).parent.glob("*/templates"))
    return sorted({f for d in dirs for f in d.rglob("*.html")})


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*\bnonce=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b(?![^>]*\bnonce=)[^>]*>", re.I)
EVENT_ATTRIBUTE = re.compile(r"<[a-z][^>]*\s(on[a-z]+|hx-on[:\-][\w:-]*)\s*=", re.I)


def test_no_template_has_inline_script_style_or_handlers():
    """What the policy would refuse, caught before a browser sees it: a <script> or <style>
    element without the nonce, or an on...= (or hx-on) attribute."""
    files = template_files()
    assert len(files) > 50
    problems = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        for pattern, what in ((INLINE_SCRIPT, "inline <script>"), (INLINE_STYLE, "<style>"),
                              (EVENT_ATTRIBUTE, "event attribute")):  # fmt: skip
            problems += [f"{f.name}: {what}: {m.group(0)[:60]}" for m in pattern.finditer(text)]
    assert problems == []


def test_the_scan_would_see_them():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/a.js" defer></script>')
    assert not INLINE_SCRIPT.search('<script nonce="{{ CSP_NONCE }}">x()</script>')
    assert INLINE_STYLE.search("<style>body{}</style>")
    assert EVENT_ATTRIBUTE.search('<select name="x" onchange="this.form.submit()">')
    assert not EVENT_ATTRIBUTE.search('<select name="x" data-autosubmit>')


def test_a_nonce_written_in_a_template_is_in_the_policy(rf):
    """The way to add an inline script when one is unavoidable."""
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse
    from django.template import RequestContext, Template

    request = rf.get("/")

    def view(request):
        page = Template('<script nonce="{{ CSP_NONCE }}">go()</script>')
        return HttpResponse(page.render(RequestContext(request)))

    response = CSPMiddleware(view)(request)
    nonce = re.search(r'nonce="([^"]+)"', response.content.decode()).group(1)
    assert f"'nonce-{nonce}'" in policy(response)["script-src"]


SETTINGS_PROBE = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anyuan.settings")
import django
django.setup()
from django.conf import settings
from django.test import Client
plain = Client().get("/accounts/login/")
secure = Client().get("/accounts/login/", headers={"X-Forwarded-Proto": "https"})
cookie = secure.cookies.get("csrftoken")
print(json.dumps({
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_secure": settings.CSRF_COOKIE_SECURE,
    "proxy_header": settings.SECURE_PROXY_SSL_HEADER,
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location"),
    "secure_status": secure.status_code,
    "hsts": secure.get("Strict-Transport-Security"),
    "cookie_secure": bool(cookie and cookie["secure"]),
}))
"""


def probe(tmp_path, **env) -> dict:
    """The settings and two requests in a fresh process with ``env`` (settings are read
    once, at start-up, as a deployment reads them)."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(("ANYUAN_TLS", "DJANGO_"))}
    child.update(ANYUAN_VAR=str(tmp_path / "var"), **env)
    child["PYTHONPATH"] = os.pathsep.join([str(Path(anyuan.__file__).parent.parent), *sys.path])
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", SETTINGS_PROBE], env=child, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_tls_switches_on_secure_cookies_hsts_and_https_only(tmp_path):
    on = probe(tmp_path, ANYUAN_TLS="1")
    assert on["session_secure"] and on["csrf_secure"] and on["cookie_secure"]
    assert on["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert on["plain_status"] == 301
    assert on["plain_location"].startswith("https://")
    assert on["secure_status"] == 200
    assert on["hsts"] == "max-age=31536000"


def test_the_local_demo_stays_on_plain_http(tmp_path):
    off = probe(tmp_path)
    assert not (off["session_secure"] or off["csrf_secure"] or off["cookie_secure"])
    assert off["proxy_header"] is None
    assert off["plain_status"] == 200
    assert off["hsts"] is None
    assert settings.SESSION_COOKIE_SECURE is False  # the test settings are the demo's
