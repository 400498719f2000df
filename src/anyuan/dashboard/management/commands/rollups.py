"""``anyuan rollups rebuild [--since DATE]``: recompute the dashboard's hourly passage
counts from the passage log (see ``anyuan.dashboard.rollups`` and docs/dashboard.md).

The processor keeps the counts as it goes; a rebuild is for a backfill (the log from
before the rollups existed) or after the log was changed by hand. One local day per
transaction, counting the passages up to the processor's checkpoint (``--checkpoint``,
default ``presence``; ``--whole-log`` counts every passage, when no processor runs).
"""

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from anyuan.dashboard import rollups


class Command(BaseCommand):
    help = "Dashboard rollups: rebuild the hourly passage counts from the passage log."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        rebuild = sub.add_parser("rebuild", help="recompute the hourly passage counts")
        rebuild.add_argument(
            "--since",
            metavar="DATE",
            help="from this local day (YYYY-MM-DD); default: the whole log",
        )
        rebuild.add_argument(
            "--checkpoint",
            default=rollups.DEFAULT_CHECKPOINT,
            help="count passages up to this processor's checkpoint (default presence)",
        )
        rebuild.add_argument(
            "--whole-log",
            action="store_true",
            help="count every passage (no processor adds them)",
        )

    def handle(self, *args, **options):
        since = None
        if options.get("since"):
            try:
                since = dt.date.fromisoformat(options["since"])
            except ValueError:
                raise CommandError("--since takes a date: YYYY-MM-DD.") from None
        checkpoint = None if options["whole_log"] else options["checkpoint"]
        started = time.perf_counter()

        def progress(day, rows):
            if options["verbosity"] >= 2:
                self.stdout.write(f"{day}: {rows} rows")

        result = rollups.rebuild(since, checkpoint=checkpoint, on_day=progress)
        took = time.perf_counter() - started
        self.stdout.write(
            f"rebuilt {result['days']} days: {result['passages']} passages in "
            f"{result['rows']} hourly rows, {took:.1f} s"
        )
