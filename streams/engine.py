"""The batch engine: a plain confluent-kafka loop driving the stream runtime (``streams.runtime``).

It hands whole fetched batches to the runtime: wait for the first record, take whatever else is
already buffered (up to ``stream_batch_max``), run the batch protocol. By default every batch is
one Kafka transaction (outputs, state changelog and input offsets: exactly-once for
``read_committed`` readers); a failed transaction is aborted and the batch re-read from its first
offsets. ``BORDERSYNC_STREAM_GUARANTEE=at_least_once`` flushes and commits instead. When a
transaction's outcome is unknown (its producer was thrown away: ``streams.runtime_writer``) the
engine re-reads from the group's committed offsets and restores its state (``resync``).

Per-vehicle state lives in a dict restored from the compacted changelog when partitions are
assigned (``DictStore``, ``restore``); the sweep looks only at vehicles its time index says are due.

The consumer's committed offsets are learnt at every assignment and resync: the runtime fences
the sweep's and the stats flush's transactions with them (``Runtime.fence_offsets``). Seeks run
under a deadline: confluent-kafka waits for a seek without one, and the seek is served by the
partition's broker thread, which can be stuck after a broker loss; a consumer that cannot seek
ends the worker (``ConsumerStuck``) instead of stalling it.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from bordersync.kafka import consumer_conf
from bordersync.settings import Settings
from streams.processor import InRecord
from streams.runtime import Clock, Runtime, run_sync, utcnow
from streams.runtime_writer import (
    CallHung,
    DeliveryFailed,
    Offsets,
    WriterFatal,
    call_with_deadline,
)
from streams.state import DictStore, committed_offsets, restore

log = logging.getLogger("bordersync.streams.engine")
RESYNC_RETRY_S = 1.0  # between attempts while no new producer can be started
SEEK_TIMEOUT_S = 30.0
T = TypeVar("T")


class ConsumerStuck(RuntimeError):
    """A consumer call did not return within its deadline: the worker exits (a restart resumes
    from the committed offsets, which is what it was trying to do) instead of stalling."""


def member_of_group(metadata: object) -> bool:
    """Whether the consumer group metadata names a member and a generation. librdkafka
    serialises it as ``CGMDv2:`` + int32 generation (host order) + group id NUL + member id
    NUL + …; after the member was expelled (session or poll interval exceeded) it says
    generation -1 and no member id, which a non-empty group's coordinator accepts with a
    transactional offset commit unchecked (KIP-447 only fences what names a stale member)."""
    if not isinstance(metadata, bytes) or not metadata.startswith(b"CGMDv2:"):
        return True  # an unknown format: the broker's own check stands
    generation = int.from_bytes(metadata[7:11], sys.byteorder, signed=True)
    fields = metadata[11:].split(b"\0")
    return generation >= 0 and len(fields) > 1 and fields[1] != b""


class BatchEngine:
    """The runtime's driver for the confluent-kafka loop (``streams.runtime.Driver``)."""

    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.store = DictStore(settings.live_vehicles)
        self.assignment: set[tuple[str, int]] = set()
        self.running = True
        self.stuck = False
        exactly_once = settings.stream_guarantee == "exactly_once"
        # No re-bootstrap when every broker is down (a single node's restart): librdkafka 2.16
        # then decommissions the brokers it knows and can strand their work (see
        # streams.runtime_writer); it reconnects to them instead.
        self.consumer = Consumer(consumer_conf(settings, f"{settings.topic_prefix}streams", **{
            "metadata.recovery.strategy": "none"}))
        self.runtime = Runtime(settings, self, exactly_once, clock)

    # --- Driver --------------------------------------------------------------------------------

    def owns(self, topic: str, partition: int) -> bool:
        return (topic, partition) in self.assignment

    def group_metadata(self) -> object | None:
        metadata: object = self.consumer.consumer_group_metadata()
        return metadata if member_of_group(metadata) else None

    async def commit(self, offsets: Offsets) -> None:
        if offsets:
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                                 asynchronous=False)

    async def blocking(self, call: Callable[[], T]) -> T:
        return call()

    # --- lifecycle -----------------------------------------------------------------------------

    def stop(self, *_: Any) -> None:
        self.running = False

    def run(self) -> int:
        runtime = self.runtime
        self.consumer.subscribe([runtime.raw_topic, runtime.facts_topic],
                                on_assign=self._on_assign, on_revoke=self._on_revoke)
        last_sweep = last_stats = time.monotonic()
        more_due = False
        try:
            while self.running:
                if runtime.resync and not self.resync():
                    time.sleep(RESYNC_RETRY_S)
                    continue
                batch = self._next_batch()
                if batch:
                    self.handle(batch)
                now = time.monotonic()
                if more_due or now - last_sweep >= self.settings.sweep_interval_seconds:
                    self._unblock_sweep()
                    more_due = run_sync(runtime.sweep())
                    last_sweep = now
                if now - last_stats >= 1.0:
                    run_sync(runtime.flush_stats())
                    last_stats = now
        finally:
            runtime.close()
            if not self.stuck:  # closing a consumer stuck in a call would hang too
                self.consumer.close()
        return 0

    def _unblock_sweep(self) -> None:
        """Learn missing committed offsets when ``Runtime.unblock_due`` (a pending resync is
        settled by the loop itself, before any sweep)."""
        if self.assignment and self.runtime.unblock_due():
            self.runtime.learn_committed(self._committed(
                [TopicPartition(t, p) for t, p in sorted(self.assignment)]))

    def _next_batch(self) -> list[Message]:
        first = self.consumer.poll(0.1)
        if first is None:
            return []
        # A revoke can run inside this call: ``first`` may then belong to a partition that is no
        # longer ours; the runtime drops such records (``owns``).
        rest = self.consumer.consume(self.settings.stream_batch_max - 1, timeout=0)
        return [first, *rest]

    def handle(self, messages: list[Message]) -> None:
        records: list[InRecord] = []
        offsets: Offsets = {}
        firsts: Offsets = {}
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error", extra={"fields": {"error": str(err)}})
                continue
            topic, partition = str(msg.topic()), int(msg.partition() or 0)
            offset = int(msg.offset() or 0)
            offsets[(topic, partition)] = offset + 1
            firsts.setdefault((topic, partition), offset)
            headers = [(str(h[0]), h[1]) for h in msg.headers() or [] if isinstance(h[1], bytes)]
            records.append(InRecord(msg.key(), msg.value(), headers, topic, partition, offset,
                                    msg.timestamp()[1]))
        try:
            run_sync(self.runtime.run_batch(records, offsets))
        except (KafkaException, DeliveryFailed, WriterFatal) as exc:
            if not self.runtime.recovered(exc):
                raise  # nothing after a failure is committed; a restart replays from the commit
            if self.runtime.resync:
                return  # outcome unknown: resync() reads again from the committed offsets
            # The transaction was aborted: read the batch again (quietly while fenced: the
            # rebalance that ends it comes with a poll).
            if not self.runtime.fenced():
                log.warning("batch aborted; re-reading it", extra={"fields": {"error": str(exc)}})
            self.seek([TopicPartition(t, p, o) for (t, p), o in firsts.items() if self.owns(t, p)])

    def seek(self, partitions: list[TopicPartition]) -> None:
        """``Consumer.seek`` under a deadline (module docstring); ``ConsumerStuck`` past it."""
        def seek_all() -> None:
            for tp in partitions:
                self.consumer.seek(tp)

        hang = self.runtime.faults.txn_call("seek") == "hang"
        try:
            call_with_deadline("consumer-seek", seek_all, SEEK_TIMEOUT_S, hang_before=hang)
        except CallHung as hung:
            self.stuck = True
            raise ConsumerStuck(f"consumer seek did not return within {SEEK_TIMEOUT_S}s") from hung

    def resync(self) -> bool:
        """After the writer threw its producer away: start a new one (its init_transactions
        completes or aborts the last transaction), then continue from what Kafka holds, as a
        restarted worker would — positions from the group's committed offsets, state from the
        changelog. False while that cannot be done yet (the broker is still away)."""
        runtime, owned = self.runtime, sorted(self.assignment)
        try:
            runtime.writer.ready()
            committed = committed_offsets(self.consumer, owned)
            if committed is None:
                return False
            self.seek([TopicPartition(t, p, committed.get((t, p), OFFSET_BEGINNING))
                       for t, p in owned])
            runtime.committed = committed
            mine = [p for t, p in owned if t == runtime.raw_topic]
            self.store.drop(set(mine))
            started = time.monotonic()
            restored = restore(self.settings, runtime.changelog, mine, self.store)
        except (KafkaException, WriterFatal) as exc:
            log.warning("resync waits", extra={"fields": {"error": str(exc)}})
            return False
        runtime.resync = False
        log.warning("resynced after a lost transaction outcome", extra={"fields": {
            "positions": {f"{t}[{p}]": committed.get((t, p), "beginning") for t, p in owned},
            "restored_vehicles": restored,
            "restore_seconds": round(time.monotonic() - started, 3)}})
        return True

    # --- rebalancing ---------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assignment = {(tp.topic, tp.partition) for tp in partitions}
        mine = self.runtime.assigned(self.assignment, self._committed(partitions))
        started = time.monotonic()
        restored = restore(self.settings, self.runtime.changelog, mine, self.store)
        log.info("partitions assigned", extra={"fields": {
            "raw_partitions": mine, "restored_vehicles": restored,
            "restore_seconds": round(time.monotonic() - started, 3)}})

    def _committed(self, partitions: list[TopicPartition]) -> Offsets | None:
        """The group's committed offsets of the assigned partitions (what the runtime fences its
        sweep with), those that could be read; None when none could: the sweep then waits for a
        batch or ``_unblock_sweep``."""
        if not self.runtime.exactly_once:
            return None
        return committed_offsets(self.consumer, [(tp.topic, tp.partition) for tp in partitions],
                                 strict=False)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Every batch finished its transaction (or flush and commit) before the next poll, so
        # nothing is in flight: drop the state of what leaves, and stop owning it.
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self.assignment -= gone
        self.runtime.revoked(gone)


def run_engine(settings: Settings) -> int:
    engine = BatchEngine(settings)

    def _stop(signum: int, frame: FrameType | None) -> None:
        engine.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return engine.run()
