"""No service may stay dead: ``anyuan site`` supervises the web server, the processor and
the scheduler (``anyuan.core.supervisor``). Tiny stand-in children keep these
tests fast."""

import datetime as dt
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from anyuan.core import supervisor as sv
from anyuan.core.management.commands import site
from anyuan.core.roles import Role
from anyuan.core.supervisor import ON_FAILURE, Service, Supervisor, read_state

PY = sys.executable
SLEEP = [PY, "-c", "import time; time.sleep(60)"]
DEAF = [  # ignores SIGTERM
    PY, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)",
]  # fmt: skip
FORKS = [  # starts a child of its own and says its pid
    PY, "-c",
    "import subprocess, sys, time; "
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    "print(p.pid, flush=True); time.sleep(60)",
]  # fmt: skip


def until(predicate, supervisor=None, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor is not None:
            supervisor.tick()
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


def delays(log: str, name: str) -> list[float]:
    return [float(d) for d in re.findall(rf"{name} exited .*?again in ([\d.]+) s", log)]


def test_a_child_that_dies_is_started_again_with_growing_back_off(tmp_path):
    out = io.StringIO()
    flaky = Service("flaky", [PY, "-c", "print('working', flush=True); raise SystemExit(3)"])
    sup = Supervisor(
        [flaky], state_file=tmp_path / "site.json", backoff=0.05, backoff_max=0.2,
        reset_after=30, poll=0.01, out=out,
    )  # fmt: skip
    sup.start_all()
    until(lambda: sup.states["flaky"].restarts >= 4, sup)
    while_running = read_state(tmp_path / "site.json")
    sup.stop()
    log = out.getvalue()
    assert delays(log, "flaky")[:4] == [0.05, 0.1, 0.2, 0.2]  # doubling, capped
    assert "flaky exited (code 3)" in log
    assert len(re.findall(r"flaky started \(pid \d+\)", log)) >= 5
    assert "flaky     | working" in log  # its output, prefixed with its name
    (flaky_state,) = while_running["services"]
    assert flaky_state["restarts"] >= 4 and flaky_state["last_exit"] == 3
    assert flaky_state["state"] in ("running", "backoff")
    assert while_running["supervisor"]["state"] == "running"
    state = json.loads((tmp_path / "site.json").read_text())
    assert state["services"][0]["state"] == "stopped" and state["supervisor"]["state"] == "stopped"


def test_a_child_that_stayed_up_starts_over_at_the_first_delay(tmp_path):
    out = io.StringIO()
    steady = Service("steady", [PY, "-c", "import time; time.sleep(0.3); raise SystemExit(1)"])
    sup = Supervisor([steady], backoff=0.05, backoff_max=5, reset_after=0.2, poll=0.01, out=out)
    sup.start_all()
    until(lambda: sup.states["steady"].restarts >= 3, sup)
    sup.stop()
    assert delays(out.getvalue(), "steady")[:3] == [0.05, 0.05, 0.05]


def test_a_job_that_ends_well_is_not_started_again(tmp_path):
    out = io.StringIO()
    job = Service("job", [PY, "-c", "pass"], ON_FAILURE)
    sup = Supervisor([job], backoff=0.01, poll=0.01, out=out)
    sup.start_all()
    until(lambda: sup.states["job"].state == sv.DONE, sup)
    time.sleep(0.1)
    sup.tick()
    assert sup.states["job"].restarts == 0 and "job finished (exit code 0)" in out.getvalue()
    sup.stop()


def test_stop_ends_every_child_and_what_it_started(tmp_path):
    out = io.StringIO()
    forks_log = tmp_path / "forks.log"
    sup = Supervisor(
        [Service("sleeper", SLEEP), Service("deaf", DEAF), Service("forks", FORKS, log=forks_log)],
        state_file=tmp_path / "site.json", stop_timeout=1.0, poll=0.01, out=out,
    )  # fmt: skip
    sup.start_all()
    until(lambda: forks_log.exists() and forks_log.read_text().strip().isdigit())
    until(lambda: "deaf      | ready" in out.getvalue())
    grandchild = int(forks_log.read_text())
    pids = {name: state.pid for name, state in sup.states.items()}
    procs = dict(sup.procs)
    assert all(alive(pid) for pid in [*pids.values(), grandchild])

    sup.stop()

    assert procs["sleeper"].returncode == -signal.SIGTERM
    assert procs["deaf"].returncode == -signal.SIGKILL  # after stop_timeout
    until(lambda: not any(alive(pid) for pid in [*pids.values(), grandchild]), timeout=5)
    assert "deaf did not stop in 1 s: killed" in out.getvalue()
    state = json.loads((tmp_path / "site.json").read_text())
    assert {s["state"] for s in state["services"]} == {"stopped"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_site_cleanly(tmp_path, sig):
    """What systemd (SIGTERM) and Ctrl+C (SIGINT) do to ``anyuan site``."""
    state_file = tmp_path / "site.json"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from anyuan.core.supervisor import Service, Supervisor\n"
        f"sleep = {SLEEP!r}\n"
        "Supervisor([Service('a', sleep), Service('b', sleep)],"
        " state_file=Path(sys.argv[1]), poll=0.02, stop_timeout=5).run()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(  # noqa: S603
        [PY, "-c", script, str(state_file)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:

        def running():
            state = read_state(state_file)
            return state and all(s["state"] == "running" for s in state["services"])

        until(running)
        pids = [s["pid"] for s in read_state(state_file)["services"]]
        assert all(alive(pid) for pid in pids)
        proc.send_signal(sig)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    until(lambda: not any(alive(pid) for pid in pids), timeout=5)
    state = read_state(state_file)
    assert state["supervisor"]["state"] == "stopped" and not state["supervisor"]["stale"]
    assert [s["state"] for s in state["services"]] == ["stopped", "stopped"]
    assert "a stopped (exit -15)" in proc.stdout.read()


def test_the_site_runs_the_web_server_the_processor_and_the_scheduler(monkeypatch):
    ran = []
    monkeypatch.setattr(site, "run", lambda services, **kw: ran.append((services, kw)))
    call_command("site", "--port", "8123")
    ((services, options),) = ran
    lines = {s.name: Supervisor.command(s) for s in services}
    assert lines == {
        "web": "anyuan serve --host 127.0.0.1 --port 8123 --workers 1",
        "process": "anyuan process",  # loops by itself
        "scheduler": "anyuan scheduler",  # escalation, time limits, pruning: its jobs
    }
    assert {s.restart for s in services} == {sv.ALWAYS} and options["backoff_max"] == 60
    ran.clear()
    call_command("site", "--without", "process", "--without", "web")
    assert [s.name for s in ran[0][0]] == ["scheduler"]


def test_a_supervisor_gone_silent_is_stale(tmp_path):
    sup = Supervisor([Service("process", SLEEP)], state_file=tmp_path / "site.json", heartbeat=5)
    sup.write_state(force=True)
    now = dt.datetime.now(dt.UTC)
    assert read_state(tmp_path / "site.json", now)["supervisor"]["stale"] is False
    later = read_state(tmp_path / "site.json", now + dt.timedelta(seconds=16))
    assert later["supervisor"]["stale"] is True and later["supervisor"]["silent_s"] >= 15
    assert read_state(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert read_state(tmp_path / "bad.json") is None
    assert (tmp_path / "site.json").stat().st_mode & 0o077 == 0  # the owner's only


def test_the_state_shows_to_the_police_administrator_only(world, tmp_path, settings):
    state_file = tmp_path / "site.json"
    settings.ANYUAN_SITE_STATE = str(state_file)
    marker = "SITE-STATE-MARKER"
    sup = Supervisor(
        [Service("process", [PY, "-c", "raise SystemExit(7)", marker])],
        state_file=state_file, backoff=30, poll=0.01, out=io.StringIO(),
    )  # fmt: skip
    sup.start_all()
    until(lambda: sup.states["process"].state == sv.BACKOFF, sup)
    try:
        client = Client()
        client.force_login(world.users[Role.POLICE_ADMIN])
        page = client.get("/events/devices/").content.decode()
        assert 'class="site-services"' in page and marker in page
        assert 'class="service-backoff"' in page  # backing off after its exit
        assert re.search(r">\s*\S*\s*7\s*<small", page)  # the last exit code
        for role in (Role.POLICE_OFFICER, Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_SECURITY):
            client.force_login(world.users[role])
            page = client.get("/events/devices/")
            assert page.status_code == 200  # they see their devices, not the services
            text = page.content.decode()
            assert "site-services" not in text and marker not in text
    finally:
        sup.stop()
    # no supervisor here: the police administrator is told so
    settings.ANYUAN_SITE_STATE = str(Path(tmp_path) / "none.json")
    client.force_login(world.users[Role.POLICE_ADMIN])
    page = client.get("/events/devices/").content.decode()
    assert 'class="site-services"' in page and "anyuan site" in page
