"""Tumbling per-crossing/direction windows."""

from __future__ import annotations

from streams.logic.stats import EVENT, MATCHED, UNMATCHED, Fact, StatsWindows, percentile


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


def test_windows_emit_when_closed_and_again_when_changed() -> None:
    w = StatsWindows(size_s=300, lateness_s=60)
    for t in (0, 10, 299):
        w.add(Fact("c", "EXIT", t, EVENT))
    w.add(Fact("c", "EXIT", 20, MATCHED, 600.0))
    w.add(Fact("c", "EXIT", 30, MATCHED, 900.0))
    w.add(Fact("c", "EXIT", 40, UNMATCHED))
    w.add(Fact("c", "ENTRY", 301, EVENT))
    assert w.due(359) == []
    (rec,) = w.due(360)
    assert (rec["crossing"], rec["direction"], rec["count"]) == ("c", "EXIT", 3)
    assert (rec["matched"], rec["unmatched"]) == (2, 1)
    assert (rec["transit_p50_seconds"], rec["transit_max_seconds"]) == (600.0, 900.0)
    assert rec["window_end"].timestamp() - rec["window_start"].timestamp() == 300
    assert w.due(361) == []  # emitted once
    w.add(Fact("c", "EXIT", 50, EVENT))  # late fact: the window is emitted again, updated
    (again,) = w.due(362)
    assert again["count"] == 4
    (entry,) = w.due(660)
    assert entry["direction"] == "ENTRY" and entry["transit_p95_seconds"] is None
