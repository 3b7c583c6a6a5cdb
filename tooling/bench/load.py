"""The bench's workload and its Kafka measurements, shared by ``bordersync bench``
(``tooling.bench.run``) and the per-role parts (``tooling.bench.streams``, ``.processor``):
generated EXIT/ENTRY pairs, filling ``raw``, the plain consume -> dedup -> produce loop and one
worker's pipeline run. Imports no role, so the parts and the runner import it without a cycle."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from bordersync.kafka import consumer_conf, producer_conf
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from bordersync.wire import codec
from bordersync.wire.codec import DecodeError
from tooling.procs import Child

Figures = dict[str, Any]


def event_pair(i: int, base: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """An EXIT on the MK side and its ENTRY on the AL side, 6 minutes apart."""
    event_time = base + timedelta(seconds=i % 3600)
    plate = f"SK {i % 10000:04d} {chr(65 + (i // 10000) % 26)}{chr(65 + (i // 260000) % 26)}"
    exit_ = {
        "event_id": f"b-{i}-x", "kind": "crossing", "admin": "MK", "post": "MKKJF01",
        "event_time": event_time, "plate": plate, "nationality": "MK",
        "terminal_id": "mk-kjf-booth-1", "direction": "EXIT", "vehicle_type": "TRUCK",
        "gross_mass_kg": 24000, "seals": [f"MK{i:08d}"],
    }
    entry = {**exit_, "event_id": f"b-{i}-n", "admin": "AL", "post": "ALQTH01",
             "terminal_id": "al-qth-booth-1", "direction": "ENTRY",
             "event_time": event_time + timedelta(minutes=6)}
    return exit_, entry


def fill(settings: Settings, count: int, base: datetime) -> None:
    """``count`` raw events (pairs), produced as terminals would (key = normalised plate)."""
    producer = Producer(producer_conf(settings, **{"linger.ms": 20, "batch.num.messages": 10000}))
    topic = settings.topic("raw")
    for i in range(count // 2):
        for event in event_pair(i, base):
            key = normalise_plate(event["plate"]).encode()
            while True:
                try:
                    producer.produce(topic, codec.encode("raw", event), key)
                    break
                except BufferError:
                    producer.poll(0.01)
        if i % 5000 == 0:
            producer.poll(0)
    producer.flush(120)


def assign_all(consumer: Consumer, topic: str) -> None:
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])


def raw_loop(settings: Settings, count: int) -> Figures:
    """The reference: plain confluent-kafka consume → dedup by event_id → produce."""
    consumer = Consumer(consumer_conf(settings, f"bench-raw-{uuid.uuid4().hex[:6]}",
                                      **{"fetch.max.bytes": 52428800}))
    assign_all(consumer, settings.topic("raw"))
    producer = Producer(producer_conf(settings, **{"linger.ms": 5, "batch.num.messages": 10000}))
    out = settings.topic("crossings") + ".bench"
    create_extra_topic(settings, out)
    seen: set[str] = set()
    done = 0
    started: float | None = None
    deadline = time.monotonic() + 300
    while done < count and time.monotonic() < deadline:
        batch = consumer.consume(10000, timeout=0.5)
        if batch and started is None:
            started = time.perf_counter()
        for msg in batch:
            if msg.error():
                continue
            done += 1
            record = codec.decode("raw", msg.value())
            if isinstance(record, DecodeError) or record["event_id"] in seen:
                continue
            seen.add(record["event_id"])
            while True:
                try:
                    producer.produce(out, msg.value(), msg.key())
                    break
                except BufferError:
                    producer.poll(0.01)
        producer.poll(0)
    producer.flush(60)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return {"raw_loop_events_per_s": round(done / elapsed) if elapsed else None,
            "raw_loop_events": done}


def create_extra_topic(settings: Settings, topic: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    from bordersync.kafka import admin_conf

    admin = AdminClient(admin_conf(settings))
    for future in admin.create_topics([NewTopic(topic, settings.partitions, 1)]).values():
        try:
            future.result(30)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise


def count_outputs(settings: Settings, stream: str, expected: int, timeout: float) -> list[int]:
    """Broker timestamps (ms) of the first ``expected`` records of ``stream``."""
    consumer = Consumer(consumer_conf(settings, f"bench-count-{uuid.uuid4().hex[:6]}"))
    assign_all(consumer, settings.topic(stream))
    stamps: list[int] = []
    deadline = time.monotonic() + timeout
    while len(stamps) < expected and time.monotonic() < deadline:
        for msg in consumer.consume(10000, timeout=0.5):
            if not msg.error():
                stamps.append(msg.timestamp()[1])
    consumer.close()
    return stamps


def pipeline(settings: Settings, count: int, log_dir: Any, label: str) -> Figures:
    """Throughput of the real worker over a pre-filled backlog: first to last output record."""
    worker = Child("worker", ["streams", "worker"], settings, log_dir / f"worker-{label}.log")
    try:
        stamps = count_outputs(settings, "crossings", count, timeout=max(120, count / 500))
    finally:
        worker.stop()
    if len(stamps) < 2:
        return {f"{label}_events_per_s": None, f"{label}_processed": len(stamps)}
    span = (max(stamps) - min(stamps)) / 1000
    return {f"{label}_events_per_s": round(len(stamps) / span) if span else None,
            f"{label}_processed": len(stamps), f"{label}_seconds": round(span, 2)}
