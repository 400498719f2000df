"""Benchmarks: ``anyuan bench NAME --out FILE.json`` prints figures and writes JSON.

Each benchmark is a module ``anyuan.bench.<name>`` with ``add_arguments(parser)`` and
``run(options) -> dict`` (the command adds ``wall_s`` and ``peak_rss_mb``). Figures, not
pass/fail: speed is never checked in timed tests.
"""

import os
import subprocess
import sys

# what a benchmark's child process must not inherit: it works on a scratch database
INHERIT_NOT = ("DATABASE_URL", "ANYUAN_DATA_KEY", "ANYUAN_VAR", "ANYUAN_DEBUG")


def child_env(var) -> dict[str, str]:
    """The environment of a benchmark's child process: its own ``ANYUAN_VAR`` (a fresh
    SQLite database and key), nothing of the configured database."""
    env = {k: v for k, v in os.environ.items() if k not in INHERIT_NOT}
    env["ANYUAN_VAR"] = str(var)
    env["DJANGO_SETTINGS_MODULE"] = "anyuan.settings"
    return env


def run_child(module: str, env: dict[str, str], *args, timeout: float | None = None) -> str:
    """Run ``python -m module args`` and return the last line it printed (its figures,
    as JSON); a failure is a ``ValueError`` carrying the end of its error output."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", module, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise ValueError(
            f"benchmark step {module} {' '.join(args[:1])} failed:\n{done.stderr[-4000:]}"
        )
    out = done.stdout.strip()
    return out.splitlines()[-1] if out else ""
