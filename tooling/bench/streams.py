"""Figures of the streams package for ``bordersync bench`` (``state_figures``, ``engine_figures``;
moved out of ``streams/`` with the rest of the tooling, issue #14)."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from bordersync.border import load_border_config
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from bordersync.wire import codec
from streams.processor import InRecord, Processor
from streams.state import DictStore


def _exits(count: int, base: datetime) -> list[InRecord]:
    from tooling.bench.load import event_pair

    records = []
    for i in range(count):
        exit_, _entry = event_pair(i, base)
        key = normalise_plate(exit_["plate"]).encode()
        records.append(InRecord(key, codec.encode("raw", exit_), [], "raw", 0, i))
    normalise_plate.cache_clear()  # its entries made while processing count, as a worker's would
    return records


def state_figures(settings: Settings, quick: bool = False) -> dict[str, Any]:
    """Memory per pending (unmatched) vehicle as a worker's store holds it (``DictStore``: the
    encoded states, the decoded ones it keeps, the sweep's time index), measured with
    tracemalloc after processing only EXITs of distinct vehicles:

    - ``bytes_per_pending_vehicle``: with the settings' ``live_vehicles`` decoded states kept;
    - ``bytes_per_pending_vehicle_encoded_only``: with none (``live_vehicles=0``);
    - ``bytes_per_live_vehicle``: what keeping one vehicle's decoded state adds (every one kept).
    """
    count = 2_000 if quick else 20_000
    processor = Processor(settings, load_border_config(settings.border_config), settings.partitions)
    held = {live: _held(processor, _exits(count, datetime.now(UTC) - timedelta(minutes=30)), live)
            for live in (settings.live_vehicles, 0, count)}
    return {
        "bytes_per_pending_vehicle": held[settings.live_vehicles][0],
        "bytes_per_pending_vehicle_encoded_only": held[0][0],
        "bytes_per_live_vehicle": held[count][0] - held[0][0],
        "live_vehicles": min(settings.live_vehicles, count),
        "state_value_bytes_mean": held[0][1],
        "pending_vehicles_measured": held[0][2],
    }


def _held(processor: Processor, records: list[InRecord], live: int) -> tuple[int, int, int]:
    """Bytes per vehicle held, mean encoded state, vehicles: each batch applied as committed."""
    store = DictStore(live)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(0, len(records), 2000):
        result = processor.process(records[i:i + 2000], datetime.now(UTC), store.take)
        for plate, value in result.state.items():
            store.put(plate, result.owner[plate], value)
        store.schedule(result)
        del result
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    n = max(1, len(store.state))
    return round((after - before) / n), round(sum(map(len, store.state.values())) / n), n


def processor_figures(events: int = 20000) -> dict[str, float]:
    """The pure ``Processor.process`` rate (no broker) and its cost per event by stage:
    ``processor_events_per_s``, ``processor_us_per_event`` and ``processor_us_per_event_<stage>``
    for decode, validate, dedup_state, encode_outputs, encode_shares and other
    (``tooling.bench.processor``; ``bench_processor.table`` prints them)."""
    from tooling.bench.processor import figures

    return figures(events)


def _fresh(settings: Settings, **update: Any) -> Settings:
    import uuid

    from bordersync.topics import create_topics

    fresh = settings.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:6]}.", **update})
    create_topics(fresh)
    return fresh


def _fill_exits(settings: Settings, count: int, base: datetime) -> None:
    """``count`` EXITs of distinct vehicles: each is deduplicated and forwarded, none matches."""
    from confluent_kafka import Producer

    from bordersync.kafka import producer_conf
    from tooling.bench.load import event_pair

    producer = Producer(producer_conf(settings, **{"linger.ms": 20, "batch.num.messages": 10000}))
    topic = settings.topic("raw")
    for i in range(count):
        exit_, _entry = event_pair(i, base)
        exit_["plate"] = f"DF {i:07d}"
        while True:
            try:
                producer.produce(topic, codec.encode("raw", exit_),
                                 normalise_plate(exit_["plate"]).encode())
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(120)


def engine_figures(settings: Settings, quick: bool = False) -> dict[str, Any]:
    """Both engines on the same workloads in one run (one worker each, fresh topics):

    - ``<engine>_pipeline_events_per_s``: the full pipeline (EXIT/ENTRY pairs, matched, shared),
      and ``faust_vs_batch_pipeline``, their ratio;
    - ``dedup_forward_events_per_s`` (per engine): only deduplication and forwarding — EXITs of
      distinct vehicles (none matches) and no agency agreements (nothing shared), to set beside
      ``raw_loop_events_per_s``, the plain consume → dedup → produce loop.
    """
    import json

    from tooling.bench.load import fill, pipeline

    count = 5_000 if quick else 40_000
    base = datetime.now(UTC) - timedelta(days=1)
    figures: dict[str, Any] = {}
    border = json.loads(load_border_config(settings.border_config).model_dump_json())
    border["agencies"] = []
    no_sharing = settings.home / "bench-border-no-sharing.json"
    no_sharing.parent.mkdir(parents=True, exist_ok=True)
    no_sharing.write_text(json.dumps(border))
    dedup: dict[str, Any] = {}
    for engine in ("batch", "faust"):
        s = _fresh(settings, stream_engine=engine)
        fill(s, count, base)
        figures |= pipeline(s, count, s.home, f"{engine}_pipeline")
        s = _fresh(settings, stream_engine=engine, border_config=no_sharing)
        _fill_exits(s, count, base)
        dedup[engine] = pipeline(s, count, s.home, "dedup").get("dedup_events_per_s")
    figures["dedup_forward_events_per_s"] = dedup
    batch, faust = figures.get("batch_pipeline_events_per_s"), figures.get(
        "faust_pipeline_events_per_s")
    figures["faust_vs_batch_pipeline"] = round(faust / batch, 3) if batch and faust else None
    return figures
