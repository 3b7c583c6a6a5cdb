"""Live mode: simulated traffic published through the terminal SDK at a steady rate.

Event times are near now (the last three hours); ids carry a per-run tag so repeated runs on
one cluster never collide with earlier runs' ids (the traffic itself still follows the seed).
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, TextIO

from bordersync.settings import Settings
from producers.outbox import OutboxFull
from producers.sdk import Terminal
from tooling.simulate import simulate

CHUNK_VEHICLES = 2_000
TICK_S = 0.1
LIVE_SPAN = timedelta(minutes=30)
LIVE_LEAD = timedelta(minutes=75)  # exits in [now-75, now-45] min: entries land before now


def _events(seed: int, settings: Settings, tag: str, vehicles: int) -> Iterator[dict[str, Any]]:
    chunk = 0
    while True:
        start = datetime.now(UTC) - LIVE_LEAD
        sim = simulate(seed + chunk, vehicles, start, span=LIVE_SPAN, settings=settings,
                       id_prefix=f"{tag}{chunk}-")
        yield from sim.events
        chunk += 1


def _raise_interrupt(_sig: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_live(settings: Settings, seed: int, rate: float, duration: float, terminal: str,
             out: TextIO = sys.stderr, progress_every: float = 10.0) -> dict[str, Any]:
    """Publish ``rate`` events/s for ``duration`` s, a progress line on ``out`` every
    ``progress_every`` s; returns the summary (the command prints it in its ``-o`` format)."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    tag = f"live{int(time.time()):x}-"
    # About 2.4 events per vehicle; a chunk covers the run (or 2,000 vehicles at a time).
    vehicles = max(50, min(CHUNK_VEHICLES, int(rate * duration / 2.4) + 20))
    source = _events(seed, settings, tag, vehicles)
    accepted = full = 0
    term = Terminal(settings, terminal)
    started = last_note = time.monotonic()
    backlog: list[dict[str, Any]] = []
    try:
        while (elapsed := time.monotonic() - started) < duration:
            due = min(int(rate * elapsed) - accepted, max(1, int(rate)))
            while len(backlog) < due:
                backlog.append(next(source))
            if due > 0:
                try:
                    term.submit_many(backlog[:due])
                    del backlog[:due]
                    accepted += due
                except OutboxFull:
                    full += 1  # broker away for long: keep the events and try next tick
            if time.monotonic() - last_note >= progress_every:
                last_note = time.monotonic()
                print(f"# simulate: {accepted} accepted, "
                      f"{term.sender.delivered if term.sender else 0} delivered, "
                      f"outbox {term.depth()}", file=out, flush=True)
            time.sleep(TICK_S)
    except KeyboardInterrupt:
        pass
    finally:
        stats = term.close(timeout=5.0)
    summary = {"accepted": accepted, "delivered": stats.delivered, "queued": stats.remaining,
               "failed_attempts": stats.failed, "outbox_full_ticks": full}
    return summary
