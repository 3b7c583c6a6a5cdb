"""Builds the Grafana dashboards (JSON) from the panel lists below.

    .venv/bin/python deploy/grafana/build.py        # rewrites deploy/grafana/dashboards/*.json

The JSON files are committed (Grafana provisioning reads them); tests/unit/test_dashboards.py
checks they equal this script's output and are valid dashboards, and
tests/integration/test_prometheus.py runs every query against a real Prometheus.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "bordersync-prometheus"}
OUT = Path(__file__).resolve().parent / "dashboards"
C = 'crossing=~"$crossing"'  # the crossing template variable (All = .*)
RI = "$__rate_interval"


@dataclass(frozen=True)
class Panel:
    title: str
    exprs: list[tuple[str, str]]  # (PromQL, legend)
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    height: int = 8
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def _q(quantile: float, metric: str, by: str, selector: str = "") -> str:
    return (f"histogram_quantile({quantile}, sum by ({by}le) "
            f"(rate({metric}_bucket{{{selector}}}[{RI}])))")


BORDER_OVERVIEW: list[Panel] = [
    Panel("Matched pairs (1h)", [(f"sum(increase(bordersync_matched_total{{{C}}}[1h]))", "matched")],
          kind="stat", width=6, height=4),
    Panel("Vehicles waiting for their partner",
          [(f"sum(bordersync_pending_vehicles{{{C}}})", "pending")], kind="stat", width=6, height=4,
          description="EXIT or ENTRY events not yet paired (within window + grace)."),
    Panel("Alerts raised (1h)", [(f"sum(increase(bordersync_alerts_total{{{C}}}[1h]))", "alerts")],
          kind="stat", width=6, height=4),
    Panel("Unmatched (1h)", [(f"sum(increase(bordersync_unmatched_total{{{C}}}[1h]))", "unmatched")],
          kind="stat", width=6, height=4),
    Panel("Traffic per crossing (events/s)",
          [(f"sum by (crossing) (rate(bordersync_events_in_total{{{C}}}[{RI}]))", "{{crossing}}")],
          unit="reqps", description="Raw events read by the stream workers, per joint crossing."),
    Panel("Matched vs unmatched per crossing (per s)",
          [(f"sum by (crossing) (rate(bordersync_matched_total{{{C}}}[{RI}]))", "matched {{crossing}}"),
           (f"sum by (crossing, direction) (rate(bordersync_unmatched_total{{{C}}}[{RI}]))",
            "unmatched {{direction}} {{crossing}}")], unit="reqps"),
    Panel("Transit time p50 / p90 (exit → entry)",
          [(_q(0.5, "bordersync_transit_seconds", "crossing, ", C), "p50 {{crossing}}"),
           (_q(0.9, "bordersync_transit_seconds", "crossing, ", C), "p90 {{crossing}}")], unit="s"),
    Panel("Vehicles waiting per crossing",
          [(f"sum by (crossing) (bordersync_pending_vehicles{{{C}}})", "{{crossing}}")]),
    Panel("Alerts by type (per s)",
          [(f"sum by (type) (rate(bordersync_alerts_total{{{C}}}[{RI}]))", "{{type}}")], unit="reqps"),
    Panel("Discrepancies by field (1h)",
          [(f"sum by (field) (increase(bordersync_discrepancies_total{{{C}}}[1h]))", "{{field}}")],
          kind="bargauge"),
    Panel("Records shared per agency (per s)",
          [(f"sum by (agency) (rate(bordersync_shared_records_total[{RI}]))", "{{agency}}")],
          unit="reqps", description="Records written to each share.<agency> topic."),
    Panel("Duplicates dropped by kind (per s)",
          [(f"sum by (kind) (rate(bordersync_duplicates_dropped_total[{RI}]))", "{{kind}}")],
          unit="reqps"),
]

RA = "bordersync_risk_assessed_total"
PRE = f'{C}, stage="PRE_ARRIVAL"'
POS = 'result=~"HOLD|SEIZED"'
# Joint risk management (docs/risk.md): both sides see the green lane and the hit rates.
BORDER_OVERVIEW += [
    Panel("Green-lane share before arrival (1h)",
          [(f'sum(increase({RA}{{{PRE}, channel="GREEN"}}[1h])) / sum(increase({RA}{{{PRE}}}[1h]))',
            "green lane")], kind="stat", unit="percentunit", width=6, height=4,
          description="Pre-arrival assessments in the GREEN channel (mutually recognised AEO, "
                      "clean history, no RED profile)."),
    Panel("RED selections (1h)",
          [(f'sum(increase({RA}{{{PRE}, channel="RED"}}[1h]))', "RED")], kind="stat", width=6,
          height=4),
    Panel("Hit rate of RED (6h)",
          [(f'sum(increase(bordersync_risk_outcomes_total{{channel="RED", {POS}}}[6h])) / '
            'sum(increase(bordersync_risk_outcomes_total{channel="RED"}[6h]))', "RED")],
          kind="stat", unit="percentunit", width=6, height=4,
          description="Inspections of RED-selected vehicles that ended in HOLD or SEIZED."),
    Panel("Hit rate of the rest (6h)",
          [(f'sum(increase(bordersync_risk_outcomes_total{{channel!="RED", {POS}}}[6h])) / '
            'sum(increase(bordersync_risk_outcomes_total{channel!="RED"}[6h]))', "not RED")],
          kind="stat", unit="percentunit", width=6, height=4),
    Panel("Risk channel per crossing before arrival (per s)",
          [(f"sum by (crossing, channel) (rate({RA}{{{PRE}}}[{RI}]))",
            "{{channel}} {{crossing}}")], unit="reqps"),
    Panel("Dwell in controls p50 / p90: green lane vs other",
          [(_q(0.5, "bordersync_risk_dwell_seconds", "lane, ", C), "p50 {{lane}}"),
           (_q(0.9, "bordersync_risk_dwell_seconds", "lane, ", C), "p90 {{lane}}")], unit="s"),
    Panel("Hit rate per risk profile (6h)",
          [(f"sum by (profile) (increase(bordersync_risk_rule_outcomes_total{{{POS}}}[6h])) / "
            "sum by (profile) (increase(bordersync_risk_rule_outcomes_total[6h]))", "{{profile}}")],
          kind="bargauge", unit="percentunit", width=24,
          description="Of the inspected vehicles a profile hit, the share held or seized; "
                      "`bordersync risk report` gives the same per channel and rule from the topics."),
]

PIPELINE_HEALTH: list[Panel] = [
    Panel("Processes up", [('sum by (job) (up{job=~"bordersync-.*"})', "{{job}}")], kind="stat",
          width=8, height=4),
    Panel("Firing alerts", [('count by (alertname) (ALERTS{alertstate="firing"})', "{{alertname}}")],
          kind="stat", width=8, height=4,
          description="From deploy/prometheus/rules/bordersync.yml."),
    Panel("Versions running", [("count by (version, role) (bordersync_build_info)",
                                "{{role}} {{version}}")], kind="stat", width=8, height=4),
    Panel("Stream throughput (records/s)",
          [(f"sum by (stream) (rate(bordersync_events_in_total[{RI}]))", "in {{stream}}"),
           (f"sum by (stream) (rate(bordersync_events_out_total[{RI}]))", "out {{stream}}")],
          unit="reqps"),
    Panel("End-to-end latency p50 / p99 (event time → shared)",
          [(_q(0.5, "bordersync_end_to_end_latency_seconds", "stream, "), "p50 {{stream}}"),
           (_q(0.99, "bordersync_end_to_end_latency_seconds", "stream, "), "p99 {{stream}}")],
          unit="s"),
    Panel("Consumer lag per group (records)",
          [("sum by (group) (max by (group, topic, partition) (bordersync_consumer_lag_records))",
            "{{group}}")],
          description="Log-end offset minus the group's committed offset, per partition, summed per group."),
    Panel("DLQ records (per s)",
          [(f"sum by (source, stage) (rate(bordersync_dlq_records_total[{RI}]))",
            "{{source}} {{stage}}")], unit="reqps"),
    Panel("Outbox depth per terminal", [("sum by (terminal) (bordersync_outbox_depth)", "{{terminal}}")]),
    Panel("Oldest undelivered event per terminal",
          [("max by (terminal) (bordersync_outbox_oldest_age_seconds)", "{{terminal}}")], unit="s"),
    Panel("Outbox accepted / delivered / failed (per s)",
          [(f"sum(rate(bordersync_outbox_accepted_total[{RI}]))", "accepted"),
           (f"sum(rate(bordersync_outbox_delivered_total[{RI}]))", "delivered"),
           (f"sum(rate(bordersync_outbox_failed_total[{RI}]))", "failed"),
           (f"sum(rate(bordersync_publish_rejected_total[{RI}]))", "rejected by validation")],
          unit="reqps"),
    Panel("Rebalances (1h)",
          [("sum by (job) (increase(bordersync_rebalances_total[1h]))", "worker {{job}}"),
           ("sum by (agency) (increase(bordersync_consumer_rebalances_total[1h]))",
            "consumer {{agency}}")]),
    Panel("Stream transactions: producers replaced / fenced (1h)",
          [("sum by (instance) (increase(bordersync_txn_producers_replaced_total[1h]))",
            "replaced {{instance}}"),
           ("sum by (instance) (increase(bordersync_txn_fenced_total[1h]))",
            "fenced {{instance}}")],
          description="A producer thrown away (fenced, fatal or hung) and replaced in-process; a "
                      "transaction the group refused because the worker had lost its partitions."),
    Panel("Agency consumers (records/s)",
          [(f"sum by (agency) (rate(bordersync_consumer_records_total[{RI}]))", "read {{agency}}"),
           (f"sum by (agency) (rate(bordersync_readmodel_writes_total[{RI}]))", "applied {{agency}}"),
           (f"sum by (agency) (rate(bordersync_consumer_commit_total[{RI}]))", "commits {{agency}}")],
          unit="reqps"),
    Panel("Consumer errors by reason (per s)",
          [(f"sum by (agency, reason) (rate(bordersync_consumer_errors_total[{RI}]))",
            "{{agency}} {{reason}}")], unit="reqps"),
    Panel("Lookup latency p50 / p99",
          [(_q(0.5, "bordersync_lookup_latency_seconds", ""), "p50"),
           (_q(0.99, "bordersync_lookup_latency_seconds", ""), "p99")], unit="s"),
]


def _panel(pid: int, panel: Panel, x: int, y: int) -> dict[str, Any]:
    targets = [
        {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend,
         "range": True}
        for i, (expr, legend) in enumerate(panel.exprs)
    ]
    return {
        "id": pid, "type": panel.kind, "title": panel.title, "description": panel.description,
        "datasource": DATASOURCE, "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": panel.options,
    }


def _layout(panels: list[Panel]) -> list[dict[str, Any]]:
    """Left to right, wrapping at Grafana's 24 columns."""
    out, x, y, row_h = [], 0, 0, 0
    for pid, panel in enumerate(panels, start=1):
        if x + panel.width > 24:
            x, y, row_h = 0, y + row_h, 0
        out.append(_panel(pid, panel, x, y))
        x, row_h = x + panel.width, max(row_h, panel.height)
    return out


def _crossing_variable() -> dict[str, Any]:
    query = "label_values(bordersync_events_in_total, crossing)"
    return {
        "name": "crossing", "label": "Crossing", "type": "query", "datasource": DATASOURCE,
        "query": {"query": query, "refId": "crossing"}, "definition": query,
        "includeAll": True, "allValue": ".*", "multi": True, "refresh": 2, "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


def dashboard(uid: str, title: str, panels: list[Panel], description: str,
              variables: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "description": description, "tags": ["bordersync"],
        "timezone": "utc", "schemaVersion": 39, "version": 1, "editable": True,
        "graphTooltip": 1, "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables}, "annotations": {"list": []},
        "panels": _layout(panels),
    }


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        "border-overview.json": dashboard(
            "bordersync-border-overview", "bordersync · Border overview", BORDER_OVERVIEW,
            "Per-crossing traffic, matching, transit times, alerts and sharing.",
            [_crossing_variable()]),
        "pipeline-health.json": dashboard(
            "bordersync-pipeline-health", "bordersync · Pipeline health", PIPELINE_HEALTH,
            "Throughput, latency, lag, DLQ, outboxes, consumers and rebalances.", []),
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, doc in dashboards().items():
        (OUT / name).write_text(render(doc), "utf-8")
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
