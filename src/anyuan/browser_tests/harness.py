"""The processes the browser tests run against, as ``make demo`` runs them: a fresh demo
park in its own ``ANYUAN_VAR``, the ASGI server on a free port, the event processor and
the live simulator, each a child process logging to ``var/test-artefacts/logs/``.

The children always use SQLite in their own temporary var: ``DATABASE_URL`` is emptied in
their environment. The test process itself may be on PostgreSQL (``DATABASE_URL`` set,
the second ``make test`` of CI); the browser tests then still see a fresh demo park of
their own, and the PostgreSQL run stays independent of them (nothing is shared but the
source tree and ``node_modules``).
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

# the demo's seed: the live stream's visitors are those of the demo registry
SEED = 2026
# Simulated time of day the live stream starts at. At 14:00 the demo park makes a few
# passages per second at 60x (the shift changes make up to 85/s): occupancy changes within
# seconds, and the two cores are left to the server and Chromium.
TIME_OF_DAY = "14:00"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10

# ``anyuan.settings`` reads these; the children get their own (keys created in their var)
CLEARED = ("ANYUAN_SECRET_KEY", "ANYUAN_DATA_KEY", "ANYUAN_ALLOWED_HOSTS", "ANYUAN_DEBUG", "PORT")


class HarnessError(RuntimeError):
    """A child process failed or did not come up; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def child_env(var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(
        ANYUAN_VAR=str(var),
        # always a fresh SQLite of its own, also in the PostgreSQL run (see the docstring)
        DATABASE_URL="",
        ANYUAN_HOME=str(settings.BASE_DIR),
        ANYUAN_NODE_MODULES=str(settings.NODE_MODULES),
        DJANGO_SETTINGS_MODULE="anyuan.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def new_face() -> str:
    """A face id nobody has: an unregistered face, a stranger."""
    return f"F-BT-{uuid.uuid4().hex[:12].upper()}"


@dataclass
class Stack:
    """The running park: its address, its var, the demo devices' tokens and the facts
    of ``facts.py``, and the children (name → process)."""

    var: Path
    logs: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- children -------------------------------------------------------------------------

    def command(self, args: list[str]) -> list[str]:
        return [sys.executable, "-m", "anyuan.cli", *args]

    def run(self, name: str, argv: list[str], timeout: float, *, output=False) -> str:
        """``argv`` to the end, logging to ``NAME.log``; with ``output``, its stdout is
        returned instead of logged."""
        log = self.logs / f"{name}.log"
        with open(log, "wb") as out:
            try:
                done = subprocess.run(  # noqa: S603 — our own command line
                    argv,
                    env=self.env,
                    cwd=settings.BASE_DIR,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE if output else out,
                    stderr=out,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise HarnessError(f"{name} took over {timeout} s; log:\n{tail(log)}") from None
        if done.returncode:
            raise HarnessError(f"{name} failed ({done.returncode}); log:\n{tail(log)}")
        return done.stdout.decode("utf-8") if output else ""

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "wb") as log:
            child = subprocess.Popen(  # noqa: S603 — our own command line
                self.command(args),
                env=self.env,
                cwd=settings.BASE_DIR,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.children[name] = child
        return child

    def check(self) -> None:
        """Raise if a child has stopped (with the end of its log)."""
        for name, child in self.children.items():
            if child.poll() is not None:
                raise HarnessError(
                    f"{name} exited ({child.returncode}); log:\n{tail(self.logs / f'{name}.log')}"
                )

    def stop(self) -> None:
        """Terminate every child (the simulator first, the server last), then kill those
        still running after STOP_TIMEOUT_S."""
        children = list(reversed(self.children.values()))
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)

    # -- start-up -------------------------------------------------------------------------

    def set_up(self) -> None:
        """The demo park in the fresh var (migrate, translations, park, accounts, device
        tokens), then the server, the processor and the live simulator."""
        demo = ["demo", "--no-serve", "--no-live", "--port", str(self.port)]
        self.run("demo", self.command(demo), 300)
        tokens = self.var / "demo" / "device-tokens.json"
        self.tokens = json.loads(tokens.read_text(encoding="utf-8"))
        facts = [sys.executable, "-m", "anyuan.browser_tests.facts", str(tokens)]
        self.facts = json.loads(self.run("facts", facts, 120, output=True))
        self.start("serve", ["serve", "--port", str(self.port)])
        self.wait_until_up()
        self.start("process", ["process", "--poll", "0.2", "--check-every", "2"])
        self.start(
            "live",
            [
                "simulate", "--scale", "demo", "--live", self.url, "--speed", "60",
                "--tokens", str(tokens), "--days", "1", "--seed", str(SEED),
                "--time-of-day", TIME_OF_DAY, "--wait", str(START_TIMEOUT_S), "--no-progress",
            ],
        )  # fmt: skip

    def totp_secrets(self) -> dict[str, str]:
        """user name → the base32 authenticator key ``anyuan demo`` gave the account."""
        path = self.var / "demo" / "totp-secrets.json"
        return json.loads(path.read_text(encoding="utf-8"))

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            self.check()
            with contextlib.suppress(OSError):
                login = self.url + reverse("accounts:login")
                with urllib.request.urlopen(login, timeout=5) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            if time.monotonic() > deadline:
                log = tail(self.logs / "serve.log")
                raise HarnessError(f"the server did not answer in {START_TIMEOUT_S} s:\n{log}")
            time.sleep(0.2)

    # -- devices --------------------------------------------------------------------------

    def send_passage(self, serial: str, **fields) -> dict:
        """One passage from device ``serial`` through the ingestion API, as a device sends
        it (docs/events.md); the answer's JSON."""
        body = {
            "event_id": f"bt-{uuid.uuid4().hex[:20]}",
            "event_time": timezone.now().isoformat(),
            "direction": "in",
            "confidence": 0.93,
            **fields,
        }
        request = urllib.request.Request(  # noqa: S310 — our own server
            f"{self.url}/api/v1/events/ingest/passages",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {self.tokens[serial]}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return json.load(answer)
        except urllib.error.HTTPError as e:
            raise HarnessError(f"ingestion refused the passage: {e.code} {e.read()!r}") from e

    def stranger(self, serial: str, credential: str | None = None) -> str:
        """An unregistered face (``credential``, default a new one) entering at device
        ``serial``; the processor raises a ``stranger`` alert for it (for the zone's
        enterprise). Returns the face id, which the alert queue's search finds."""
        credential = credential or new_face()
        answer = self.send_passage(serial, method="face", credential=credential)
        if answer.get("status") != "stored":
            raise HarnessError(f"the passage was not stored: {answer}")
        return credential


def reload_until(page, path: str, done, timeout_s: float = 30, every_s: float = 1):
    """Load ``path`` again every ``every_s`` until ``done(page)`` is true (what a person
    does until the processor has caught up); fails after ``timeout_s``."""
    waited = 0.0
    page.goto(path)
    while not done(page):
        if waited >= timeout_s:
            raise AssertionError(f"{path}: still not there after {timeout_s} s")
        page.wait_for_timeout(every_s * 1000)
        waited += every_s
        page.goto(path)
    return page
