"""The API fuzzing's figures, printed at the end of the run: ``make test`` runs pytest
without ``-s``, so a print inside the test would be captured and never shown."""

import pytest

FUZZ_RUNS = pytest.StashKey[list]()


@pytest.fixture
def fuzz_runs(request):
    """Where test_fuzz_api leaves one record per role for the summary."""
    return request.config.stash.setdefault(FUZZ_RUNS, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    runs = config.stash.get(FUZZ_RUNS, [])
    if not runs:
        return
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", "API fuzzing (schemathesis, core/tests/test_fuzz_api.py)")
    for run in runs:
        answers = ", ".join(f"{k} {v}" for k, v in sorted(run.statuses.items())) or "none"
        failures = len(run.failures) - len(run.tolerated)
        write(
            f"{run.role}: {run.operations} operations ({len(run.accepted)} answered 2xx), "
            f"{run.requests} requests ({answers}), {failures} failures"
            + (f" (+{len(run.tolerated)} awaiting a fix)" if run.tolerated else "")
            + f", {run.seconds:.0f} s of {run.budget:.0f} s, seed {run.seed}"
            + (f", only operations with {run.only!r} (ANYUAN_FUZZ_ONLY)" if run.only else "")
        )
        for operation, title, status in run.failures:
            known = " [awaiting a fix]" if (operation, title, status) in run.tolerated else ""
            write(f"  {status} {operation}: {title}{known}")
        for operation in sorted(run.fixed):
            write(f"  {operation}: did not fail; remove it from AWAITING_FIX if it is fixed")
