"""Prometheus metrics of the stream processors (dashboards are built from exactly these names)."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence

from prometheus_client import Counter, Gauge, Histogram

from streams.tally import Tally

EVENTS_IN = Counter("bordersync_events_in_total", "Raw records read by the streams worker.",
                    ["stream", "crossing"])
EVENTS_OUT = Counter("bordersync_events_out_total", "Records written by the streams worker.",
                     ["stream", "crossing"])
DUPLICATES = Counter("bordersync_duplicates_dropped_total",
                     "Input events not forwarded as duplicates.", ["kind"])
MATCHED = Counter("bordersync_matched_total", "EXIT/ENTRY pairs matched.", ["crossing"])
UNMATCHED = Counter("bordersync_unmatched_total", "Events with no partner after window + grace.",
                    ["crossing", "direction"])
DISCREPANCIES = Counter("bordersync_discrepancies_total", "Discrepancies on matched pairs.",
                        ["crossing", "field"])
ALERTS = Counter("bordersync_alerts_total", "Alerts raised.", ["type", "crossing"])
DLQ = Counter("bordersync_dlq_records_total", "Records sent to the dead-letter queue.",
              ["source", "stage"])
LATENCY = Histogram("bordersync_end_to_end_latency_seconds",
                    "Event time to the record being shared with partners.", ["stream"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
                             3600))
TRANSIT = Histogram("bordersync_transit_seconds", "Exit-to-entry transit time of matched pairs.",
                    ["crossing"],
                    buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800))
PENDING = Gauge("bordersync_pending_vehicles", "Crossings waiting for their partner.", ["crossing"])
SHARED = Counter("bordersync_shared_records_total", "Records written to share.<agency> topics.",
                 ["agency", "stream"])
RISK_ASSESSED = Counter("bordersync_risk_assessed_total", "Risk assessments by channel.",
                        ["crossing", "stage", "channel"])
RISK_HITS = Counter("bordersync_risk_hits_total", "Risk profile hits.", ["profile", "channel"])
RISK_OUTCOMES = Counter("bordersync_risk_outcomes_total",
                        "Inspection results joined to the vehicle's assessment.",
                        ["stage", "channel", "result"])
RISK_RULE_OUTCOMES = Counter("bordersync_risk_rule_outcomes_total",
                             "Inspection results of vehicles a profile hit.", ["profile", "result"])
RISK_DWELL = Histogram("bordersync_risk_dwell_seconds",
                       "Dwell time in controls, green lane vs other vehicles.", ["crossing", "lane"],
                       buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200))
REBALANCES = Counter("bordersync_rebalances_total", "Partition rebalances seen by this worker.")
# Batch engine, exactly-once (streams/runtime_writer.py, streams/runtime.py): a producer thrown
# away (fenced, fatal or hung) and replaced in-process, and transactions the consumer group refused
# because this worker had lost its partitions (a zombie's, aborted).
PRODUCERS_REPLACED = Counter("bordersync_txn_producers_replaced_total",
                             "Transactional producers replaced after a fence, fatal error or hang.")
TXN_FENCED = Counter("bordersync_txn_fenced_total",
                     "Transactions refused for a stale consumer group generation (zombie worker).")

_COUNTERS = {
    "events_in": EVENTS_IN, "events_out": EVENTS_OUT, "duplicates": DUPLICATES, "matched": MATCHED,
    "unmatched": UNMATCHED, "discrepancies": DISCREPANCIES, "alerts": ALERTS, "dlq": DLQ,
    "shared": SHARED, "risk_assessed": RISK_ASSESSED, "risk_hits": RISK_HITS,
    "risk_outcomes": RISK_OUTCOMES, "risk_rule_outcomes": RISK_RULE_OUTCOMES,
}
_HISTOGRAMS = {"latency": LATENCY, "transit": TRANSIT, "risk_dwell": RISK_DWELL}


def apply(tally: Tally) -> None:
    """One Prometheus call per distinct label set of a batch, not one per event."""
    for (name, labels), n in tally.counts.items():
        _COUNTERS[name].labels(*labels).inc(n)
    grouped: defaultdict[tuple[str, tuple[str, ...]], list[float]] = defaultdict(list)
    for name, labels, value in tally.observations:
        grouped[(name, labels)].append(value)
    for (name, labels), values in grouped.items():
        observe_many(_HISTOGRAMS[name].labels(*labels), values)


def observe_many(child: Histogram, values: Sequence[float]) -> None:
    """``child.observe(v)`` for every value, as one increment per bucket and one of the sum.

    Why: a batch observes about two latencies or transit times per event, and ``observe`` (a
    lock, a walk of the buckets) was a few percent of a worker's time. This reaches into the
    client's child (``_upper_bounds``, ``_buckets``, ``_sum``: the fields ``observe`` itself
    uses); ``observe`` is its oracle (tests/unit/test_metrics_observe_many.py). The sum may
    differ from one-by-one adding in the last bits only (the values summed first).
    """
    bounds: list[float] = child._upper_bounds
    buckets = getattr(child, "_buckets", None)
    if not values or not buckets:  # a parent, not a labelled child: ``observe`` says so
        for value in values:
            child.observe(value)
        return
    counts: defaultdict[int, int] = defaultdict(int)
    for value in values:
        # The first bucket whose bound is >= value; NaN none, as in ``observe``.
        counts[bisect_left(bounds, value) if value == value else len(bounds)] += 1
    for index, n in counts.items():
        if index < len(buckets):
            buckets[index].inc(n)
    child._sum.inc(sum(values))


def set_pending(per_crossing: dict[str, int], crossings: list[str]) -> None:
    for crossing in crossings:
        PENDING.labels(crossing).set(per_crossing.get(crossing, 0))
