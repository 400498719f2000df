"""Translations: the Chinese catalogue is complete, compiles without GNU gettext, and the
pages are Chinese unless the user chose English (the browser's language does not count)."""

import os
import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation

import anyuan

PO = Path(anyuan.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.fixture
def compiled_translations():
    """The project's catalogues compiled, and Django's translation caches reloaded."""
    call_command("compiletranslations", verbosity=0)
    # changing LOCALE_PATHS makes Django drop the catalogues it has loaded
    with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):
        yield


def test_catalogue_is_complete():
    catalogue = polib.pofile(str(PO))
    assert len(catalogue) > 300
    untranslated = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert not untranslated, untranslated
    assert not fuzzy, fuzzy
    assert not catalogue.metadata_is_fuzzy
    for entry in catalogue:
        assert not entry.obsolete, entry.msgid
        if entry.msgid_plural:
            assert all(entry.msgstr_plural.values()), entry.msgid


def test_catalogue_keeps_every_placeholder():
    placeholder = re.compile(r"%(?:\(\w+\))?[sd]")
    for entry in polib.pofile(str(PO)):
        translated = entry.msgstr_plural[0] if entry.msgid_plural else entry.msgstr
        assert sorted(placeholder.findall(entry.msgid)) == sorted(
            placeholder.findall(translated)
        ), entry.msgid


def test_key_terms_are_translated_as_the_police_say_them():
    catalogue = {e.msgid: e.msgstr for e in polib.pofile(str(PO))}
    assert catalogue["police grid"] == "警格"
    assert catalogue["contact group"] == "包保联系小组"
    assert catalogue["informant"] == "信息员"
    assert catalogue["labour agency"] == "劳务派遣机构"
    assert catalogue["unified social credit code"] == "统一社会信用代码"
    assert catalogue["Reveal"] == "查看明文"
    assert catalogue["audit log"] == "审计日志"
    assert catalogue["Perimeter (周边)"] == "周边"


def test_compile_command_writes_catalogues_django_loads(tmp_path):
    locale = tmp_path / "locale"
    shutil.copytree(PO.parent.parent.parent, locale)
    mo = locale / "zh_Hans" / "LC_MESSAGES" / "django.mo"
    mo.unlink(missing_ok=True)
    with override_settings(LOCALE_PATHS=[locale]):
        call_command("compiletranslations", verbosity=0)
        assert mo.exists()
        assert len(polib.mofile(str(mo))) == len(polib.pofile(str(PO)).translated_entries())
        with translation.override("zh-hans"):
            assert translation.gettext("Sign in") == "登录"
            assert translation.gettext("police grid") == "警格"
        with translation.override("en"):
            assert translation.gettext("police grid") == "police grid"

        # up to date: left alone
        stamp = mo.stat().st_mtime_ns
        call_command("compiletranslations", verbosity=0)
        assert mo.stat().st_mtime_ns == stamp
        # a newer .po is compiled again
        po = mo.with_suffix(".po")
        catalogue = polib.pofile(str(po))
        catalogue.find("Sign in").msgstr = "登入"
        catalogue.save()
        future = stamp + 10**9
        os.utime(po, ns=(future, future))
        call_command("compiletranslations", verbosity=0)
        assert mo.stat().st_mtime_ns != stamp
        assert polib.mofile(str(mo)).find("Sign in").msgstr == "登入"


@pytest.mark.django_db
def test_pages_are_chinese_by_default(compiled_translations):
    page = Client().get("/accounts/login/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "登录" in text
    assert "平安园区" in text
    assert 'lang="zh-Hans"' in text
    assert "Sign in" not in text


@pytest.mark.django_db
def test_english_after_choosing_it(compiled_translations):
    client = Client()
    answer = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert answer.status_code == 302
    page = client.get("/accounts/login/")
    text = page.content.decode()
    assert "Sign in" in text
    assert "登录" not in text
    assert 'lang="en"' in text
    # and back
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "登录" in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
def test_browser_language_does_not_switch(compiled_translations):
    page = Client().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    text = page.content.decode()
    assert "登录" in text
    assert "Sign in" not in text
