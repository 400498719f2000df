"""The first run is Chinese: on a fresh clone (no ``.mo`` compiled yet) the catalogue
``anyuan demo`` compiles is the one its pages are served with — by the process that
compiled it (which had already read the catalogues once) and by every new process."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings

# Run in a process of its own, with settings whose LOCALE_PATHS is a copy of the
# catalogue without its .mo (a fresh clone).
SCRIPT = textwrap.dedent(
    """
    import re, sys
    import django
    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse
    from django.utils import translation

    def heading():
        response = Client().get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200, response.status_code
        return re.search(r"<h2>(.*?)</h2>", response.content.decode()).group(1).strip()

    if sys.argv[1] == "compile":
        # what a process has translated before the catalogue exists: English, kept
        with translation.override("zh-hans"):
            print("before:", translation.gettext("Sign in"))
        call_command("compiletranslations", verbosity=0)  # the demo's first step
    print("heading:", heading())
    """
)


@pytest.fixture
def fresh_clone(tmp_path):
    locale = tmp_path / "locale"
    source = Path(settings.LOCALE_PATHS[0])
    shutil.copytree(source, locale, ignore=shutil.ignore_patterns("*.mo"))
    assert list(locale.rglob("*.po")) and not list(locale.rglob("*.mo"))
    (tmp_path / "fresh_settings.py").write_text(
        f"from anyuan.settings import *  # noqa\nLOCALE_PATHS = [{str(locale)!r}]\n",
        encoding="utf-8",
    )
    (tmp_path / "first_run.py").write_text(SCRIPT, encoding="utf-8")
    return tmp_path


def run(tmp_path, step: str) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fresh_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
        "ANYUAN_VAR": str(tmp_path / "var"),
    }
    done = subprocess.run(  # noqa: S603 — our own interpreter and script
        [sys.executable, str(tmp_path / "first_run.py"), step],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_first_run_is_served_in_chinese(fresh_clone):
    out = run(fresh_clone, "compile")
    assert "before: Sign in" in out  # the process had read the catalogue without a .mo
    assert list((fresh_clone / "locale").rglob("django.mo"))
    assert "heading: 登录" in out  # ... and serves the compiled one all the same
    assert "heading: 登录" in run(fresh_clone, "serve")  # a new process (the web server)
