"""Benchmarks of the agency side: consumer throughput into Redis and lookup latency.

Also the builders of synthetic share records that tests and benchmarks use to pre-fill a
``share.<agency>`` topic (the stream processor is not needed for that).
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Producer

from bordersync.border import load_border_config
from bordersync.kafka import producer_conf
from bordersync.settings import Settings
from bordersync.wire import codec
from consumers.readmodel import AgencyContext

ShareRecord = tuple[str, dict[str, Any]]


def share(agency: str, stream: str, record: dict[str, Any]) -> dict[str, Any]:
    # Times as aware datetimes: the codec writes them in its own form (JSON string, Avro millis).
    return {"stream": stream, "agency": agency, "shared_at": datetime.now(UTC), "record": record}


def journey(ctx: AgencyContext, plate: str, tag: str, exit_time: datetime,
            arrived: bool = True) -> list[ShareRecord]:
    """A truck leaving the other side towards ``ctx``'s side: an exit-side inspection, the EXIT,
    and when ``arrived`` the ENTRY here, the matched pair and a DISCREPANCY alert. Fields beyond
    the agency's agreement are included on purpose: the read model must drop them."""
    border = load_border_config()
    crossing = next(c for c in border.crossings if c.id in ctx.crossings)
    other = crossing.other_admin(ctx.admin)
    common = {"kind": "crossing", "plate": plate, "nationality": other, "vehicle_type": "TRUCK",
              "terminal_id": f"{other.lower()}-booth-1", "seals": ["SEAL-1", "SEAL-2"],
              "gross_mass_kg": 24_000, "declaration_ref": "26MK000000000001A1"}
    inspection = {"event_id": f"{tag}-i", "kind": "inspection", "admin": other,
                  "post": crossing.sides[other], "event_time": exit_time - timedelta(minutes=10),
                  "plate": plate, "nationality": other, "terminal_id": f"{other.lower()}-xray-1",
                  "inspection_type": "XRAY", "result": "CLEARED", "findings": "nothing declared missing"}
    exit_ = {**common, "event_id": f"{tag}-x", "admin": other, "post": crossing.sides[other],
             "event_time": exit_time, "direction": "EXIT"}
    out: list[tuple[str, str, dict[str, Any]]] = [("inspections", plate, inspection),
                                                  ("crossings", plate, exit_)]
    if arrived:
        entry_time = exit_time + timedelta(minutes=12)
        entry = {**common, "event_id": f"{tag}-n", "admin": ctx.admin,
                 "post": crossing.sides[ctx.admin], "event_time": entry_time,
                 "direction": "ENTRY", "gross_mass_kg": 26_000}
        pair = {"exit_event_id": f"{tag}-x", "entry_event_id": f"{tag}-n", "crossing": crossing.id,
                "plate": plate, "exit_admin": other, "entry_admin": ctx.admin,
                "exit_time": exit_["event_time"], "entry_time": entry["event_time"],
                "transit_seconds": 720.0, "late": False,
                "discrepancies": [{"field": "gross_mass_kg", "exit_value": "24000",
                                   "entry_value": "26000"}],
                "inspections": [{**{k: inspection[k] for k in (
                    "event_id", "admin", "inspection_type", "result", "event_time", "findings")},
                    "seals_applied": None, "measured_mass_kg": None}]}
        alert = {"alert_id": f"{tag}-a", "type": "DISCREPANCY", "crossing": crossing.id,
                 "plate": plate, "event_ids": [f"{tag}-x", f"{tag}-n"],
                 "detail": "gross_mass_kg: 24000 at exit, 26000 at entry",
                 "raised_at": entry["event_time"]}
        out += [("crossings", plate, entry), ("matched", plate, pair), ("alerts", plate, alert)]
    return [(key, share(ctx.name, stream, rec)) for stream, key, rec in out]


def produce(settings: Settings, agency: str, records: Iterable[ShareRecord | tuple[str, bytes]]
            ) -> int:
    """Publish share records (or raw bytes, to test undecodable input) keyed by plate."""
    producer = Producer(producer_conf(settings, **{"linger.ms": 20, "batch.num.messages": 10_000}))
    topic = settings.topic(f"share.{agency}")
    count = 0
    for key, value in records:
        data = value if isinstance(value, bytes) else codec.encode("share", value)
        while True:
            try:
                producer.produce(topic, key=key.encode(), value=data)
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
    remaining = producer.flush(60)
    if remaining:
        raise RuntimeError(f"{remaining} share records not delivered to {topic}")
    return count


def synthetic(ctx: AgencyContext, vehicles: int, seed: int = 7) -> list[ShareRecord]:
    rnd = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=2)
    out: list[ShareRecord] = []
    for i in range(vehicles):
        at = start + timedelta(seconds=rnd.randrange(0, 7200))
        out += journey(ctx, f"SK{i:05d}AB", f"b{i}", at, arrived=rnd.random() < 0.8)
    return out


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def consumer_throughput(settings: Settings, agency: str, vehicles: int = 4000) -> dict[str, float]:
    """Records/s from a pre-filled share topic into Redis (one consumer, batches of
    ``consumer_batch_size``), measured from the first batch to the last record applied."""
    from consumers.runner import AgencyConsumer

    ctx = AgencyContext.of(load_border_config(settings.border_config), agency)
    total = produce(settings, agency, synthetic(ctx, vehicles))
    consumer = AgencyConsumer(settings, agency)
    marks: dict[str, float] = {}

    def on_batch(progress: Any) -> None:
        marks.setdefault("first", time.perf_counter())
        if progress.records + progress.skipped >= total:
            marks["last"] = time.perf_counter()
            consumer.stop()

    consumer.run(idle_exit=30, on_batch=on_batch)
    if "last" not in marks:
        raise RuntimeError(f"consumer read {consumer.progress.records} of {total} records")
    seconds = marks["last"] - marks["first"]
    return {"consumer_records": float(total), "consumer_seconds": round(seconds, 3),
            "consumer_records_per_s": round(total / seconds, 1) if seconds else float(total)}


def lookup_latency(settings: Settings, agency: str, vehicles: int, lookups: int = 2000
                   ) -> dict[str, float]:
    """p50/p99 of single-vehicle lookups against the read model (milliseconds)."""
    from consumers.api import reader_for

    reader = reader_for(settings, agency)
    rnd = random.Random(11)
    samples = []
    for _ in range(lookups):
        plate = f"SK{rnd.randrange(vehicles):05d}AB"
        started = time.perf_counter()
        if reader.vehicle(plate) is None:
            raise RuntimeError(f"bench vehicle {plate} missing from the read model")
        samples.append(time.perf_counter() - started)
    return {"lookup_count": float(lookups),
            "lookup_p50_ms": round(statistics.median(samples) * 1000, 3),
            "lookup_p99_ms": round(_percentile(samples, 0.99) * 1000, 3)}


def run(settings: Settings, agency: str = "al-customs", vehicles: int = 4000) -> dict[str, float]:
    """Both figures on private topics and read-model keys (a fresh topic prefix)."""
    from bordersync.topics import create_topics

    private = settings.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:8]}."})
    create_topics(private)
    figures = consumer_throughput(private, agency, vehicles)
    figures.update(lookup_latency(private, agency, vehicles))
    return figures


def consumer_figures(settings: Settings, quick: bool = False) -> dict[str, float]:
    """Hook of ``bordersync bench``: ``settings`` has fresh topics of its own."""
    vehicles = 500 if quick else 4000
    figures = consumer_throughput(settings, "al-customs", vehicles)
    figures.update(lookup_latency(settings, "al-customs", vehicles, 500 if quick else 2000))
    return figures


if __name__ == "__main__":
    import json

    from bordersync.settings import load

    print(json.dumps(run(load())))
