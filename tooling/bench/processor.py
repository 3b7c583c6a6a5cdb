"""The pure stream processor's CPU cost per event, and where it goes (no broker).

Workload: ``tooling.bench.run.event_pair`` EXIT/ENTRY pairs (every pair matched, both crossings
and the match shared with the crossing's agencies), fed to ``Processor.process`` in 2,000-record
batches with fixed clocks, so every run does the same work (the workload of issue 8's profile).

The total is one plain run (CPU time). The stages are its shares as measured in place, in a
second run over the first batches with the stage functions wrapped in clocks: measured apart,
the same functions cost less (caches stay warm), which would understate them. Records and their
share projections come from one fused encode; its time is split between ``encode_outputs`` and
``encode_shares`` in the proportion the two take when measured apart. ``other`` is the rest:
matching, dwell and stats facts, tallies, output records, batch plumbing (the wrappers' own
small cost lands in the stages, so ``other`` is if anything understated).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import streams.processor as processor_module
from bordersync.border import load_border_config
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from bordersync.wire import avro_share, codec, splicing
from streams import gctune
from streams.logic import model
from streams.logic.sharing import ShareRouter
from streams.processor import BatchResult, InRecord, Processor

BATCH = 2000
INSTRUMENTED = 4000  # records of the in-place stage run
OUTPUTS = ("crossings", "inspections", "matched", "alerts")  # the streams ``_emit`` shares
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
_clock = time.process_time  # the total: CPU time, steadier than wall time on a busy machine
_tick = time.perf_counter  # the stage clocks: cheap enough to wrap calls a few µs long


def raw_records(events: int) -> list[InRecord]:
    from tooling.bench.load import event_pair

    base = NOW - timedelta(hours=1)
    records: list[InRecord] = []
    for i in range((events + 1) // 2):
        for event in event_pair(i, base):
            key = normalise_plate(event["plate"]).encode()
            records.append(InRecord(key, codec.encode("raw", event), [], "raw", 0, len(records)))
    normalise_plate.cache_clear()  # the processor meets these plates cold, as a worker would
    return records[:events]


def run_batches(processor: Processor, records: list[InRecord],
         keep: Callable[[int, BatchResult], None] | None = None,
         clock: Callable[[], float] = _clock) -> float:
    state: dict[str, bytes] = {}
    spent = 0.0
    for n, i in enumerate(range(0, len(records), BATCH)):
        start = clock()
        result = processor.process(records[i:i + BATCH], NOW + timedelta(seconds=n), state.get)
        spent += clock() - start
        if keep is not None:
            keep(n, result)
        for plate, value in result.state.items():
            if value is None:
                state.pop(plate, None)
            else:
                state[plate] = value
    return spent


# (owner, attribute, stage): what the processor calls, looked up where it looks it up.
_STAGES: list[tuple[Any, str, str]] = [
    (codec, "decode", "decode"),
    (splicing.Splicing, "read", "decode"),  # canonical input: the decode, noting field ends
    (processor_module, "validated", "validate"),  # with the content digest, one pass (dedup)
    (processor_module, "admit", "dedup_state"),  # classify and remember, one call
    (model.VehicleState, "expire", "dedup_state"),
    (model.VehicleState, "encode", "dedup_state"),
    (processor_module._Batch, "state", "dedup_state"),
    (avro_share.SharedEncoder, "encode", "encode"),
    (splicing.Splicing, "chunks", "encode"),  # the spliced fields of crossings and inspections
]


@contextmanager
def _stage_clocks(spent: dict[str, float]) -> Iterator[None]:
    originals = [(owner, name, owner.__dict__[name]) for owner, name, _ in _STAGES]
    try:
        for (owner, name, stage), (_, _, original) in zip(_STAGES, originals, strict=True):
            setattr(owner, name, _clocked(original, stage, spent))
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _clocked(original: Any, stage: str, spent: dict[str, float]) -> Any:
    function = original.__func__ if isinstance(original, classmethod) else original

    def clocked(*args: Any, **kwargs: Any) -> Any:
        start = _tick()
        try:
            return function(*args, **kwargs)
        finally:
            spent[stage] += _tick() - start

    return classmethod(clocked) if isinstance(original, classmethod) else clocked


def _encode_split(results: list[BatchResult], border: Any) -> float:
    """The share of the fused encode that is the records' own encode (the rest: projections)."""
    router = ShareRouter(border)
    items = []
    for n, result in enumerate(results):
        for out in result.outputs:
            if out.stream in OUTPUTS:
                record = codec.decode(out.stream, out.value)
                assert isinstance(record, dict)
                groups = router.groups(out.stream, record["crossing"])
                items.append((out.stream, record, groups, NOW + timedelta(seconds=n)))
    start = _clock()
    for stream, record, _, _ in items:
        codec.encode(stream, record)
    alone = _clock() - start
    start = _clock()
    for stream, record, groups, now in items:
        shared = codec.shared_encoder(stream)
        if shared is None or not groups or shared.encode(record, groups, now) is None:
            codec.encode(stream, record)
    fused = _clock() - start
    return min(1.0, alone / fused) if fused > 0 else 1.0


def figures(events: int = 20000) -> dict[str, float]:
    """Measured with the worker's garbage-collector settings (``streams.gctune``)."""
    with gctune.tuned():
        return _figures(events)


def _figures(events: int) -> dict[str, float]:
    settings = Settings()
    border = load_border_config(settings.border_config)
    records = raw_records(events)
    run_batches(Processor(settings, border, 4), records[:BATCH])  # compile codecs, warm caches
    total = run_batches(Processor(settings, border, 4), records)

    spent: dict[str, float] = defaultdict(float)
    sample = records[:INSTRUMENTED]
    results: list[BatchResult] = []
    with _stage_clocks(spent):
        whole = run_batches(Processor(settings, border, 4), sample, lambda _n, r: results.append(r),
                     _tick)
    split = _encode_split(results, border)
    share = {stage: min(1.0, spent[stage] / whole) for stage in spent}
    stages = {stage: total * share.get(stage, 0.0)
              for stage in ("decode", "validate", "dedup_state")}
    stages["encode_outputs"] = total * share.get("encode", 0.0) * split
    stages["encode_shares"] = total * share.get("encode", 0.0) * (1 - split)
    stages["other"] = max(0.0, total - sum(stages.values()))
    count = len(records)
    result: dict[str, float] = {"processor_events_per_s": round(count / total, 1),
              "processor_us_per_event": round(total / count * 1e6, 2)}
    for stage, seconds in stages.items():
        result[f"processor_us_per_event_{stage}"] = round(seconds / count * 1e6, 2)
    return result


def table(figures_: dict[str, float]) -> str:
    """The per-stage cost as a small text table (for ``bordersync bench``)."""
    prefix = "processor_us_per_event_"
    total = figures_["processor_us_per_event"]
    lines = [f"{'stage':<16}{'µs/event':>10}{'share':>8}"]
    for key, value in figures_.items():
        if key.startswith(prefix):
            lines.append(f"{key[len(prefix):]:<16}{value:>10.1f}{value / total:>8.0%}")
    lines.append(f"{'total':<16}{total:>10.1f}{'':>8}  "
                 f"({figures_['processor_events_per_s']:,.0f} events/s)")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(figures()))
