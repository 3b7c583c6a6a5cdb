"""Figures the streams package measures itself for ``bordersync bench``."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from bordersync import codec
from bordersync.border import load_border_config
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from streams.due import DueIndex
from streams.processor import InRecord, Processor


def _exits(count: int, base: datetime) -> list[InRecord]:
    from bordersync.bench import event_pair

    records = []
    for i in range(count):
        exit_, _entry = event_pair(i, base)
        key = normalise_plate(exit_["plate"]).encode()
        records.append(InRecord(key, codec.encode("raw", exit_), [], "raw", 0, i))
    return records


def state_figures(settings: Settings, quick: bool = False) -> dict[str, Any]:
    """Memory per pending (unmatched) vehicle as the batch engine holds it: the state dict's
    keys, values and slots plus the sweep's time index, measured with tracemalloc after
    processing only EXITs."""
    count = 2_000 if quick else 20_000
    processor = Processor(settings, load_border_config(settings.border_config), settings.partitions)
    records = _exits(count, datetime.now(UTC) - timedelta(minutes=30))
    state: dict[str, bytes] = {}
    owner: dict[str, int] = {}
    due = DueIndex()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(0, count, 2000):
        result = processor.process(records[i:i + 2000], datetime.now(UTC), state.get)
        for plate, value in result.state.items():
            if value is not None:
                state[plate] = value
                owner[plate] = result.owner[plate]
        for plate, (when, pending) in result.schedule.items():
            due.set(plate, when, pending)
        del result
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {
        "bytes_per_pending_vehicle": round((after - before) / max(1, len(state))),
        "state_value_bytes_mean": round(sum(map(len, state.values())) / max(1, len(state))),
        "pending_vehicles_measured": len(state),
    }


def processor_figures(events: int = 20000) -> dict[str, float]:
    """The pure ``Processor.process`` rate (no broker) and its cost per event by stage:
    ``processor_events_per_s``, ``processor_us_per_event`` and ``processor_us_per_event_<stage>``
    for decode, validate, dedup_state, encode_outputs, encode_shares and other
    (``streams.bench_processor``; ``bench_processor.table`` prints them)."""
    from streams.bench_processor import figures

    return figures(events)
