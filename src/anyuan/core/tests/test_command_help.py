"""Every anyuan management command answers ``--help`` (in Chinese and in English)."""

import argparse

import pytest
from django.core.management import get_commands, load_command_class
from django.utils import translation

ANYUAN_COMMANDS = sorted(
    (name, app) for name, app in get_commands().items() if app.startswith("anyuan.")
)


def test_the_anyuan_commands_are_found():
    names = {name for name, _ in ANYUAN_COMMANDS}
    assert {"import", "export", "rotate-keys", "demo", "site"} <= names


def _helps(parser: argparse.ArgumentParser):
    yield parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _helps(sub)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize(("name", "app"), ANYUAN_COMMANDS, ids=[n for n, _ in ANYUAN_COMMANDS])
def test_help_works(name, app, language):
    command = load_command_class(app, name)
    with translation.override(language):
        parser = command.create_parser("anyuan", name)
        texts = list(_helps(parser))
    assert texts[0].startswith(f"usage: anyuan {name}")
    assert all(isinstance(t, str) and t for t in texts)


def test_help_runs_through_call_command(capsys):
    from django.core.management import call_command

    with pytest.raises(SystemExit) as exit_:
        call_command("import", "--help")
    assert exit_.value.code == 0
    assert "--dry-run" in capsys.readouterr().out
