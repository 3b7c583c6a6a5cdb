"""The batch engine: the same ``Processor`` driven by a plain confluent-kafka loop.

Faust's per-event stream machinery tops out near 10k events/s per worker, and its consumer adds
a fetch sleep per hop; this loop hands whole fetched batches to the pure processor instead. One
batch, in order (the failure table in docs/streams.md applies unchanged):

1. consume: wait for the first record, then take whatever else is already buffered;
2. process (pure): outputs + per-vehicle state changes;
3. produce outputs and wait for every acknowledgement; then produce the state changes
   (changelog) — state that says "seen" is never durable before what it produced;
4. commit the batch's input offsets once its state changes are acknowledged. That wait is not
   on the hot path: the next batch is processed meanwhile and the commit goes out when the
   acknowledgements arrive (in batch order), so each batch costs one broker round trip, not three.

A crash anywhere before 4 replays the batch (and any later one whose commit was waiting):
outputs may repeat (downstream dedup by their ids), state is rebuilt from the changelog, and
nothing accepted is lost.

Per-vehicle state lives in a dict restored from the compacted changelog topic when partitions are
assigned: read from the log start up to the end offsets asked for when the restore begins.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from bordersync import codec
from bordersync.border import load_border_config
from bordersync.kafka import consumer_conf, producer_conf
from bordersync.keys import pipeline_signer
from bordersync.settings import Settings
from streams import metrics
from streams.due import DueIndex
from streams.logic.stats import Fact, StatsWindows
from streams.processor import STATS_FACTS, BatchResult, InRecord, Processor
from streams.verify import RecordVerifier

log = logging.getLogger("bordersync.streams.engine")
Clock = Callable[[], datetime]
CHANGELOG = "streams-vehicles-changelog"
RESTORE_TIMEOUT_S = 300.0
SWEEP_SLICE = 1000  # vehicles per sweep call: a big due set (after a restore) never stalls a batch


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DeliveryFailed(RuntimeError):
    """A record of the batch was not acknowledged: the batch must not be committed."""


@dataclass
class _Ticket:
    """A processed batch whose input offsets wait for its state changes to be acknowledged:
    by the next completed flush (``flushes`` counts them) or an empty producer queue."""

    offsets: dict[tuple[str, int], int]
    flushes: int = 0


class BatchEngine:
    def __init__(self, settings: Settings, clock: Clock = _utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self.border = load_border_config(settings.border_config)
        self.processor = Processor(settings, self.border, settings.partitions,
                                   verifier=RecordVerifier.from_settings(settings),
                                   share_signer=pipeline_signer(settings))
        self.raw_topic = settings.topic("raw")
        self.facts_topic = settings.topic(STATS_FACTS)
        self.changelog = settings.topic(CHANGELOG)
        self.state: dict[str, bytes] = {}
        self.owner: dict[str, int] = {}
        self.due = DueIndex()
        self._tickets: deque[_Ticket] = deque()
        self._flushes = 0
        self._topics: dict[str, str] = {}
        self.stats = StatsWindows(settings.stats_window_seconds, settings.grace_seconds)
        self.running = True
        self._errors: list[str] = []
        self.consumer = Consumer(consumer_conf(settings, f"{settings.topic_prefix}streams",
                                               on_commit=self._committed))
        # Delivery reports only for failures: a Python callback per record costs ~1.5 µs and the
        # engine learns success from flush() and the queue length instead.
        self.producer = Producer(producer_conf(
            settings, **{"linger.ms": 1, "batch.num.messages": 10000,
                         "queue.buffering.max.messages": 1_000_000,
                         "delivery.report.only.error": True, "on_delivery": self._report}))

    # --- lifecycle -----------------------------------------------------------------------------

    def stop(self, *_: Any) -> None:
        self.running = False

    def run(self) -> int:
        self.consumer.subscribe([self.raw_topic, self.facts_topic], on_assign=self._on_assign,
                                on_revoke=self._on_revoke)
        last_sweep = last_stats = time.monotonic()
        more_due = False
        try:
            while self.running:
                batch = self._next_batch()
                if batch:
                    self._handle(batch)
                self._commit_acknowledged()
                now = time.monotonic()
                if more_due or now - last_sweep >= self.settings.sweep_interval_seconds:
                    more_due = self._sweep()
                    last_sweep = now
                if now - last_stats >= 1.0:
                    self._flush_stats()
                    last_stats = now
        finally:
            self._settle(10)
            self.consumer.close()
        return 0

    def _next_batch(self) -> list[Message]:
        first = self.consumer.poll(0.1)
        if first is None:
            return []
        rest = self.consumer.consume(self.settings.stream_batch_max - 1, timeout=0)
        return [first, *rest]

    # --- one batch -----------------------------------------------------------------------------

    def _handle(self, messages: list[Message]) -> None:
        raw: list[InRecord] = []
        offsets: dict[tuple[str, int], int] = {}
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error", extra={"fields": {"error": str(err)}})
                continue
            topic, partition = str(msg.topic()), int(msg.partition() or 0)
            offset = int(msg.offset() or 0)
            offsets[(topic, partition)] = offset + 1
            if topic == self.facts_topic:
                self._add_facts(msg.value())
                continue
            headers = [(str(h[0]), h[1]) for h in msg.headers() or [] if isinstance(h[1], bytes)]
            raw.append(InRecord(msg.key(), msg.value(), headers, topic, partition, offset))
        if raw:
            result = self.processor.process(raw, self.clock(), self.state.get)
            self._write(result)
        if offsets:
            # After _write: its state changes count as acknowledged only at a later flush.
            self._tickets.append(_Ticket(offsets, self._flushes))

    # --- commits -------------------------------------------------------------------------------

    def _commit_acknowledged(self, asynchronous: bool = True) -> None:
        """Commit, in batch order, every batch whose state changes the broker has acknowledged."""
        self.producer.poll(0)
        if self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryFailed(f"{len(errors)} records not acknowledged: {errors[:3]}")
        if not self._tickets:
            return
        # Every record is acknowledged once the queue is empty (failures were reported above).
        acked = self._flushes + 1 if len(self.producer) == 0 else self._flushes
        ready: dict[tuple[str, int], int] = {}
        while self._tickets and self._tickets[0].flushes < acked:
            ready |= self._tickets.popleft().offsets
        if not ready:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in ready.items()]
        try:
            if asynchronous:
                self.consumer.commit(offsets=offsets, asynchronous=True)
            else:
                self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            self._committed(exc.args[0] if exc.args else exc, [])

    def _committed(self, err: Any, _partitions: list[TopicPartition]) -> None:
        if err is not None:
            # Partitions moved before the commit: the new owner replays those batches; their
            # outputs are duplicates by id and their state effects are already in the changelog.
            log.warning("commit failed; batches will be replayed by the new owner",
                        extra={"fields": {"error": str(err)}})

    def _settle(self, timeout: float) -> None:
        """Everything produced acknowledged and committed (before partitions leave, at exit)."""
        self.producer.flush(timeout)
        self._commit_acknowledged(asynchronous=False)

    def _write(self, result: BatchResult) -> None:
        """Outputs acknowledged by the broker, then the state changes (the batch's commit waits
        for those: ``_commit_acknowledged``)."""
        produce = self.producer.produce
        topics = self._topics
        for out in result.outputs:
            topic = topics.get(out.stream) or topics.setdefault(
                out.stream, self.settings.topic(out.stream))
            try:
                if out.headers is None and out.partition is None:
                    produce(topic, out.value, out.key)
                    continue
            except BufferError:
                pass
            kwargs: dict[str, Any] = {}
            if out.headers:
                kwargs["headers"] = out.headers
            if out.partition is not None:
                kwargs["partition"] = out.partition
            self._produce(produce, topic, out.value, out.key, kwargs)
        # Outputs must be acknowledged before the state that says "seen": if the worker died
        # between the two, a replay must not be dropped as a duplicate of lost outputs.
        self._flush()
        for plate, value in result.state.items():
            partition = result.owner[plate]
            if value is None:
                self.state.pop(plate, None)
                self.owner.pop(plate, None)
            else:
                self.state[plate] = value
                self.owner[plate] = partition
            self._produce(produce, self.changelog, value, plate.encode(), {"partition": partition})
        for plate, (due, pending) in result.schedule.items():
            if plate in self.state:
                self.due.set(plate, due, pending)
            else:
                self.due.remove(plate)
        metrics.apply(result.tally)

    def _flush(self) -> None:
        self.producer.flush(60)
        if self._errors or len(self.producer):
            errors, self._errors = self._errors, []
            raise DeliveryFailed(f"{len(errors)} records not acknowledged: {errors[:3]}")
        self._flushes += 1  # everything produced so far is acknowledged

    def _produce(self, produce: Callable[..., None], topic: str, value: bytes | None,
                 key: bytes | None, kwargs: dict[str, Any]) -> None:
        while True:
            try:
                produce(topic, value, key, **kwargs)
                return
            except BufferError:
                self.producer.poll(0.05)

    def _report(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._errors.append(str(err))

    # --- timers --------------------------------------------------------------------------------

    def _sweep(self) -> bool:
        """Sweep the vehicles that are due; True when more are due than one slice took."""
        now = self.clock()
        plates = self.due.pop_due(now.timestamp(), SWEEP_SLICE)
        items = [(p, self.owner[p], self.state[p]) for p in plates if p in self.state]
        if items:
            result = self.processor.sweep(items, now)
            # Their state changes are durable before the next commit: the flush of the next
            # batch's outputs waits for them too, and a crash before that re-sweeps after restore.
            self._write(result)
        metrics.set_pending({c: n for c, n in self.due.pending.items() if n > 0},
                            [c.id for c in self.border.crossings])
        return len(plates) == SWEEP_SLICE

    def _add_facts(self, value: bytes | None) -> None:
        import json

        if value:
            for row in json.loads(value):
                self.stats.add(Fact.unpack(row))

    def _flush_stats(self) -> None:
        records = self.stats.due(self.clock().timestamp())
        for r in records:
            self._produce(self.producer.produce, self.settings.topic("stats"),
                          codec.encode("stats", r), f"{r['crossing']}|{r['direction']}".encode(), {})
        if records:
            self.producer.poll(0)

    # --- rebalancing ---------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        metrics.REBALANCES.inc()
        mine = sorted(tp.partition for tp in partitions if tp.topic == self.raw_topic)
        started = time.monotonic()
        restored = self._restore(mine)
        log.info("partitions assigned", extra={"fields": {
            "raw_partitions": mine, "restored_vehicles": restored,
            "restore_seconds": round(time.monotonic() - started, 3)}})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._settle(60)
        gone = {tp.partition for tp in partitions if tp.topic == self.raw_topic}
        for plate in [p for p, part in self.owner.items() if part in gone]:
            self.state.pop(plate, None)
            self.owner.pop(plate, None)
            self.due.remove(plate)
        log.info("partitions revoked", extra={"fields": {"raw_partitions": sorted(gone)}})

    def _restore(self, partitions: list[int]) -> int:
        if not partitions:
            return 0
        reader = Consumer(consumer_conf(self.settings, f"{self.settings.topic_prefix}restore",
                                        **{"enable.partition.eof": True}))
        ends = {p: reader.get_watermark_offsets(TopicPartition(self.changelog, p), timeout=10)
                for p in partitions}
        done = {p for p, (low, high) in ends.items() if high <= low}
        reader.assign([TopicPartition(self.changelog, p, 0) for p in partitions if p not in done])
        count = 0
        deadline = time.monotonic() + RESTORE_TIMEOUT_S
        try:
            # The end is the offset asked for above (read_committed: the last stable offset) or
            # an end-of-partition event, whichever comes first (a transaction's commit marker
            # takes the last offset and is never delivered as a record).
            while len(done) < len(partitions):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"state restore of {self.changelog} did not reach the end "
                                       f"within {RESTORE_TIMEOUT_S}s")
                for msg in reader.consume(10000, timeout=0.5):
                    err = msg.error()
                    part = int(msg.partition() or 0)
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            done.add(part)
                        continue
                    key = msg.key()
                    if int(msg.offset() or 0) + 1 >= ends[part][1]:
                        done.add(part)
                    if key is None:
                        continue
                    plate = key.decode()
                    value = msg.value()
                    if value is None:
                        self.state.pop(plate, None)
                        self.owner.pop(plate, None)
                        self.due.remove(plate)
                    else:
                        self.state[plate] = value
                        self.owner[plate] = part
                        # Due at once: the sweep learns its real schedule (and pending count).
                        self.due.set(plate, 0.0)
                        count += 1
        finally:
            reader.close()
        return count


def run_engine(settings: Settings) -> int:
    engine = BatchEngine(settings)

    def _stop(signum: int, frame: FrameType | None) -> None:
        engine.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return engine.run()
