"""``anyuan escalate``: escalate alerts nobody acknowledged in time (see
``docs/alerts.md``, "Escalation") — the scheduler's job ``alerts.escalate`` run by hand.

``anyuan scheduler`` (under ``anyuan site``) runs it every 15 s; this runs it now, under
the same lease (skipped while the scheduler is running it). ``--once`` runs it once and
exits; otherwise every ``--every`` seconds until SIGTERM or Ctrl+C.
"""

import signal
import time

from django.core.management.base import BaseCommand, CommandError

from anyuan.alerts.jobs import ESCALATE
from anyuan.core import scheduler


class Command(BaseCommand):
    help = "Escalate alerts left unacknowledged past their severity's limit."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="check once, then exit")
        parser.add_argument("--every", type=float, default=15.0, help="seconds between checks")

    def handle(self, *args, **options):
        if options["every"] <= 0:
            raise CommandError("--every must be positive.")
        if options["once"]:
            self.check()
            return
        stop = []

        def request_stop(signum, frame):
            stop.append(signum)

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            while not stop:
                self.check()
                deadline = time.monotonic() + options["every"]
                while not stop and time.monotonic() < deadline:
                    time.sleep(min(0.5, options["every"]))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def check(self):
        outcome = scheduler.run_job(ESCALATE)
        if outcome.status == scheduler.SKIPPED:
            self.stdout.write("the escalation is running elsewhere (the scheduler): skipped")
        elif outcome.status == scheduler.FAILED:
            self.stderr.write(outcome.error)
        elif outcome.result["escalated"]:
            self.stdout.write(f"escalated {outcome.result['escalated']} alert(s)")
