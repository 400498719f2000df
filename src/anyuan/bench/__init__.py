"""Benchmarks: ``anyuan bench NAME --out FILE.json`` prints figures and writes JSON.

Each benchmark is a module ``anyuan.bench.<name>`` with ``add_arguments(parser)`` and
``run(options) -> dict`` (the command adds ``wall_s`` and ``peak_rss_mb``). Figures, not
pass/fail: speed is never checked in timed tests.
"""
