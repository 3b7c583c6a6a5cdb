"""deploy/grafana: dashboards are valid Grafana JSON, in sync with build.py, and query known metrics."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
METRIC = re.compile(r"\b(bordersync_[a-z0-9_]+)")
# A metric definition: the name as the first argument of a prometheus-client constructor.
DEFINED = re.compile(
    r"\b(?:Counter|Gauge|Histogram|Summary|Info|Enum|GaugeMetricFamily|CounterMetricFamily)\(\s*"
    r"[\"'](bordersync_[a-z0-9_]+)[\"']")


def _build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_build", GRAFANA / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text("utf-8")) for p in sorted((GRAFANA / "dashboards").glob("*.json"))}


def _datasource_uid() -> str:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (source,) = doc["datasources"]
    assert source["type"] == "prometheus"
    return str(source["uid"])


def test_committed_json_equals_build_output() -> None:
    build = _build()
    files = _dashboards()
    expected = build.dashboards()
    assert set(files) == set(expected) == {"border-overview.json", "pipeline-health.json"}
    for name, doc in expected.items():
        assert (GRAFANA / "dashboards" / name).read_text("utf-8") == build.render(doc), (
            f"{name} is stale: run .venv/bin/python deploy/grafana/build.py")


def test_dashboard_essentials() -> None:
    uid = _datasource_uid()
    uids = set()
    for name, dash in _dashboards().items():
        assert dash["uid"] and dash["title"] and isinstance(dash["schemaVersion"], int), name
        uids.add(dash["uid"])
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in dash["panels"]:
            where = f"{name}: {panel['title']}"
            assert panel["type"] in {"timeseries", "stat", "bargauge", "table"}, where
            assert panel["datasource"]["uid"] == uid, where
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, where
            assert panel["targets"], where
            for target in panel["targets"]:
                assert target["expr"].strip(), where
                assert target["datasource"] == {"type": "prometheus", "uid": uid}, where
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), where
        for var in dash["templating"]["list"]:
            assert var["datasource"]["uid"] == uid
    assert len(uids) == 2


def test_panels_do_not_overlap() -> None:
    for name, dash in _dashboards().items():
        cells: set[tuple[int, int]] = set()
        for panel in dash["panels"]:
            g = panel["gridPos"]
            mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not cells & mine, f"{name}: {panel['title']} overlaps"
            cells |= mine


def test_exprs_are_balanced_and_use_documented_metrics() -> None:
    documented = set(METRIC.findall((ROOT / "docs" / "metrics.md").read_text("utf-8")))
    for name, dash in _dashboards().items():
        for panel in dash["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for a, b in ("()", "{}", "[]"):
                    assert expr.count(a) == expr.count(b), (name, expr)
                for metric in METRIC.findall(expr):
                    base = re.sub(r"_(bucket|sum|count)$", "", metric)
                    assert base in documented or metric in documented, (name, metric)


def test_issue_topics_are_covered() -> None:
    text = {name: json.dumps(dash) for name, dash in _dashboards().items()}
    for metric in ("bordersync_events_in_total", "bordersync_transit_seconds", "bordersync_alerts_total",
                   "bordersync_matched_total", "bordersync_unmatched_total",
                   "bordersync_shared_records_total"):
        assert metric in text["border-overview.json"], metric
    for metric in ("bordersync_end_to_end_latency_seconds", "bordersync_consumer_lag_records",
                   "bordersync_dlq_records_total", "bordersync_outbox_depth",
                   "bordersync_outbox_oldest_age_seconds", "bordersync_rebalances_total"):
        assert metric in text["pipeline-health.json"], metric


def test_provisioning_points_at_the_dashboards() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "bordersync.yml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]


def test_every_metric_in_code_is_documented() -> None:
    documented = set(METRIC.findall((ROOT / "docs" / "metrics.md").read_text("utf-8")))
    defined = {
        m for package in ("bordersync", "producers", "streams", "consumers")
        for path in (ROOT / package).rglob("*.py")
        for m in DEFINED.findall(path.read_text("utf-8"))
    }
    assert defined, "no metrics found"
    assert not defined - documented, f"add to docs/metrics.md: {sorted(defined - documented)}"


def test_every_expr_parses_with_promtool(tmp_path: Path) -> None:
    # promtool has no query linter, but it parses every rule's PromQL: one recording rule per query.
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make test` installs it (deploy/scripts/system-deps.sh)"
    rules = []
    for dash in _dashboards().values():
        for panel in dash["panels"]:
            for target in panel["targets"]:
                expr = target["expr"].replace("$__rate_interval", "2m").replace('"$crossing"', '".*"')
                rules.append({"record": f"dashboard:check:{len(rules)}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(rules)} rules found" in done.stdout
