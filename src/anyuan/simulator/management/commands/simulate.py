"""``anyuan simulate``: write a synthetic park (registry, passages, alarms, heartbeats,
ground truth) to a directory. Deterministic for a given seed."""

import argparse
import datetime as dt
import os
import signal
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from anyuan.simulator.run import DEFAULT_START, OUTPUTS, clear_outputs, simulate
from anyuan.simulator.scales import SCALES

MAX_DAYS = 366


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= n <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_DAYS}, not {n}")
    return n


def _time_of_day(value: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time of day (HH:MM): {value!r}") from None


def _seed(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("a seed is a number of 0 or more")
    return n


class Command(BaseCommand):
    help = (
        "Generate a synthetic park: the registry in the import formats, a stream of "
        "passages with injected anomalies, and their ground truth (truth.jsonl). "
        "Scales: " + "; ".join(f"{s.name}: {s.description}" for s in SCALES.values()) + "."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=list(SCALES), default="demo")
        parser.add_argument("--days", type=_positive, default=1, help="days of events (1–366)")
        parser.add_argument("--seed", type=_seed, default=1, help="same seed, same output")
        parser.add_argument(
            "--out",
            help="output directory (default: var/simulator/SCALE); it must be empty unless --force",
        )
        parser.add_argument(
            "--start", type=_date, default=DEFAULT_START,
            help=f"first day, local time (default {DEFAULT_START.isoformat()})",
        )  # fmt: skip
        parser.add_argument(
            "--force", action="store_true",
            help="replace the output of an earlier run in DIR (other files are left alone)",
        )  # fmt: skip
        parser.add_argument(
            "--registry-only", action="store_true", help="write the registry only, no events"
        )
        parser.add_argument(
            "--live", metavar="URL",
            help="send into a running anyuan at URL (its ingestion API) instead of files",
        )  # fmt: skip
        parser.add_argument(
            "--speed", type=float, default=60.0, help="speed-up of the live mode (default 60)"
        )
        parser.add_argument(
            "--tokens", metavar="FILE",
            help="live mode: the device tokens, JSON {serial: token} (anyuan device_tokens)",
        )  # fmt: skip
        parser.add_argument(
            "--wait", type=float, default=10.0, metavar="SECONDS",
            help="live mode: how long to wait for the platform to answer (default 10)",
        )  # fmt: skip
        parser.add_argument(
            "--time-of-day", type=_time_of_day, metavar="HH:MM",
            help="live mode: the simulated time of day to start at (default: the clock's)",
        )  # fmt: skip
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **o):
        if not 0 < o["speed"] <= 100_000:
            raise CommandError("--speed must be more than 0 (and at most 100000)")
        if o["live"]:
            return self.live(o)
        scale = o["scale"]
        out = Path(o["out"]) if o["out"] else Path(settings.VAR_DIR) / "simulator" / scale
        self.prepare(out, o["force"])
        quiet = o["no_progress"] or o["verbosity"] == 0
        bar = None
        if not quiet and not o["registry_only"]:
            from tqdm import tqdm

            bar = tqdm(total=o["days"], unit="day", desc=f"simulate {scale}", file=sys.stderr)
            bar.set_postfix_str("registry")

        def on_day(date, stats):
            if bar is not None:
                bar.set_postfix_str(f"{date.isoformat()} {stats['passages']:,} passages")
                bar.update(1)

        started = time.perf_counter()
        try:
            manifest = simulate(
                scale, o["days"], o["seed"], out, start=o["start"],
                registry_only=o["registry_only"], on_day=on_day,
            )  # fmt: skip
        except OSError as e:
            raise CommandError(f"cannot write to {out}: {e.strerror or e}") from None
        finally:
            if bar is not None:
                bar.close()
        if o["verbosity"] >= 1:
            sizes = manifest["sizes"]
            lines = [
                f"anyuan simulate: {scale}, seed {o['seed']}, {o['days']} day(s) from "
                f"{o['start'].isoformat()} → {out}",
                f"  people {sizes['people']:,}, zones {sizes['zones']:,}, devices "
                f"{sizes['devices']:,}, vehicles {sizes['vehicles']:,}",
            ]
            if "events" in manifest:
                ev = manifest["events"]
                lines.append(
                    f"  passages {ev['passages']:,} (about {ev['mean_passages_per_day']:,} a day), "
                    f"alarms {ev['alarms']:,}, heartbeats {ev['heartbeats']:,}, "
                    f"truth lines {manifest['truth_lines']:,}"
                )
            lines.append(f"  done in {time.perf_counter() - started:.1f} s")
            self.stdout.write("\n".join(lines))

    def live(self, o) -> None:
        from anyuan.simulator.live import HttpTransport, Live, Unreachable, load_tokens

        if o["registry_only"]:
            raise CommandError("--registry-only writes files; it does not go with --live")
        if not o["tokens"]:
            raise CommandError(
                "--live needs --tokens FILE: the devices' tokens, e.g. from "
                "anyuan device_tokens --out FILE"
            )
        try:
            tokens = load_tokens(Path(o["tokens"]))
        except FileNotFoundError:
            raise CommandError(f"no tokens file {o['tokens']}") from None
        except (OSError, ValueError) as e:
            raise CommandError(f"cannot read the tokens file {o['tokens']}: {e}") from None
        try:
            transport = HttpTransport(o["live"])
        except ValueError as e:
            raise CommandError(f"--live: {e}") from None
        try:
            transport.wait(o["wait"])
        except Unreachable as e:
            raise CommandError(f"{e}; is anyuan running there (anyuan serve)?") from None

        def say(line: str) -> None:
            if o["verbosity"] >= 1:
                self.stdout.write(line)
                self.stdout.flush()

        try:
            live = Live(
                o["scale"], o["seed"], o["start"], o["days"], tokens, transport, o["speed"],
                time_of_day=o["time_of_day"], log=say,
            )  # fmt: skip
        except ValueError as e:
            raise CommandError(str(e)) from None
        try:
            previous = signal.signal(signal.SIGTERM, live.stop)
        except ValueError:  # not the main thread: Ctrl+C and the caller stop it
            previous = None
        say(
            f"anyuan simulate: {o['scale']}, seed {o['seed']}, {o['days']} simulated day(s) "
            f"at {o['speed']:g}x into {o['live']} ({len(tokens)} device tokens); Ctrl+C stops"
        )
        try:
            live.run()
        except KeyboardInterrupt:
            live.stop()
            say(live.status_line())
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            transport.close()

    def prepare(self, out: Path, force: bool) -> None:
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out} exists and is not a directory")
        if out.is_dir() and any(out.iterdir()):
            if not force:
                raise CommandError(
                    f"{out} is not empty; choose another --out or add --force to replace "
                    f"an earlier run ({', '.join(OUTPUTS)})"
                )
            clear_outputs(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CommandError(f"cannot create {out}: {e.strerror or e}") from None
        if not os.access(out, os.W_OK):
            raise CommandError(f"{out} is not writable")
