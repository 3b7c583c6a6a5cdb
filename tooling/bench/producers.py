"""Outbox throughput for ``bordersync bench``: how fast a terminal durably accepts and delivers."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bordersync.settings import Settings
from producers.sdk import Terminal
from producers.sender import Sender
from tooling.simulate import simulate

BATCH = 500


def outbox_rates(settings: Settings, quick: bool = False) -> dict[str, Any]:
    """Events/s: accepted one per call (one fsync each, the SDK's ``record_*`` path), accepted
    in batches of 500 (``submit_many`` / ``publish``), and delivered to the broker (acks=all,
    idempotent, rows deleted on delivery reports). Publishes to ``settings.topic("raw")``."""
    total = 5_000 if quick else 50_000
    single = 300 if quick else 2_000
    events = _events(total + single)
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        local = settings.model_copy(update={"home": Path(tmp)})
        term = Terminal(local, "bench", send=False, max_rows=total + single)
        try:
            started = time.perf_counter()
            for event in events[:single]:
                term.submit(event)
            single_rate = single / (time.perf_counter() - started)

            started = time.perf_counter()
            rest = events[single:]
            for i in range(0, len(rest), BATCH):
                term.submit_many(rest[i:i + BATCH])
            batch_rate = len(rest) / (time.perf_counter() - started)

            queued = term.depth()
            sender = Sender(term.outbox, local, "bench")
            started = time.perf_counter()
            stats = sender.start().close(timeout=300)
            deliver_rate = stats.delivered / (time.perf_counter() - started)
        finally:
            term.close(timeout=0)
    return {
        "outbox_accept_per_s": round(single_rate),
        "outbox_accept_batch_per_s": round(batch_rate),
        "outbox_deliver_per_s": round(deliver_rate),
        "outbox_bench_events": queued,
        "outbox_bench_undelivered": stats.remaining,
    }


def _events(count: int) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(hours=3)
    out: list[dict[str, Any]] = []
    seed = 0
    while len(out) < count:
        out += simulate(1000 + seed, max(100, (count - len(out)) // 2), start,
                        span=timedelta(hours=1), id_prefix=f"bench{time.time_ns():x}-").events
        seed += 1
    return out[:count]
