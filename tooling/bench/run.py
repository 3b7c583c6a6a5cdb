"""``bordersync bench``: every figure measured in one run beside its reference.

Runs on a private embedded stack unless ``--bootstrap`` points elsewhere. Figures never gate tests;
``make test`` runs ``bench --quick`` only so this code cannot rot.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from confluent_kafka import Consumer, Message, Producer

from bordersync.kafka import consumer_conf, producer_conf
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from bordersync.topics import create_topics
from bordersync.wire import codec
from bordersync.wire.codec import DecodeError
from tooling import stack
from tooling.bench import refs as benchrefs
from tooling.bench.load import (
    assign_all,
    event_pair,
    fill,
    pipeline,
    raw_loop,
)
from tooling.procs import Child, stop_started

Figures = dict[str, Any]


@dataclass(frozen=True)
class Sizes:
    raw_loop: int
    pipeline: int
    backlog: int
    latency_seconds: float
    rates: tuple[int, ...]

    @staticmethod
    def for_mode(quick: bool, events: int | None = None, backlog: int | None = None) -> Sizes:
        sizes = Sizes._base(quick)
        return Sizes(
            raw_loop=events or sizes.raw_loop, pipeline=events or sizes.pipeline,
            backlog=sizes.backlog if backlog is None else backlog,
            latency_seconds=sizes.latency_seconds, rates=sizes.rates)

    @staticmethod
    def _base(quick: bool) -> Sizes:
        if quick:
            return Sizes(raw_loop=5_000, pipeline=5_000, backlog=0, latency_seconds=3,
                         rates=(100,))
        return Sizes(raw_loop=200_000, pipeline=200_000, backlog=1_000_000, latency_seconds=10,
                     rates=(100, 500, 2000))


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu_model": model, "python": platform.python_version()}


def latency(settings: Settings, rate: int, seconds: float, log_dir: Any) -> Figures:
    """Terminal publish → record in a partner's share topic, at a steady rate."""
    stream = "share.al-customs"
    worker = Child("worker", ["streams", "worker"], settings, log_dir / f"worker-lat{rate}.log")
    consumer = Consumer(consumer_conf(settings, f"bench-lat-{uuid.uuid4().hex[:6]}"))
    assign_all(consumer, settings.topic(stream))
    producer = Producer(producer_conf(settings, **{"linger.ms": 0}))
    sent: dict[str, float] = {}
    lat: list[float] = []
    try:
        if not _warm_up(settings, producer, consumer):
            return {f"latency_p50_ms_at_{rate}": None, f"latency_p99_ms_at_{rate}": None,
                    f"latency_error_at_{rate}": f"worker produced nothing on {stream}"}
        total = int(rate * seconds)
        start = time.perf_counter()
        now = datetime.now(UTC)
        produced = 0
        for _ in range(total // 2):
            for event in event_pair(random.randrange(10**9), now):
                # Pace by what was produced (``sent`` shrinks as records arrive).
                target = start + produced / rate
                produced += 1
                # Wait in consume, not in a busy loop: the pacing must not take a core from the
                # worker and the broker (2 cores in all).
                while (wait := target - time.perf_counter()) > 0:
                    _wait_latency(consumer, sent, lat, wait)
                sent[event["event_id"]] = time.perf_counter()
                producer.produce(settings.topic("raw"), codec.encode("raw", event),
                                 normalise_plate(event["plate"]).encode())
                producer.poll(0)
        producer.flush(10)
        end = time.monotonic() + 5
        while time.monotonic() < end and sent:
            _drain_latency(consumer, sent, lat, 0.1)
    finally:
        consumer.close()
        worker.stop()
    if not lat:
        return {f"latency_p50_ms_at_{rate}": None, f"latency_p99_ms_at_{rate}": None,
                f"latency_received_at_{rate}": 0}
    lat.sort()
    return {
        f"latency_p50_ms_at_{rate}": round(statistics.median(lat) * 1000, 1),
        f"latency_p99_ms_at_{rate}": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
        f"latency_received_at_{rate}": len(lat),
    }


def _warm_up(settings: Settings, producer: Producer, consumer: Consumer) -> bool:
    """Wait until the worker has joined its group and forwards records (not part of latency)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for event in event_pair(random.randrange(10**9), datetime.now(UTC)):
            producer.produce(settings.topic("raw"), codec.encode("raw", event),
                             normalise_plate(event["plate"]).encode())
        producer.flush(5)
        if any(not m.error() for m in consumer.consume(100, timeout=2.0)):
            time.sleep(1.0)
            while consumer.consume(1000, timeout=0.3):
                pass
            return True
    return False


def _wait_latency(consumer: Consumer, sent: dict[str, float], lat: list[float],
                  timeout: float) -> None:
    """Block up to ``timeout`` for the first record (poll returns as soon as one is there),
    then take what else is buffered."""
    first = consumer.poll(timeout)
    if first is not None:
        _record_latency(first, sent, lat)
        _drain_latency(consumer, sent, lat, 0.0)


def _drain_latency(consumer: Consumer, sent: dict[str, float], lat: list[float],
                   timeout: float) -> None:
    for msg in consumer.consume(1000, timeout=timeout):
        _record_latency(msg, sent, lat)


def _record_latency(msg: Message, sent: dict[str, float], lat: list[float]) -> None:
    if msg.error():
        return
    received = time.perf_counter()
    decoded = codec.decode("share", msg.value())
    if isinstance(decoded, DecodeError):
        return
    record = decoded.get("record", {})
    event_id = record.get("event_id") if isinstance(record, dict) else None
    if event_id in sent:
        lat.append(received - sent.pop(event_id))


@contextmanager
def bench_stack(base: Settings) -> Iterator[Callable[[], Settings]]:
    """Fresh topics per measurement on a private stack (or the configured cluster)."""
    home = (base.home / "bench").resolve()
    private = base.model_copy(update={"home": home, "dev_broker_port": stack.free_port(),
                                      "dev_redis_port": stack.free_port()})
    owned = base.bootstrap is None
    info = stack.up(private)[0] if owned else None
    try:
        def fresh() -> Settings:
            update: dict[str, Any] = {"topic_prefix": f"bench{uuid.uuid4().hex[:6]}.",
                                      "home": home}
            if info is not None:
                update |= {"bootstrap": info.bootstrap, "redis_url": info.redis_url}
            settings = base.model_copy(update=update)
            create_topics(settings)
            return settings

        yield fresh
    finally:
        stop_started()  # a worker the interrupt caught between its start and its try
        if owned:
            stack.down(private, purge=True)


def run_bench(base: Settings, quick: bool, as_json: bool, out: TextIO = sys.stdout,
              events: int | None = None, backlog: int | None = None) -> int:
    sizes = Sizes.for_mode(quick, events, backlog)
    from tooling.devbroker import describe
    from tooling.procs import interrupt_on_signals

    interrupt_on_signals()  # SIGTERM stops the private stack and the worker too (issue #15)

    figures: Figures = {"machine": machine(), "quick": quick, "engine": base.stream_engine,
                        # Every figure below runs on this broker: the private node, or the cluster
                        # named by BORDERSYNC_BOOTSTRAP (whose version the protocol does not tell).
                        "broker": describe() if base.bootstrap is None else "external",
                        "pipeline_events": sizes.pipeline, "backlog_events": sizes.backlog}
    base_time = datetime.now(UTC) - timedelta(days=1)

    def note(text: str) -> None:
        print(f"# {text}", file=sys.stderr, flush=True)

    note("processor alone (no broker): rate and cost per stage")
    from tooling.bench.streams import processor_figures

    figures |= processor_figures(4_000 if quick else 20_000)
    with bench_stack(base) as fresh:
        s = fresh()
        note(f"filling {sizes.pipeline} raw events")
        fill(s, max(sizes.raw_loop, sizes.pipeline), base_time)
        note("reference: plain confluent-kafka consume → dedup → produce")
        figures |= raw_loop(s, sizes.raw_loop)
        note("full pipeline throughput (one worker)")
        figures |= pipeline(s, sizes.pipeline, s.home, "pipeline")
        ref = figures.get("raw_loop_events_per_s")
        got = figures.get("pipeline_events_per_s")
        figures["pipeline_vs_raw_loop"] = round(got / ref, 3) if ref and got else None
        note("references: records per input event, broker produce rate over the output topics")
        figures |= benchrefs.fanout(s)
        figures |= benchrefs.broker_ceiling(fresh(), sizes.raw_loop)
        per_event, rate = figures["records_per_event"], figures["broker_produce_records_per_s"]
        figures["broker_bound_events_per_s"] = round(rate / per_event) if rate else None
        for rate in sizes.rates:
            note(f"end-to-end latency at {rate} events/s")
            figures |= latency(fresh(), rate, sizes.latency_seconds, s.home)
        if sizes.backlog:
            note(f"backlog catch-up: {sizes.backlog} queued events")
            b = fresh()
            fill(b, sizes.backlog, base_time)
            result = pipeline(b, sizes.backlog, b.home, "backlog")
            figures["backlog_events_per_s"] = result.get("backlog_events_per_s")
            seconds = result.get("backlog_seconds")
            # Measured on `backlog_events`; scaled linearly when a smaller backlog was asked for.
            figures["backlog_1m_seconds"] = (
                round(seconds * 1_000_000 / sizes.backlog, 1) if seconds else None)
        else:
            figures["backlog_1m_seconds"] = None
        figures |= _role_figures(fresh, quick, note)
    for key in ("latency_p50_ms_at_500", "latency_p99_ms_at_500", "bytes_per_pending_vehicle"):
        figures.setdefault(key, None)
    _print(figures, as_json, out)
    return 0


def _role_figures(fresh: Callable[[], Settings], quick: bool,
                  note: Callable[[str], None]) -> Figures:
    """Figures that each role package measures itself, when it provides a bench module."""
    figures: Figures = {}
    hooks = (
        ("tooling.bench.streams", "state_figures"),
        ("tooling.bench.streams", "engine_figures"),  # both engines, same run (issue #14)
        ("tooling.bench.producers", "outbox_rates"),
        ("tooling.bench.consumers", "consumer_figures"),
    )
    import importlib

    for module_name, func_name in hooks:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        func = getattr(module, func_name, None)
        if func is None:
            continue
        note(f"{module_name}.{func_name}")
        figures |= func(fresh(), quick=quick)
    return figures


def _print(figures: Figures, as_json: bool, out: TextIO) -> None:
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        if key != "machine":
            print(f"{key:<{width}}  {value}", file=out)
    m = figures["machine"]
    print(f"{'machine':<{width}}  {m['cores']} cores, {m['cpu_model']}", file=out)
    if as_json:
        print(json.dumps(figures), file=out)
