"""``anyuan escalate``: escalate alerts nobody acknowledged in time (see
``docs/alerts.md``, "Escalation").

``--once`` escalates what is overdue now and exits; otherwise it checks every
``--every`` seconds and stops cleanly on SIGTERM or Ctrl+C.
"""

import signal
import time

from django.core.management.base import BaseCommand, CommandError

from anyuan.alerts.actions import escalate_overdue


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
        escalated = escalate_overdue()
        if escalated:
            self.stdout.write(f"escalated {len(escalated)} alert(s)")
