"""``anyuan bench dashboard`` end to end at the tiny scale: the figures are there (no
timing asserted) and the benchmark directory is removed."""

from anyuan.bench import dashboard


def test_dashboard_benchmark_tiny(tmp_path, capsys):
    figures = dashboard.run(
        {"scale": "tiny", "days": 4, "presence_days": 2, "calls": 2, "dir": str(tmp_path)}
    )
    names = {f"{e}{s}" for e in dashboard.ENDPOINTS for s in ("", "[grid]", "[enterprise]")}
    assert set(figures["endpoints"]) == {n.replace("-", "_") for n in names}
    for e in figures["endpoints"].values():
        assert 0 < e["p50_ms"] <= e["p95_ms"] <= e["max_ms"]
    assert figures["p95_ms"] == max(e["p95_ms"] for e in figures["endpoints"].values())
    sizes = figures["sizes"]
    assert sizes["passagehour_rows"] > 0 and sizes["presences_open"] > 0 and sizes["alerts"] > 0
    assert figures["history_passagehour_rows"] > 0
    assert figures["rebuild_days"] >= 1
    assert "overall p95" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
