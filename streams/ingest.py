"""The Faust engine: Faust's consumer feeding the stream runtime (``streams.runtime``).

Faust gives consumption and group membership; the runtime does the rest, as for the batch
engine: per-vehicle state in a ``DictStore`` restored from the changelog when partitions are
assigned (before Faust serves them: ``faust_private.RebalanceHooks``), and by default every
batch in one Kafka transaction whose input offsets carry the aiokafka member's generation
(``bordersync.kafka.group_metadata``), so a worker resumed past its session timeout is fenced by
the group coordinator like a batch worker (issue #15, soak seeds 24 and 25). Faust's fetch loop
hands every message of ``raw`` and the stats facts to ``FaustDriver.take`` (no agent, conductor
or stream: ``faust_private`` point 6), which buffers it; a batch is cut at ``stream_batch_max``
or every ``stream_batch_seconds``; its messages are acked once it is durable (Faust's own offset
commit is skipped while the transactions commit them: ``faust_private`` point 2). Faust's
``take_events`` was dropped long ago: under load it acked an event that was never processed.

A failed transaction is aborted and the batch run again from memory; a fenced worker drops it
(the rebalance that ends the fence seeks to the committed offsets); when the outcome is unknown
(the producer was replaced) the worker restores its state and the committed offsets first, and
records below them are not run again. ``stream_guarantee=at_least_once`` flushes outputs, then
state, then acks, as before.

Blocking calls (writer, restore) run in a thread so the event loop keeps fetching and
heartbeating; a lock keeps batches, the sweep, stats flushes and rebalances from interleaving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaException
from faust.types import TP, Message

from bordersync.kafka import consumer_conf, group_metadata
from bordersync.settings import Settings
from streams.app import BorderApp
from streams.faust_private import fetch_behind, group_member
from streams.processor import STATS_FACTS, InRecord
from streams.runtime import FAILED, Clock, Runtime, utcnow
from streams.runtime_writer import Offsets, WriterFatal
from streams.state import DictStore, committed_offsets, restore

log = logging.getLogger("bordersync.streams.ingest")
RETRY_S = 1.0  # between runs of an aborted batch
BACKLOG_WAIT_S = 0.5  # at most this long the partial-batch timer waits for a full batch
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
        self.store = DictStore(settings.live_vehicles)
        exactly_once = settings.stream_guarantee == "exactly_once"
        self.runtime = Runtime(settings, self, exactly_once=exactly_once, clock=clock)
        app.drop_fetched = self.runtime.faults.drop_fetched
        app.commits_in_transactions = exactly_once
        app.gapless_topics = frozenset({self.runtime.raw_topic})
        app.before_assigned = self.on_assigned
        app.after_revoked = self.on_revoked
        self.lock = asyncio.Lock()
        self.buffer: list[Message] = []
        self._acking: list[Message] = []
        self.assignment: set[tuple[str, int]] = set()
        self._retry_at = 0.0
        self._since = 0.0  # monotonic: when the buffer's oldest message came

    # --- Driver --------------------------------------------------------------------------------

    def owns(self, topic: str, partition: int) -> bool:
        return (topic, partition) in self.assignment

    def group_metadata(self) -> object | None:
        """The aiokafka member's metadata for the transaction; None once it was expelled."""
        member = group_member(self.app)
        if member is None or member[1] < 0 or not member[2]:
            return None
        return group_metadata(*member)

    async def commit(self, offsets: Offsets) -> None:
        self._ack()

    async def blocking(self, call: Callable[[], T]) -> T:
        return await asyncio.to_thread(call)

    def _ack(self) -> None:
        ack = self.app.consumer.ack
        owns = self.owns
        for message in self._acking:
            if owns(message.topic, message.partition):
                ack(message)
        self._acking = []

    def take(self, message: Message) -> Awaitable[None] | None:
        """The consumer's message sink: buffer; the batch to run when the buffer is full."""
        buffer = self.buffer
        if not buffer:
            self._since = time.monotonic()
        buffer.append(message)
        return self.flush() if len(buffer) >= self.settings.stream_batch_max else None

    # --- batches and timers --------------------------------------------------------------------

    async def flush(self) -> None:
        """Run the buffered events as one batch, then ack them. An aborted batch goes back to
        the head of the buffer and runs again after ``RETRY_S`` (the fetch loop waits meanwhile, so
        the buffer does not grow while the broker is away).

        The events are taken from the buffer only under the lock: a flush that took them before
        waiting for it (the fetch loop's, while the timer's batch was in flight) ran them before the
        in-flight batch's events when that batch aborted, and committed offsets past those,
        which then never ran (tests/unit/test_ingest.py)."""
        async with self.lock:
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not self.buffer:
                return
            events, self.buffer = self.buffer, []
            records = [InRecord(m.key, m.value, _headers(m.headers), m.topic, m.partition,
                                m.offset, _millis(m.timestamp))
                       for m in events]
            self._acking = events
            try:
                done = await self._attempt(records)
            finally:
                self._acking = []
            if not done:
                self.buffer = [m for m in events if self.owns(m.topic, m.partition)] + self.buffer
                self._retry_at = time.monotonic() + RETRY_S

    async def flush_partial(self) -> None:
        """The timer's cut, every ``stream_batch_seconds``: what is buffered — unless the
        consumer is still behind its partitions' ends, when the fetch loop cuts a full batch
        soon (``stream_batch_max``). Cut between two full batches, the few records fetched
        meanwhile cost a whole transaction each time: every other batch of a backlog held ~20
        records. Never later than ``BACKLOG_WAIT_S`` after the oldest message came."""
        if not self.buffer:
            return
        if (time.monotonic() - self._since < BACKLOG_WAIT_S
                and fetch_behind(self.app.consumer, self.assignment)):
            return
        await self.flush()

    async def _attempt(self, records: list[InRecord]) -> bool:
        """One run of the batch protocol; False when it must run again."""
        runtime = self.runtime
        if runtime.resync and not await asyncio.to_thread(self._resync):
            return False
        # Records below the committed offsets were committed by a transaction whose outcome was
        # unknown, or by the partition's previous owner: never run twice.
        done = runtime.committed
        todo = [r for r in records if r.offset >= done.get((r.topic, r.partition), -1)]
        offsets = {(r.topic, r.partition): r.offset + 1 for r in todo}
        try:
            await runtime.run_batch(todo, offsets)
        except FAILED as exc:
            if not runtime.recovered(exc):
                # at-least-once: nothing after a failed delivery may be acked; stop the worker
                # (a restart replays from the committed offsets).
                await self.app.crash(exc)
                raise
            if runtime.fenced():
                return True  # a zombie: the rebalance re-reads from the committed offsets
            log.warning("batch aborted; running it again", extra={"fields": {
                "error": str(exc), "resync": runtime.resync}})
            return False
        self._ack()
        return True

    def _resync(self) -> bool:
        """After the writer threw its producer away: start a new one (its init_transactions
        ends the last transaction), then take the committed offsets and the state from Kafka.
        False while the broker is away."""
        runtime = self.runtime
        try:
            runtime.writer.ready()
            committed = self._committed(self.assignment)
            if committed is None:
                return False
            mine = sorted(p for t, p in self.assignment if t == runtime.raw_topic)
            self.store.drop(set(mine))
            restored = restore(self.settings, runtime.changelog, mine, self.store)
        except (KafkaException, WriterFatal) as exc:
            log.warning("resync waits", extra={"fields": {"error": str(exc)}})
            return False
        runtime.committed = committed
        runtime.resync = False
        log.warning("resynced after a lost transaction outcome", extra={"fields": {
            "restored_vehicles": restored}})
        return True

    def _committed(self, partitions: set[tuple[str, int]], strict: bool = True
                   ) -> Offsets | None:
        """``state.committed_offsets`` through a reader of our group that joins nothing (the
        aiokafka member cannot be asked from this thread)."""
        if not partitions:
            return {}
        reader = Consumer(consumer_conf(self.settings, self.app.conf.id))
        try:
            return committed_offsets(reader, partitions, strict)
        finally:
            reader.close()

    async def sweep(self) -> None:
        await self._unblock_sweep()
        more = True
        while more:  # slice by slice, letting batches in between
            async with self.lock:
                more = await self.runtime.sweep()
            await asyncio.sleep(0)

    async def flush_stats(self) -> None:
        async with self.lock:
            await self.runtime.flush_stats()

    async def _unblock_sweep(self) -> None:
        """The sweep's timer settles a pending resync or learns missing committed offsets itself
        when ``Runtime.unblock_due``: the next batch may never come."""
        runtime = self.runtime
        if not self.assignment or not runtime.unblock_due():
            return
        async with self.lock:
            if runtime.resync:
                await asyncio.to_thread(self._resync)
                return
            runtime.learn_committed(
                await asyncio.to_thread(self._committed, self.assignment, False))

    # --- rebalancing (faust_private.RebalanceHooks) --------------------------------------------

    async def on_assigned(self, assigned: set[TP]) -> None:
        """Before Faust serves the assignment: the state of its raw partitions from the
        changelog, the committed offsets the sweep and the stale-record filter use."""
        async with self.lock:
            self.buffer = [m for m in self.buffer if m.tp in assigned]
            started = time.monotonic()
            self.assignment = {(tp.topic, tp.partition) for tp in assigned}
            committed = await asyncio.to_thread(self._committed, self.assignment, False)
            mine = self.runtime.assigned(self.assignment, committed)
            self.store.drop(set(self.store.owner.values()))  # all of it comes from the changelog
            restored = await asyncio.to_thread(
                restore, self.settings, self.runtime.changelog, mine, self.store)
            log.info("partitions assigned", extra={"fields": {
                "raw_partitions": mine, "restored_vehicles": restored,
                "restore_seconds": round(time.monotonic() - started, 3)}})

    async def on_revoked(self, revoked: set[TP]) -> None:
        async with self.lock:  # after any batch in flight
            gone = {(tp.topic, tp.partition) for tp in revoked}
            self.assignment -= gone
            self.runtime.revoked(gone)
            self.buffer = [m for m in self.buffer if m.tp not in revoked]


def register(app: BorderApp, settings: Settings, clock: Clock = utcnow) -> FaustDriver:
    """Subscribe ``raw`` and the stats facts (no agent: the consumer hands every message to
    ``FaustDriver.take``, ``faust_private`` point 6) and start the driver's timers. The facts
    go through the batches too: one is counted once its offset is committed with a batch (the
    runtime adds it after the commit), as in the batch engine."""
    driver = FaustDriver(app, settings, clock)
    app.topics.add(app.topic(settings.topic("raw"), partitions=settings.partitions))
    app.topics.add(app.topic(settings.topic(STATS_FACTS), partitions=1))
    app.message_sink = driver.take

    @app.timer(settings.stream_batch_seconds)  # type: ignore[misc]
    async def flush_partial_batch() -> None:
        await driver.flush_partial()

    @app.timer(settings.sweep_interval_seconds)  # type: ignore[misc]
    async def sweep() -> None:
        await driver.sweep()

    @app.timer(1.0)  # type: ignore[misc]
    async def stats_flush() -> None:
        await driver.flush_stats()

    return driver
