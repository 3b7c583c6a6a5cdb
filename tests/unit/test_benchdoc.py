"""docs/performance.md is generated from the recorded bench runs and matches them."""

from __future__ import annotations

import json
from pathlib import Path

from tooling.bench import doc as benchdoc


def test_performance_page_matches_the_recorded_runs() -> None:
    runs = benchdoc.load_runs()
    assert runs, "record at least one run in docs/bench/"
    assert benchdoc.PAGE.read_text() == benchdoc.render(runs), (
        "docs/performance.md is stale: python -m tooling.bench.doc render")


def test_add_records_the_last_json_line_and_renders_every_known_figure(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    out.write_text("human table\n" + json.dumps({
        "machine": {"cores": 2, "cpu_model": "x", "python": "3.11"}, "broker": "apache-kafka 9",
        "pipeline_events_per_s": 1234, "dedup_forward_events_per_s": {"batch": 10, "faust": 5},
        "pipeline_vs_raw_loop": 0.5}) + "\n")
    benchdoc.add(out, "run1", "a label", "bordersync bench --json", directory=tmp_path / "runs")
    page = benchdoc.render(benchdoc.load_runs(tmp_path / "runs"))
    assert "| full pipeline, one worker | events/s | 1,234 |" in page
    assert "| runtime doing dedup + forward only | events/s | batch 10 / faust 5 |" in page
    assert "apache-kafka 9" in page and "`bordersync bench --json`" in page
