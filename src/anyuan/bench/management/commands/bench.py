import importlib
import json
import pkgutil
import resource
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

import anyuan.bench as bench_pkg

# modules of the package that are not benchmarks
NOT_BENCHMARKS = ("management", "apps", "tests", "asgi")


def available() -> dict[str, str]:
    names = {}
    for info in pkgutil.iter_modules(bench_pkg.__path__):
        if info.name not in NOT_BENCHMARKS and not info.name.startswith("_"):
            names[info.name] = f"anyuan.bench.{info.name}"
    return names


class Command(BaseCommand):
    help = "Run a benchmark: anyuan bench NAME [--out FILE.json] [options]"

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="benchmark", required=True, metavar="NAME")
        for name, module_name in sorted(available().items()):
            module = importlib.import_module(module_name)
            sub = subparsers.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
            sub.add_argument("--out", help="write the figures as JSON to this file")
            module.add_arguments(sub)

    def handle(self, *args, **options):
        name = options["benchmark"]
        module = importlib.import_module(available()[name])
        started = time.perf_counter()
        try:
            figures = module.run(options)
        except ValueError as e:
            raise CommandError(str(e)) from None
        figures.setdefault("benchmark", name)
        figures.setdefault("wall_s", round(time.perf_counter() - started, 3))
        figures.setdefault(
            "peak_rss_mb", round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        )
        text = json.dumps(figures, ensure_ascii=False, indent=2)
        self.stdout.write(text)
        if options.get("out"):
            out = Path(options["out"])
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text + "\n")
            print(f"wrote {out}", file=sys.stderr)
