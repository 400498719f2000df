"""``anyuan simulate``: clear messages for wrong arguments, no overwriting by accident."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def run(*args, **kwargs):
    call_command("simulate", *args, no_progress=True, verbosity=0, **kwargs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "huge"], "invalid choice: 'huge'"),
        (["--days", "0"], "between 1 and 366"),
        (["--days", "many"], "not a whole number"),
        (["--seed", "-1"], "0 or more"),
        (["--start", "2026-02-30"], "not a date"),
        (["--live", "http://127.0.0.1:8000"], "needs --tokens FILE"),
        (["--speed", "0"], "--speed must be more than 0"),
    ],
)
def test_wrong_arguments_get_a_clear_message(tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args, "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out" / "registry").exists()


def test_refuses_a_non_empty_directory_unless_forced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CommandError, match="not empty"):
        run("--scale", "tiny", "--out", str(tmp_path))
    run("--scale", "tiny", "--registry-only", "--out", str(tmp_path), "--force")
    first = json.loads((tmp_path / "manifest.json").read_text())
    assert "events" not in first and (tmp_path / "registry" / "people.csv").exists()
    run("--scale", "tiny", "--days", "1", "--out", str(tmp_path), "--force", "--seed", "3")
    second = json.loads((tmp_path / "manifest.json").read_text())
    assert second["seed"] == 3 and second["events"]["passages"] > 0
    assert len(list((tmp_path / "events").glob("passages-*.parquet"))) == 1
    assert (tmp_path / "notes.txt").read_text() == "mine", "other files are left alone"


def test_an_output_path_that_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(CommandError, match="not a directory"):
        run("--scale", "tiny", "--out", str(target))
