"""`bordersync demo` and `bordersync bench --quick` as `make demo` / `make bench` run them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.conftest import BIN
from tooling import devbroker, stack


def _run(args: list[str], home: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "BORDERSYNC_HOME": str(home)}
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_demo_shows_flow_and_leaves_nothing_running(tmp_path: Path) -> None:
    result = _run(["demo", "--duration", "15", "--rate", "40"], tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", out.split("\n", 3)[1])]
    assert len(ports) == 2, out
    assert all(not stack.port_in_use(p) for p in ports)
    summary = json.loads(out.split("final summary:", 1)[1].split("\n}", 1)[0] + "\n}")
    assert summary["events_published"] > 0
    assert summary["crossings"] > 0
    # Both sides' signed example profiles apply: every crossing gets an assessment.
    assert summary["risk"]["assessments"] > 0 and "green_lane_share" in summary["risk"]
    assert "stopped: worker" in out
    assert not (tmp_path / "demo" / "stack.json").exists()


def test_bench_quick_prints_one_json_object_last(tmp_path: Path) -> None:
    result = _run(["bench", "--quick", "--json"], tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("pipeline_events_per_s", "raw_loop_events_per_s", "latency_p50_ms_at_500",
                "latency_p99_ms_at_500", "backlog_1m_seconds", "bytes_per_pending_vehicle",
                "machine"):
        assert key in figures
    assert figures["raw_loop_events_per_s"]
    assert figures["machine"]["cores"]
    assert figures["broker"] == devbroker.describe() == f"apache-kafka {devbroker.KAFKA_VERSION}"
