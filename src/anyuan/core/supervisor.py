"""Keeping a site's services running: the supervisor behind ``anyuan site``.

A :class:`Supervisor` starts each :class:`Service` as a child process (in its own
process group, so a stop reaches whatever it starts in turn) and watches it:

- a child that exits is started again after a back-off — ``backoff`` seconds, doubling
  with every exit that follows a short run, up to ``backoff_max``; a child that stayed up
  ``reset_after`` seconds starts over at ``backoff``. A service with ``restart
  "on-failure"`` (a job with an end, such as the demo's simulator) is done when it exits
  with 0;
- every start and exit is logged (name, pid, exit code — a negative one is the signal
  that ended it —, how long it ran, when it starts again);
- its state — ``running``, ``backoff`` (waiting to start again), ``stopping``,
  ``stopped``, ``done`` —, its restarts, its last exit code and since when, are written
  to a JSON file (:func:`state_path`, ``var/run/site.json``; mode 0600, replaced
  atomically) at every change and every ``heartbeat`` seconds, which the device status
  page shows to the police administrator (:func:`read_state`);
- SIGTERM or SIGINT stops every child: SIGTERM to its process group, SIGKILL after
  ``stop_timeout`` seconds, and the supervisor returns.

A small supervisor of our own rather than a library: honcho (Procfile runner) stops
every process when one exits and restarts nothing; supervisord and circus are daemons
with their own configuration files and control protocols (XML-RPC, ZeroMQ) that the
web page would have to speak to learn the state. What is needed here — restarts with a
capped exponential back-off, a state file, one command a systemd unit or ``make demo``
runs — is this module, on :mod:`subprocess` alone. It keeps no state in the database:
it must go on restarting the processor while the database is away.
"""

import contextlib
import datetime as dt
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

RUNNING, BACKOFF, STOPPING, STOPPED, DONE = "running", "backoff", "stopping", "stopped", "done"
ALWAYS, ON_FAILURE = "always", "on-failure"


def anyuan(*args: str) -> list[str]:
    """The command line of ``anyuan ARGS`` with this interpreter."""
    return [sys.executable, "-m", "anyuan.cli", *args]


@dataclass
class Service:
    name: str
    argv: list[str]
    restart: str = ALWAYS  # or ON_FAILURE: an exit with 0 ends it
    log: Path | None = None  # its output appended there; None: the supervisor's, prefixed


@dataclass
class State:
    """What the supervisor knows of one service."""

    state: str = STOPPED
    pid: int | None = None
    restarts: int = 0
    short_runs: int = 0  # exits in a row after a short run: the back-off's exponent
    last_exit: int | None = None
    last_exit_at: float | None = None  # wall clock
    since: float = field(default_factory=time.time)  # wall clock: in this state since
    started: float = 0.0  # monotonic
    next_start: float | None = None  # monotonic
    delay: float | None = None  # the back-off waited before the next start


def state_path() -> Path:
    """Where ``anyuan site`` writes its state: ``ANYUAN_SITE_STATE`` (a setting), else
    ``var/run/site.json``."""
    from django.conf import settings

    configured = settings.ANYUAN_SITE_STATE
    return Path(configured) if configured else Path(settings.VAR_DIR) / "run" / "site.json"


def _iso(wall: float | None) -> str | None:
    return dt.datetime.fromtimestamp(wall, dt.UTC).isoformat() if wall is not None else None


class Supervisor:
    def __init__(
        self,
        services: list[Service],
        *,
        state_file: Path | None = None,
        backoff: float = 1.0,
        backoff_max: float = 60.0,
        reset_after: float = 60.0,
        stop_timeout: float = 10.0,
        heartbeat: float = 5.0,
        poll: float = 0.2,
        out: TextIO | None = None,
        env: dict | None = None,
    ):
        names = [s.name for s in services]
        if len(set(names)) != len(names):
            raise ValueError(f"service names repeat: {names}")
        self.services = services
        self.states = {s.name: State() for s in services}
        self.procs: dict[str, subprocess.Popen] = {}
        self.state_file = state_file
        self.backoff, self.backoff_max, self.reset_after = backoff, backoff_max, reset_after
        self.stop_timeout, self.heartbeat, self.poll = stop_timeout, heartbeat, poll
        self.out = out or sys.stdout
        self.env = env
        self.stopping = False
        self.started_at = time.time()
        self._written = 0.0  # monotonic time of the last state write
        self._lock = threading.Lock()  # the output, shared with the children's readers

    # --- output ------------------------------------------------------------------------

    def say(self, text: str) -> None:
        stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
        with self._lock:
            self.out.write(f"{stamp} site: {text}\n")
            self.out.flush()

    def _relay(self, name: str, stream) -> None:
        """A child's output, line by line, prefixed with its name."""
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self._lock:
                self.out.write(f"{name:<10}| {line}\n")
                self.out.flush()
        stream.close()

    # --- one service -------------------------------------------------------------------

    def start(self, service: Service) -> None:
        state = self.states[service.name]
        if service.log is not None:
            service.log.parent.mkdir(parents=True, exist_ok=True)
            with open(service.log, "ab") as log:
                proc = subprocess.Popen(  # noqa: S603 — our own command lines
                    service.argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: stopped as a whole
                    env=self.env,
                )
        else:
            proc = subprocess.Popen(  # noqa: S603 — our own command lines
                service.argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=self.env,
            )
            threading.Thread(
                target=self._relay, args=(service.name, proc.stdout), daemon=True
            ).start()
        self.procs[service.name] = proc
        state.state, state.pid, state.since = RUNNING, proc.pid, time.time()
        state.started, state.next_start, state.delay = time.monotonic(), None, None
        where = f", output in {service.log}" if service.log is not None else ""
        self.say(f"{service.name} started (pid {proc.pid}): {self.command(service)}{where}")

    @staticmethod
    def command(service: Service) -> str:
        argv = list(service.argv)
        if argv[:3] == [sys.executable, "-m", "anyuan.cli"]:
            argv = ["anyuan", *argv[3:]]
        return shlex.join(argv)

    def _exited(self, service: Service, code: int, now: float) -> None:
        state = self.states[service.name]
        ran = now - state.started
        state.pid, state.last_exit, state.last_exit_at = None, code, time.time()
        state.since = state.last_exit_at
        self.procs.pop(service.name, None)
        how = f"code {code}" if code >= 0 else f"signal {-code}"
        if service.restart == ON_FAILURE and code == 0:
            state.state = DONE
            self.say(f"{service.name} finished (exit {how}) after {ran:.1f} s")
            return
        state.short_runs = 1 if ran >= self.reset_after else state.short_runs + 1
        state.delay = min(self.backoff * 2 ** (state.short_runs - 1), self.backoff_max)
        state.state, state.next_start = BACKOFF, now + state.delay
        self.say(
            f"{service.name} exited ({how}) after {ran:.1f} s; "
            f"starting it again in {state.delay:g} s"
        )

    # --- the loop ----------------------------------------------------------------------

    def start_all(self) -> None:
        for service in self.services:
            self.start(service)
        self.write_state(force=True)

    def tick(self) -> None:
        """One look at every service: note exits, start those whose back-off is over,
        write the state when it changed (or the heartbeat is due)."""
        now = time.monotonic()
        changed = False
        for service in self.services:
            state = self.states[service.name]
            proc = self.procs.get(service.name)
            if proc is not None:
                code = proc.poll()
                if code is not None:
                    self._exited(service, code, now)
                    changed = True
            elif state.state == BACKOFF and now >= state.next_start and not self.stopping:
                state.restarts += 1
                self.start(service)
                changed = True
        self.write_state(force=changed)

    def run(self, *, signals: bool = True) -> None:
        """Start every service and keep them running until SIGTERM or SIGINT (or
        :meth:`request_stop`), then stop them."""
        previous = {}
        if signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda signum, frame: self.request_stop())
        try:
            self.start_all()
            while not self.stopping:
                self.tick()
                time.sleep(self.poll)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def request_stop(self) -> None:
        self.stopping = True

    def stop(self) -> None:
        """SIGTERM to every child's process group; SIGKILL to what is left after
        ``stop_timeout`` seconds."""
        self.stopping = True
        if self.procs:
            self.say("stopping " + ", ".join(self.procs))
        for name, proc in self.procs.items():
            self.states[name].state = STOPPING
            self._signal(proc, signal.SIGTERM)
        self.write_state(force=True)
        deadline = time.monotonic() + self.stop_timeout
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
        for name, proc in self.procs.items():
            if proc.poll() is None:
                self.say(f"{name} did not stop in {self.stop_timeout:g} s: killed")
                self._signal(proc, signal.SIGKILL)
                proc.wait()
        for name, proc in list(self.procs.items()):
            state = self.states[name]
            state.last_exit, state.last_exit_at = proc.returncode, time.time()
            self.say(f"{name} stopped (exit {proc.returncode})")
        self.procs.clear()
        for state in self.states.values():
            if state.state != DONE:
                state.state, state.pid, state.since = STOPPED, None, time.time()
                state.next_start = state.delay = None
        self.write_state(force=True, running=False)

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)  # the child leads its own process group

    # --- the state file ----------------------------------------------------------------

    def snapshot(self, running: bool = True) -> dict:
        now = time.monotonic()
        return {
            "supervisor": {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "state": RUNNING if running and not self.stopping else STOPPED,
                "started": _iso(self.started_at),
                "updated": _iso(time.time()),
                "heartbeat_s": self.heartbeat,
            },
            "services": [
                {
                    "name": s.name,
                    "command": self.command(s),
                    "state": self.states[s.name].state,
                    "pid": self.states[s.name].pid,
                    "restarts": self.states[s.name].restarts,
                    "last_exit": self.states[s.name].last_exit,
                    "last_exit_at": _iso(self.states[s.name].last_exit_at),
                    "since": _iso(self.states[s.name].since),
                    "next_start_in_s": round(max(0.0, self.states[s.name].next_start - now), 1)
                    if self.states[s.name].next_start is not None
                    else None,
                }
                for s in self.services
            ],
        }

    def write_state(self, *, force: bool = False, running: bool = True) -> None:
        if self.state_file is None:
            return
        if not force and time.monotonic() - self._written < self.heartbeat:
            return
        self._written = time.monotonic()
        path = self.state_file
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.snapshot(running), f, ensure_ascii=False, indent=1)
            os.replace(tmp, path)
        except OSError as exc:  # a full disk must not stop the supervision
            self.say(f"could not write the state to {path}: {exc}")


def read_state(path: Path | None = None, now: dt.datetime | None = None) -> dict | None:
    """The state ``anyuan site`` last wrote, or ``None`` when there is none. ``stale``:
    a running supervisor that has not written for three heartbeats (killed, or hung)."""
    path = path or state_path()
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        supervisor = data["supervisor"]
        updated = dt.datetime.fromisoformat(supervisor["updated"])
        services = list(data["services"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    now = now or dt.datetime.now(dt.UTC)
    silent = (now - updated).total_seconds()
    supervisor["stale"] = supervisor.get("state") == RUNNING and silent > 3 * float(
        supervisor.get("heartbeat_s") or 5
    )
    supervisor["silent_s"] = round(silent)
    return {"supervisor": supervisor, "services": services}
