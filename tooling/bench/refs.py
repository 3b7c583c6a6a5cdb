"""References that explain the pipeline's throughput ceiling (``bordersync bench``).

The plain loop forwards one record per input; the pipeline writes several (the deduplicated
record, one share copy per entitled agency, matched pairs with their copies, the state
changelog). So two more references sit beside the pipeline figure: how many records one input
event costs, and how many records per second the broker accepts from one producer across the
output topics. Their quotient is the broker-bound ceiling of the pipeline on this stack.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Producer

from bordersync.border import load_border_config
from bordersync.catalogue import share_stream
from bordersync.kafka import producer_conf
from bordersync.settings import Settings

Figures = dict[str, Any]


def fanout(settings: Settings, events: int = 4000) -> Figures:
    """Records written per input event by the processor (outputs + state changes), no broker;
    the processor bench's workload."""
    from streams.processor import BatchResult, Processor
    from tooling.bench.processor import raw_records, run_batches

    processor = Processor(settings, load_border_config(settings.border_config),
                          settings.partitions)
    written = {"outputs": 0, "state": 0}

    def count(_n: int, result: BatchResult) -> None:
        written["outputs"] += len(result.outputs)
        written["state"] += len(result.state)

    run_batches(processor, raw_records(events), count)
    return {"records_per_event": round(sum(written.values()) / events, 2),
            "output_records_per_event": round(written["outputs"] / events, 2)}


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
