"""References that explain the pipeline's throughput ceiling (``bordersync bench``).

The plain loop forwards one record per input; the pipeline writes several (the deduplicated
record, one share copy per entitled agency, matched pairs with their copies, the state
changelog). So two more references sit beside the pipeline figure: how many records one input
event costs, and how many records per second the broker accepts from one producer across the
output topics. Their quotient is the broker-bound ceiling of the pipeline on this stack.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Producer

from bordersync import codec
from bordersync.border import load_border_config
from bordersync.catalogue import share_stream
from bordersync.kafka import producer_conf
from bordersync.plates import normalise_plate
from bordersync.settings import Settings

Figures = dict[str, Any]


def fanout(settings: Settings, events: int = 4000) -> Figures:
    """Records written per input event by the processor (outputs + state changes), no broker."""
    from bordersync.bench import event_pair
    from streams.processor import InRecord, Processor

    processor = Processor(settings, load_border_config(settings.border_config),
                          settings.partitions)
    base = datetime.now(UTC) - timedelta(hours=1)
    records: list[InRecord] = []
    for i in range(events // 2):
        for event in event_pair(i, base):
            key = normalise_plate(event["plate"]).encode()
            records.append(InRecord(key, codec.encode("raw", event), [], "raw", 0, len(records)))
    state: dict[str, bytes] = {}
    outputs = changes = 0
    for start in range(0, len(records), 1000):
        result = processor.process(records[start:start + 1000], datetime.now(UTC), state.get)
        outputs += len(result.outputs)
        changes += len(result.state)
        for plate, value in result.state.items():
            if value is None:
                state.pop(plate, None)
            else:
                state[plate] = value
    return {"records_per_event": round((outputs + changes) / len(records), 2),
            "output_records_per_event": round(outputs / len(records), 2)}


def broker_ceiling(settings: Settings, count: int) -> Figures:
    """One producer, share-record-sized values spread over the output topics, as the worker
    writes them (same client settings): records per second acknowledged by the broker."""
    border = load_border_config(settings.border_config)
    streams = ["crossings", "matched", "alerts",
               *(share_stream(a.name) for a in border.agencies)]
    topics = [settings.topic(s) for s in streams]
    producer = Producer(producer_conf(
        settings, **{"linger.ms": 1, "batch.num.messages": 10000,
                     "queue.buffering.max.messages": 1_000_000}))
    value = bytes(300)
    for topic in topics:  # connections and metadata first: not part of the rate
        producer.produce(topic, value, b"warm-up")
    producer.flush(30)
    started = time.perf_counter()
    for i in range(count):
        while True:
            try:
                producer.produce(topics[i % len(topics)], value, b"SK%05d" % (i % 50000))
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(120)
    elapsed = time.perf_counter() - started
    return {"broker_produce_records_per_s": round(count / elapsed) if elapsed else None}
