"""``anyuan disputes_deadlines``: reminders before dispute time limits end, escalation
after they passed (see anyuan.disputes.deadlines) — the scheduler's job
``disputes.deadlines`` run by hand, under the same lease (skipped while the scheduler is
running it). ``anyuan scheduler`` runs it every 5 minutes; ``--loop SECONDS`` repeats."""

import time

from django.core.management.base import BaseCommand, CommandError

from anyuan.core import scheduler
from anyuan.disputes.jobs import DEADLINES


class Command(BaseCommand):
    help = "Send dispute time-limit reminders and escalate breached cases."

    def add_arguments(self, parser):
        parser.add_argument("--loop", type=int, default=0, help="repeat every SECONDS")

    def handle(self, *args, loop=0, **options):
        if loop < 0:
            raise CommandError("--loop must not be negative.")
        while True:
            outcome = scheduler.run_job(DEADLINES)
            if outcome.status == scheduler.SKIPPED:
                self.stdout.write("the time limits are being checked elsewhere: skipped")
            elif outcome.status == scheduler.FAILED:
                self.stderr.write(outcome.error)
            elif options["verbosity"]:
                self.stdout.write(
                    "reminders {reminders} · escalated {escalated} · "
                    "breaches at tier 3 {breaches}".format(**outcome.result)
                )
            if not loop:
                return
            time.sleep(loop)
