"""``anyuan scheduler``: run the apps' periodic jobs (:mod:`anyuan.core.scheduler`).

Every ``--poll`` seconds it runs the jobs that are due, each under its lease in the
database (a job another process is running is skipped). ``--once``: one round, then
exit. ``--run NAME``: run that job now, due or not (still under its lease). ``--list``:
the jobs and their state. SIGTERM or Ctrl+C stops it between jobs.
"""

import logging
import signal
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from anyuan.core import scheduler


def log_to(stream) -> None:
    """Show the scheduler's log (each run's start and end) on ``stream``."""
    logger = logging.getLogger("anyuan.scheduler")
    if not any(getattr(h, "anyuan_scheduler", False) for h in logger.handlers):
        handler = logging.StreamHandler(stream)
        handler.anyuan_scheduler = True
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


class Command(BaseCommand):
    help = "Run the periodic jobs the apps declare (escalation, time limits, pruning ...)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run what is due, then exit")
        parser.add_argument("--run", metavar="NAME", help="run this job now, then exit")
        parser.add_argument("--list", action="store_true", help="list the jobs and their state")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between rounds")

    def handle(self, *args, **options):
        if options["poll"] <= 0:
            raise CommandError("--poll must be positive.")
        if options["list"]:
            return self.list()
        log_to(sys.stdout)
        if options["run"]:
            try:
                outcome = scheduler.run_job(options["run"])
            except LookupError as exc:
                raise CommandError(str(exc)) from None
            if outcome.status == scheduler.FAILED:
                raise CommandError(f"job {outcome.name} failed")
            return
        if options["once"]:
            scheduler.tick()
            return
        stop = []
        previous = {
            sig: signal.signal(sig, lambda signum, frame: stop.append(signum))
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        names = ", ".join(scheduler.jobs())
        self.stdout.write(f"scheduler: jobs {names}; a round every {options['poll']:g} s")
        try:
            while not stop:
                scheduler.tick()
                deadline = time.monotonic() + options["poll"]
                while not stop and time.monotonic() < deadline:
                    time.sleep(min(0.2, options["poll"]))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("scheduler: stopped cleanly")

    def list(self):
        def when(value):
            return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "—"

        for s in scheduler.job_states():
            every = f"every {s['every_s']} s" if s["every_s"] is not None else f"at {s['at']}"
            state = "running" if s["running"] else ("failed" if s["failed"] else "ok")
            self.stdout.write(
                f"{s['name']:<28} {every:<14} last {when(s['last_started'])} "
                f"next {when(s['next_run'])} {state} {s['last_result']}"
            )
