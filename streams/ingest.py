"""Faust wiring of the processor: raw -> dedup/match/alerts/sharing, a sweep timer, stats.

Each batch runs in this order, which is what makes at-least-once safe (docs/streams.md):
process (pure) -> produce outputs and wait for every ack -> write state (changelog) and wait ->
ack the input events (Faust commits their offsets afterwards).
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from faust.types import EventT, StreamT

from bordersync.border import load_border_config
from bordersync.keys import pipeline_signer
from bordersync.settings import Settings
from streams import metrics
from streams.app import BorderApp
from streams.logic.stats import Fact, StatsWindows
from streams.processor import STATS_FACTS, BatchResult, InRecord, OutRecord, Processor
from streams.risk.feed import risk_stage
from streams.state import in_partition, note_partition, owned_items
from streams.verify import RecordVerifier

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _headers(raw: Any) -> list[tuple[str, bytes]]:
    if not raw:
        return []
    if isinstance(raw, dict):
        return list(raw.items())
    return [(str(k), bytes(v)) for k, v in raw]


class Runner:
    """Drives ``Processor`` from a Faust agent; owns the I/O and nothing else."""

    def __init__(self, app: BorderApp, settings: Settings, clock: Clock = _utcnow) -> None:
        self.app = app
        self.settings = settings
        self.clock = clock
        self.border = load_border_config(settings.border_config)
        self.processor = Processor(settings, self.border, settings.partitions,
                                   verifier=RecordVerifier.from_settings(settings),
                                   share_signer=pipeline_signer(settings),
                                   risk=risk_stage(settings, self.border))
        self.raw_topic = settings.topic("raw")
        self.table = app.Table(
            "vehicles", default=None, partitions=settings.partitions, key_type=bytes,
            value_type=bytes,
        )
        self.lock = asyncio.Lock()  # the sweep and the agent never interleave on the table
        self.buffer: list[EventT[Any]] = []

    async def flush(self) -> None:
        """Process what the agent has buffered, then ack it (Faust commits acked offsets)."""
        if not self.buffer:
            return
        events, self.buffer = self.buffer, []
        await self.run_batch(events)
        for event in events:
            event.ack()

    def load(self, plate: str) -> bytes | None:
        value: bytes | None = self.table.get(plate.encode())
        return value

    async def run_batch(self, events: Sequence[EventT[Any]]) -> None:
        records = [
            InRecord(e.message.key, e.message.value, _headers(e.message.headers),
                     e.message.topic, e.message.partition, e.message.offset)
            for e in events
        ]
        async with self.lock:
            result = self.processor.process(records, self.clock(), self.load)
            await self._commit(result)

    async def sweep(self) -> None:
        actives = {tp.partition for tp in self.app.assignor.assigned_actives()
                   if tp.topic == self.raw_topic}
        if not actives:
            return
        async with self.lock:
            items = [(key.decode(), partition, value)
                     for key, partition, value in owned_items(self.table, actives)]
            result = self.processor.sweep(items, self.clock())
            metrics.set_pending(dict(result.pending), [c.id for c in self.border.crossings])
            await self._commit(result)

    async def _commit(self, result: BatchResult) -> None:
        # Outputs first: state that says "seen" must never be durable before what it produced.
        await self._produce(result.outputs)
        by_partition: dict[int, list[tuple[bytes, bytes | None]]] = defaultdict(list)
        for plate, value in result.state.items():
            by_partition[result.owner[plate]].append((plate.encode(), value))
        # The store is written directly and the changelog produced here (not through Faust's
        # buffered send_soon + flush, which waits in 100 ms steps): one awaited round trip.
        store = self.table.data
        changelog = self.table.changelog_topic.get_topic_name()
        futures = []
        for partition, changes in by_partition.items():
            with in_partition(self.raw_topic, partition):
                for key, value in changes:
                    if value is None:
                        if key in store:
                            del store[key]
                    else:
                        store[key] = value
                        note_partition(self.table, key, partition)
                    futures.append(await self.app.producer.send(
                        changelog, key, value, partition, None, None))
        if futures:
            await asyncio.gather(*futures)
        metrics.apply(result.tally)

    async def _produce(self, outputs: list[OutRecord]) -> None:
        producer = self.app.producer
        futures = [
            await producer.send(self.settings.topic(o.stream), o.key, o.value, o.partition, None,
                                o.headers)
            for o in outputs
        ]
        if futures:
            await asyncio.gather(*futures)


class StatsRunner:
    """Windowed statistics from the single-partition facts topic (one worker owns it)."""

    def __init__(self, app: BorderApp, settings: Settings, clock: Clock = _utcnow) -> None:
        self.app = app
        self.settings = settings
        self.clock = clock
        self.windows = StatsWindows(settings.stats_window_seconds, settings.grace_seconds)

    def add(self, value: bytes) -> None:
        for row in json.loads(value):
            self.windows.add(Fact.unpack(row))

    async def flush(self) -> None:
        from bordersync import codec

        now = self.clock()
        records = self.windows.due(now.timestamp())
        futures = [
            await self.app.producer.send(
                self.settings.topic("stats"), f"{r['crossing']}|{r['direction']}".encode(),
                codec.encode("stats", r), None, None, None)
            for r in records
        ]
        if futures:
            await asyncio.gather(*futures)


def register(app: BorderApp, settings: Settings, clock: Clock = _utcnow) -> Runner:
    runner = Runner(app, settings, clock)
    stats = StatsRunner(app, settings, clock)
    raw = app.topic(settings.topic("raw"), key_serializer="raw", value_serializer="raw",
                    partitions=settings.partitions)
    facts = app.topic(settings.topic(STATS_FACTS), key_serializer="raw", value_serializer="raw",
                      partitions=1)

    # Batches are cut here rather than with Faust's take_events: events are acked only after
    # their batch's outputs and state are durable (manual acks on a noack stream).
    @app.agent(raw, name="process")
    async def process(stream: StreamT[Any]) -> None:
        async for event in stream.noack().events():  # type: ignore[attr-defined]
            runner.buffer.append(event)
            if len(runner.buffer) >= settings.stream_batch_max:
                await runner.flush()

    @app.timer(settings.stream_batch_seconds)  # type: ignore[misc]
    async def flush_partial_batch() -> None:
        await runner.flush()

    @app.agent(facts, name="stats")
    async def stats_agent(stream: StreamT[Any]) -> None:
        async for value in stream:
            stats.add(value)

    @app.timer(settings.sweep_interval_seconds)  # type: ignore[misc]
    async def sweep() -> None:
        await runner.sweep()

    @app.timer(1.0)  # type: ignore[misc]
    async def stats_flush() -> None:
        await stats.flush()

    async def on_assigned(app_: Any, *_: Any, **__: Any) -> None:
        metrics.REBALANCES.inc()

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]
    return runner
