"""The Faust engine: a Faust agent on ``raw`` driving the stream runtime (``streams.runtime``).

Faust gives consumption, group membership and the ``vehicles`` table (restored from the
changelog on assignment); the runtime does the rest. The agent iterates a ``noack`` stream and
buffers events; a batch is cut at ``stream_batch_max`` or every ``stream_batch_seconds`` and
its events are acked only after the batch's outputs and state are durable (at-least-once:
process → outputs, wait → state, wait → ack; Faust commits acked offsets). Faust's
``take_events`` was dropped: under load it acked an event that was never processed.

Blocking writer calls (waiting for acknowledgements) run in a thread so the event loop keeps
fetching and heartbeating; a lock keeps batches, the sweep and stats flushes from interleaving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from faust.types import TP, EventT, StreamT

from bordersync.settings import Settings
from streams.app import BorderApp
from streams.processor import STATS_FACTS, InRecord
from streams.runtime import Clock, Runtime, utcnow
from streams.runtime_writer import DeliveryFailed, Offsets
from streams.state import TableStore

T = TypeVar("T")


def _headers(raw: Any) -> list[tuple[str, bytes]]:
    if not raw:
        return []
    if isinstance(raw, dict):
        return list(raw.items())
    return [(str(k), bytes(v)) for k, v in raw]


def _millis(seconds: float | None) -> int:
    """Faust's message timestamp (seconds, from aiokafka's ms) back to Kafka's ms; -1 unknown."""
    return round(seconds * 1000) if seconds is not None and seconds >= 0 else -1


class FaustDriver:
    """The runtime's driver inside a Faust app (``streams.runtime.Driver``)."""

    def __init__(self, app: BorderApp, settings: Settings, clock: Clock = utcnow) -> None:
        self.app = app
        self.settings = settings
        raw_topic = settings.topic("raw")
        self.table = app.Table("vehicles", default=None, partitions=settings.partitions,
                               key_type=bytes, value_type=bytes)
        self.store = TableStore(self.table, raw_topic, self._actives)
        self.runtime = Runtime(settings, self, exactly_once=False, clock=clock)
        app.drop_fetched = self.runtime.faults.drop_fetched
        self.lock = asyncio.Lock()
        self.buffer: list[EventT[Any]] = []
        self._acking: list[EventT[Any]] = []
        self._owned: set[TP] = set()

    def _actives(self) -> set[int]:
        raw = self.runtime.raw_topic
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == raw}

    # --- Driver --------------------------------------------------------------------------------

    def owns(self, topic: str, partition: int) -> bool:
        return TP(topic, partition) in self._owned

    def group_metadata(self) -> object | None:
        return None  # at-least-once: offsets are committed by Faust from our acks

    async def commit(self, offsets: Offsets) -> None:
        for event in self._acking:
            if TP(event.message.topic, event.message.partition) in self._owned:
                event.ack()

    async def blocking(self, call: Callable[[], T]) -> T:
        return await asyncio.to_thread(call)

    # --- batches and timers --------------------------------------------------------------------

    async def flush(self) -> None:
        """Run the buffered events as one batch, then ack them."""
        if not self.buffer:
            return
        events, self.buffer = self.buffer, []
        records = [InRecord(e.message.key, e.message.value, _headers(e.message.headers),
                            e.message.topic, e.message.partition, e.message.offset,
                            _millis(e.message.timestamp))
                   for e in events]
        offsets = {(r.topic, r.partition): r.offset + 1 for r in records}
        async with self.lock:
            self._owned = self.app.consumer.assignment()
            self._acking = events
            try:
                await self.runtime.run_batch(records, offsets)
            except DeliveryFailed as exc:
                # Nothing after a failed delivery may be acked: stop the worker (a restart
                # replays from the committed offsets).
                await self.app.crash(exc)
                raise
            finally:
                self._acking = []

    async def sweep(self) -> None:
        more = True
        while more:  # slice by slice, letting batches in between
            async with self.lock:
                more = await self.runtime.sweep()
            await asyncio.sleep(0)

    async def flush_stats(self) -> None:
        async with self.lock:
            await self.runtime.flush_stats()


def register(app: BorderApp, settings: Settings, clock: Clock = utcnow) -> FaustDriver:
    driver = FaustDriver(app, settings, clock)
    raw = app.topic(settings.topic("raw"), key_serializer="raw", value_serializer="raw",
                    partitions=settings.partitions)
    facts = app.topic(settings.topic(STATS_FACTS), key_serializer="raw", value_serializer="raw",
                      partitions=1)

    @app.agent(raw, name="process")
    async def process(stream: StreamT[Any]) -> None:
        async for event in stream.noack().events():  # type: ignore[attr-defined]
            driver.buffer.append(event)
            if len(driver.buffer) >= settings.stream_batch_max:
                await driver.flush()

    @app.timer(settings.stream_batch_seconds)  # type: ignore[misc]
    async def flush_partial_batch() -> None:
        await driver.flush()

    @app.agent(facts, name="stats")
    async def stats_agent(stream: StreamT[Any]) -> None:
        async for value in stream:
            driver.runtime.add_facts(value)

    @app.timer(settings.sweep_interval_seconds)  # type: ignore[misc]
    async def sweep() -> None:
        await driver.sweep()

    @app.timer(1.0)  # type: ignore[misc]
    async def stats_flush() -> None:
        await driver.flush_stats()

    async def on_assigned(app_: Any, *_: Any, **__: Any) -> None:
        driver.runtime.assigned(())

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]
    return driver
