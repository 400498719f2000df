"""``anyuan bench ingest`` end to end at the tiny scale: a few seconds of each phase, no
timing asserted — the figures are there and the log kept every accepted event once."""

from anyuan.bench import ingest

KEYS = (
    "bulk_events_per_s",
    "single_events_per_s",
    "alert_latency_p50_ms",
    "alert_latency_p99_ms",
    "raw_insert_rows_per_s",
    "noop_requests_per_s",
    "events",
    "database",
    "single_p50_ms",
    "single_p95_ms",
    "single_p99_ms",
    "bulk_batch",
    "bulk_connections",
    "connections",
    "server_workers",
    "lost",
    "stored_twice",
    "processor_backlog_end",
    "alerts_raised",
)


def test_ingest_benchmark_tiny(tmp_path, capsys):
    figures = ingest.run(
        {
            "scale": "tiny",
            "seconds": 1,
            "noop_seconds": 0.5,
            "connections": 8,
            "probes": 5,
            "probe_rate": 20,
            "live_wait": 5,
            "dir": str(tmp_path),
        }
    )
    missing = [key for key in KEYS if key not in figures]
    assert not missing
    assert figures["database"] == "sqlite"
    assert figures["lost"] == 0
    assert figures["stored_twice"] == 0
    assert figures["unexpected_rows"] == 0
    assert figures["events"] > 0
    assert figures["refused"] == 0, figures["refused_by_code"]
    assert figures["single_events"] > 0 and figures["bulk_events"] > 0
    assert figures["noop_requests"] > 0 and figures["raw_insert_rows"] > 0
    # the table: one row per headline figure, with the targets
    table = capsys.readouterr().err
    assert "bulk_events_per_s" in table and ">= 50,000" in table
    assert not list(tmp_path.iterdir())  # the benchmark directory is removed
