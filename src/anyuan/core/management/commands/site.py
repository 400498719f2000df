"""``anyuan site``: one command runs a whole site, and keeps every part of it running.

It starts, as child processes, the web server (``anyuan serve``), the event processor
(``anyuan process``) and the scheduler of the apps' periodic jobs (``anyuan scheduler``:
the escalation of unacknowledged alerts, the dispute time limits, the pruning ...), and
supervises them
(:mod:`anyuan.core.supervisor`): a child that dies is started again after a back-off (1 s
doubling to ``--backoff-max``; back to 1 s once it stayed up a minute), every start and
exit is logged with its exit code, and the state of each is written to
``var/run/site.json`` for the device status page (police administrators). SIGTERM or
Ctrl+C stops them all. ``--without NAME`` leaves a part out (e.g. the processor on a
second web host: run exactly one processor per database). See docs/operations.md.
"""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from anyuan.core.supervisor import ALWAYS, Service, Supervisor, anyuan, state_path

PARTS = ("web", "process", "scheduler")


def site_services(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    without=(),
    log_dir: Path | None = None,
    web_log: bool = True,
) -> list[Service]:
    """The services of a site, in start order. ``log_dir``: each one's output goes to
    ``NAME.log`` there (the web server's too unless ``web_log`` is false) instead of the
    supervisor's own output."""
    lines = {
        "web": anyuan("serve", "--host", host, "--port", str(port), "--workers", str(workers)),
        "process": anyuan("process"),
        "scheduler": anyuan("scheduler"),
    }
    services = []
    for name in PARTS:
        if name in without:
            continue
        log = None
        if log_dir is not None and (name != "web" or web_log):
            log = Path(log_dir) / f"{name}.log"
        services.append(Service(name, lines[name], ALWAYS, log))
    return services


class Command(BaseCommand):
    help = (
        "Run a whole site: web server, event processor and scheduler, each "
        "restarted with back-off when it dies; SIGTERM or Ctrl+C stops them all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=1, help="web server workers")
        parser.add_argument(
            "--without",
            action="append",
            default=[],
            choices=PARTS,
            help="leave this part out (repeatable)",
        )
        parser.add_argument("--log-dir", type=Path, help="write each part's output to DIR/NAME.log")
        parser.add_argument(
            "--backoff-max", type=float, default=60.0, help="longest wait before a restart"
        )

    def handle(self, *args, **options):
        services = site_services(
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            without=set(options["without"]),
            log_dir=options["log_dir"],
        )
        if not services:
            raise CommandError("Nothing to run.")
        run(services, backoff_max=options["backoff_max"], out=self.stdout)


def run(services: list[Service], *, out=None, **options) -> None:
    """Supervise ``services`` until SIGTERM or Ctrl+C, the state in :func:`state_path`."""
    supervisor = Supervisor(services, state_file=state_path(), out=out, **options)
    supervisor.say(
        f"supervising {', '.join(s.name for s in services)}; state in {supervisor.state_file}"
    )
    supervisor.run()
