"""``anyuan disputes_deadlines``: reminders before dispute time limits end, escalation
after they passed (see anyuan.disputes.deadlines). Run it every few minutes (cron, a
systemd timer), or with ``--loop SECONDS``."""

import time

from django.core.management.base import BaseCommand

from anyuan.disputes import deadlines


class Command(BaseCommand):
    help = "Send dispute time-limit reminders and escalate breached cases."

    def add_arguments(self, parser):
        parser.add_argument("--loop", type=int, default=0, help="repeat every SECONDS")

    def handle(self, *args, loop=0, **options):
        while True:
            counts = deadlines.run()
            if options["verbosity"]:
                self.stdout.write(
                    "reminders {reminders} · escalated {escalated} · "
                    "breaches at tier 3 {breaches}".format(**counts)
                )
            if not loop:
                return
            time.sleep(loop)
