"""Terminal-side metrics (default registry). Dashboards are built from exactly these names."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

OUTBOX_DEPTH = Gauge(
    "bordersync_outbox_depth", "Events accepted by the terminal and not yet acknowledged by the broker",
    ["terminal"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "bordersync_outbox_oldest_age_seconds",
    "Age of the oldest undelivered event in the outbox (0 when empty)", ["terminal"],
)
OUTBOX_ACCEPTED = Counter(
    "bordersync_outbox_accepted_total", "Events durably accepted into the outbox", ["terminal"],
)
OUTBOX_DELIVERED = Counter(
    "bordersync_outbox_delivered_total", "Events acknowledged by the broker and removed from the outbox",
    ["terminal"],
)
OUTBOX_FAILED = Counter(
    "bordersync_outbox_failed_total",
    "Failed delivery attempts (the event stays in the outbox and is retried)", ["terminal"],
)
OUTBOX_POISONED = Counter(
    "bordersync_outbox_poisoned_total",
    "Events the broker can never accept (too large, invalid), moved aside so later ones flow; "
    "each also counts in bordersync_outbox_failed_total, so BordersyncOutboxFailing fires",
    ["terminal"],
)
OUTBOX_POISON_ROWS = Gauge(
    "bordersync_outbox_poison_rows",
    "Events kept aside in the outbox's poison table (`bordersync outbox requeue` sends them again)",
    ["terminal"],
)
PUBLISH_REJECTED = Counter(
    "bordersync_publish_rejected_total", "Input events rejected by validation before the outbox",
)
