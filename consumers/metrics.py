"""Prometheus metrics of partner-agency consumers, the read model and the lookup API."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter("bordersync_consumer_records_total",
                  "Share records stored in the read model (duplicates included)", ["agency", "stream"])
ERRORS = Counter("bordersync_consumer_errors_total",
                 "Share records skipped or trimmed, and client errors, by reason", ["agency", "reason"])
WRITES = Counter("bordersync_readmodel_writes_total",
                 "Records newly applied to the read model (first delivery)", ["agency"])
DUPLICATES = Counter("bordersync_readmodel_duplicates_total",
                     "Re-delivered records the idempotent sink left unchanged", ["agency"])
COMMITS = Counter("bordersync_consumer_commit_total", "Synchronous offset commits", ["agency"])
REBALANCES = Counter("bordersync_consumer_rebalances_total",
                     "Partition assignments and revocations", ["agency"])
REBUILDS = Counter("bordersync_readmodel_rebuilds_total",
                   "Rewinds to the start of the share topic because the read model was empty",
                   ["agency"])
LAG = Gauge("bordersync_consumer_lag_records",
            "Records not yet consumed: max(high watermark, last consumed + 1) - position",
            ["group", "topic", "partition"])
LOOKUP_LATENCY = Histogram(
    "bordersync_lookup_latency_seconds", "Time to answer one vehicle lookup from the read model",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
