"""Settings are declared once: every ``ANYUAN_*`` setting in settings.py with its default,
read as ``settings.ANYUAN_X`` (never ``getattr`` with a default of its own), and listed in
docs/operations.md ("Settings")."""

import ast
import re
from pathlib import Path

from django.conf import settings

import anyuan

PACKAGE = Path(anyuan.__file__).parent
DOCS = PACKAGE.parent.parent / "docs" / "operations.md"
NAME = re.compile(r"\bANYUAN_[A-Z0-9_]+\b")


def _modules():
    """The code of anyuan's modules (tests and the browser-test harness left out)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if "tests" in parts or "browser_tests" in parts or path.name == "conftest.py":
            continue
        yield path, path.read_text(encoding="utf-8")


def _is_settings(node) -> bool:
    if isinstance(node, ast.Name):
        return "settings" in node.id
    return isinstance(node, ast.Attribute) and node.attr == "settings"


def getattr_with_default(tree) -> list[int]:
    """Lines where a settings object is read through ``getattr(settings, name, default)``."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) == 3
        and _is_settings(node.args[0])
    ]


def documented() -> set[str]:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Settings") :]
    return set(re.findall(r"^\| `(ANYUAN_[A-Z0-9_]+)` \|", section, flags=re.M))


def test_the_check_sees_a_getattr_with_a_default():
    tree = ast.parse('x = getattr(settings, "ANYUAN_X", 3)\ny = getattr(django_settings, n, 1)')
    assert getattr_with_default(tree) == [1, 2]
    assert getattr_with_default(ast.parse("getattr(settings, 'ANYUAN_X')")) == []


def test_no_module_reads_a_setting_with_a_default_of_its_own():
    found = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path, text in _modules()
        for line in getattr_with_default(ast.parse(text))
    ]
    assert found == []


def test_every_setting_read_as_an_attribute_is_declared():
    read = {
        name
        for _, text in _modules()
        for name in re.findall(r"settings\.(ANYUAN_[A-Z0-9_]+)", text)
    }
    assert read
    assert sorted(n for n in read if not hasattr(settings, n)) == []


def test_every_name_in_the_code_is_in_the_docs_table():
    used = {name for _, text in _modules() for name in NAME.findall(text)}
    assert {"ANYUAN_LIVE_QUEUE", "ANYUAN_EXIT_HOLD_S", "ANYUAN_TLS"} <= used
    assert sorted(used - documented()) == []


def test_the_docs_table_names_only_what_exists():
    used = {name for _, text in _modules() for name in NAME.findall(text)}
    assert sorted(documented() - used) == []
