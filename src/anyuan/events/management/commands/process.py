"""``anyuan process``: the event processor — presences and zone occupancy from the
passage log (see ``docs/events.md``, "Processor").

``--once`` processes what is there and exits; otherwise it tails the log, polling every
``--poll`` seconds, and stops cleanly on SIGTERM or Ctrl+C (after the batch in hand is
committed). When it has caught up with the log it runs the time-based rules (vehicle
overstay, silent devices, exits left without an entry) every ``--check-every`` seconds.
``--muster ZONE_ID`` prints the zone's muster list (who is inside it and the
zones below it) as CSV and exits. The alert rules (``anyuan.alerts.evaluator``) are
evaluated on the facts of every batch, in its transaction; ``--no-rules`` turns them off.

Nothing an event holds stops it: what it cannot place is set aside in the quarantine
(``/events/quarantine/``) and it goes on; a database that is locked or away is waited
for; any other failure is said on stderr and tried again after a pause (1 s, doubling
to a minute).
"""

import signal
import sys
import time
import traceback

from django.core.management.base import BaseCommand, CommandError
from django.db import InterfaceError, OperationalError

from anyuan.alerts.evaluator import Evaluator
from anyuan.core import gc_tuning
from anyuan.core.spreadsheets import CsvWriter
from anyuan.events.processor import DEFAULT_BATCH, DEFAULT_NAME, Processor
from anyuan.events.queries import MUSTER_COLUMNS, muster_rows
from anyuan.registry.models import Zone


class Command(BaseCommand):
    help = "Process the passage log into presences and zone occupancy."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="process what is there, then exit")
        parser.add_argument(
            "--batch", type=int, default=DEFAULT_BATCH, help="passages per transaction"
        )
        parser.add_argument(
            "--poll", type=float, default=1.0, help="seconds between polls when idle"
        )
        parser.add_argument(
            "--check-every",
            type=float,
            default=5.0,
            help="seconds between runs of the time-based rules (overstay, silent devices)",
        )
        parser.add_argument("--name", default=DEFAULT_NAME, help="the checkpoint's name")
        parser.add_argument(
            "--no-rules", action="store_true", help="do not evaluate the alert rules"
        )
        parser.add_argument(
            "--muster", type=int, metavar="ZONE_ID", help="print a muster list as CSV"
        )

    def handle(self, *args, **options):
        if options["muster"] is not None:
            return self.muster(options["muster"])
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        stop = []

        def request_stop(signum, frame):
            stop.append(signum)

        previous = {}
        if not options["once"]:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, request_stop)
        try:
            on_facts = None if options["no_rules"] else Evaluator()
            processor = Processor(options["name"], options["batch"], on_facts=on_facts)
            if not options["once"]:
                gc_tuning.tune()  # the registry is loaded: see anyuan.core.gc_tuning
            self.run(processor, options, stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def run(self, processor, options, stop):
        self.stdout.write(f"processor {processor.name}: from passage {processor.last_passage_id}")
        total, started, reported, checked = 0, time.monotonic(), 0.0, 0.0
        set_aside = 0
        busy = 0  # failed attempts in a row (a database that is locked or away)
        failed = 0  # failures in a row that no event could be blamed for
        while not stop:
            try:
                result = processor.process_batch()
            except (OperationalError, InterfaceError) as exc:
                # e.g. SQLite's write lock held past busy_timeout by a flood of uploads;
                # the batch was rolled back and the state reloaded from the checkpoint
                busy += 1
                wait = min(0.5 * busy, 5.0)
                self.stderr.write(f"database busy ({exc}); trying again in {wait:.1f} s")
                time.sleep(wait)
                continue
            except Exception:
                # the processor sets aside the events a batch fails on; what is left (the
                # quarantine itself failing) must not end the loop either: say it, wait
                # (1 s doubling to a minute) and try again from the checkpoint
                failed += 1
                wait = min(2.0 ** (failed - 1), 60.0)
                self.stderr.write(
                    f"processing failed:\n{traceback.format_exc()}trying again in {wait:.0f} s"
                )
                if options["once"] and failed > 3:
                    raise
                self._sleep(wait, stop)
                continue
            busy = failed = 0
            total += result.processed
            if result.set_aside:
                set_aside += result.set_aside
                self.stderr.write(
                    f"{result.set_aside} event(s) set aside (could not be placed); "
                    "see /events/quarantine/"
                )
            now = time.monotonic()
            if result.processed and (options["once"] or now - reported >= 5):
                reported = now
                rate = total / max(now - started, 1e-9)
                lag = f"{result.lag_s:.1f} s" if result.lag_s is not None else "—"
                self.stdout.write(
                    f"processed {total} · {rate:,.0f} passages/s · last {result.last_passage_id}"
                    f" · lag {lag}"
                )
            if not result.more:
                # caught up: the time-based rules may judge what has not happened
                if options["once"] or now - checked >= options["check_every"]:
                    try:
                        processor.check()
                    except (OperationalError, InterfaceError) as exc:
                        self.stderr.write(f"database busy ({exc}); the checks run again later")
                    except Exception:
                        # a time-based rule failing (no event to set aside): said, and
                        # tried again at the next round; the passages go on meanwhile
                        self.stderr.write(
                            f"the time-based checks failed:\n{traceback.format_exc()}"
                            "they run again later"
                        )
                    checked = time.monotonic()
                if options["once"]:
                    break
                time.sleep(options["poll"])
        elapsed = time.monotonic() - started
        rules = processor.on_facts
        raised = f"; {rules.raised} alerts raised or repeated" if rules is not None else ""
        aside = f"; {set_aside} set aside" if set_aside else ""
        self.stdout.write(
            f"processed {total} passages in {elapsed:.1f} s{raised}{aside}; stopped cleanly"
        )

    @staticmethod
    def _sleep(seconds: float, stop: list) -> None:
        """Wait, but not past a stop request."""
        deadline = time.monotonic() + seconds
        while not stop and time.monotonic() < deadline:
            time.sleep(min(0.2, seconds))

    def muster(self, zone_id):
        zone = Zone.objects.filter(pk=zone_id).first()
        if zone is None:
            raise CommandError(f"No zone {zone_id}.")
        out = CsvWriter(self.stdout)
        out.writerow(MUSTER_COLUMNS)
        for row in muster_rows(zone):
            out.writerow(
                [value.isoformat() if hasattr(value, "isoformat") else value for value in row]
            )
        sys.stdout.flush()
