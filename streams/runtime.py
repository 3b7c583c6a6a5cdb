"""The stream runtime: everything both engines do around the pure ``Processor``.

An engine (``streams.engine``: confluent-kafka loop; ``streams.ingest``: Faust agent) only reads
records, keeps per-vehicle state where it can find it again, and commits input offsets. This
module owns the rest, once: the batch protocol, the changelog name, stats windows, the sweep,
metrics, pending gauges, rebalance counting, and the one writer (``streams.runtime_writer``).

One batch (docs/streams.md, failure table):

- **exactly-once** (both engines by default): process (pure) → begin transaction → produce
  outputs and state changes → send the input offsets with the group metadata (the Faust
  engine's: its aiokafka member's, ``bordersync.kafka.group_metadata``) → commit the
  transaction → apply the state changes locally. A failure aborts: nothing of the batch is
  visible to ``read_committed`` readers; the engine runs the batch again (the batch engine
  rewinds to its first offsets, the Faust engine keeps it in memory). When the producer is
  thrown away instead (fenced, fatal, or a call that never returned), the outcome is unknown
  until its replacement settles it: the engine then restores its state from the changelog and
  goes on from the committed offsets (``resync``).
- **at-least-once** (``stream_guarantee=at_least_once``): process → produce outputs, wait for
  every ack → apply and produce state changes, wait → commit the input offsets. A crash
  replays; outputs repeat with the same ids, state that says "seen" is never durable before
  what it produced.

Records of partitions the engine no longer owns are dropped before processing: their state was
dropped at the revoke and belongs to the new owner (defect (b) of issue #15).

**Every exactly-once transaction is fenced by the group generation** (issue #15, soak seed 21):
a transaction is refused by the broker only through the offsets it sends with the group metadata
(KIP-447), so the sweep and the stats flush, which consume nothing, send the offsets already
committed for the owned partitions again (``fence_offsets``: from the engine's own commits,
its resync and its assignment — never a fetch position, which would commit past records not yet
processed). Unfenced, a worker paused past its session timeout swept after it resumed and
before it learnt it had lost its partitions: its UNMATCHED alerts (and shares) duplicated the
new owner's, and its changelog writes landed in partitions it no longer owned. A refused
transaction is aborted and the worker writes nothing more until its consumer has been through
the rebalance (``fenced``). A worker that owns nothing, or knows no committed offset of what it
owns, has nothing to sweep.

The protocol is written once as coroutines. The Faust driver awaits them on its event loop (its
blocking calls run in a thread); the batch engine runs them with ``run_sync`` — every await of
its driver completes at once, so no event loop is involved.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from confluent_kafka import KafkaError, KafkaException

from bordersync.border import load_border_config
from bordersync.kafka import kafka_error
from bordersync.security.keys import pipeline_signer
from bordersync.settings import Settings
from bordersync.wire import codec
from streams import metrics
from streams.logic.model import VehicleState, to_epoch_ms
from streams.logic.stats import Fact, StatsWindows
from streams.processor import STATS_FACTS, BatchResult, InRecord, Processor
from streams.risk.feed import risk_stage
from streams.runtime_faults import Faults
from streams.runtime_writer import DeliveryFailed, Offsets, Writer, WriterFatal, abortable
from streams.verify import RecordVerifier

log = logging.getLogger("bordersync.streams.runtime")
CHANGELOG = "streams-vehicles-changelog"
FAILED = (KafkaException, DeliveryFailed, WriterFatal)  # a batch transaction that failed
SWEEP_SLICE = 1000  # vehicles per sweep call: a big due set (after a restore) never stalls a batch
UNBLOCK_S = 5.0  # at most this often, a sweep timer asks for committed offsets it lacks
# What the group coordinator answers a transactional offset commit of a stale member (librdkafka
# makes the transaction abortable): the worker is a zombie until its consumer rejoins.
FENCED = {KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID,
          KafkaError.FENCED_INSTANCE_ID}
T = TypeVar("T")
Clock = Callable[[], datetime]

def utcnow() -> datetime:
    return datetime.now(UTC)

class StateStore(Protocol):
    """Where an engine keeps per-vehicle state (``streams.state.DictStore`` in both)."""

    def take(self, plate: str) -> bytes | VehicleState | None: ...  # streams.batch.Load
    def put(self, plate: str, partition: int, value: bytes | None) -> None: ...

    def schedule(self, result: BatchResult) -> None:
        """After a committed batch: the next due time of every vehicle it changed or swept."""

    def due(self, now: int, limit: int) -> list[tuple[str, int, bytes | VehicleState]]:
        """(plate, partition, state) of owned vehicles the sweep should look at now."""

    def pending(self, result: BatchResult) -> dict[str, int]:
        """Pending crossings per crossing id, after a sweep."""

    def drop(self, partitions: set[int]) -> None:
        """Forget the vehicles of raw partitions no longer owned."""

class Driver(Protocol):
    """The engine, as the runtime sees it: ownership, state, offsets, and how to wait."""

    @property
    def store(self) -> StateStore: ...

    def owns(self, topic: str, partition: int) -> bool: ...

    def group_metadata(self) -> object | None:
        """The consumer's group metadata for a transactional offset commit (batch engine); None
        when the consumer is not a group member (any more): a transactional offset commit
        without a member id and generation is *accepted* by a non-empty group, unfenced."""

    async def commit(self, offsets: Offsets) -> None:
        """At-least-once: commit (or ack) the batch's input offsets; its state is durable."""

    async def blocking(self, call: Callable[[], T]) -> T:
        """Run a blocking writer call (flush, transaction commit) without stalling the engine."""

def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a runtime coroutine whose awaits all complete at once (the batch engine's driver)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a runtime coroutine suspended outside an event loop")

class Runtime:
    def __init__(self, settings: Settings, driver: Driver, exactly_once: bool,
                 clock: Clock = utcnow, writer: Writer | None = None) -> None:
        self.settings = settings
        self.driver = driver
        self.clock = clock
        self.exactly_once = exactly_once
        self.border = load_border_config(settings.border_config)
        self.processor = Processor(settings, self.border, settings.partitions,
                                   verifier=RecordVerifier.from_settings(settings),
                                   share_signer=pipeline_signer(settings),
                                   risk=risk_stage(settings, self.border))
        self.raw_topic = settings.topic("raw")
        self.facts_topic = settings.topic(STATS_FACTS)
        self.changelog = settings.topic(CHANGELOG)
        self.stats = StatsWindows(settings.stats_window_seconds, settings.grace_seconds)
        self.faults = Faults.parse(settings.stream_fault)
        self.batches = 0
        self.writer = writer or Writer(settings, transactional=exactly_once, faults=self.faults)
        # Set when a transaction's outcome is unknown (its producer was thrown away): the engine
        # must re-read from the committed offsets and restore state before the next batch.
        self.resync = False
        # Input offsets committed, per partition (exactly-once): what the sweep and the stats
        # flush send again to be fenced by the group generation (module docstring).
        self.committed: Offsets = {}
        # When a transaction was refused for a stale group generation: nothing is written until
        # the consumer has been through the rebalance (or a session timeout has passed).
        self.fenced_at: float | None = None
        self._unblock_at = 0.0  # monotonic, ``unblock_due``
        self._crossings = [c.id for c in self.border.crossings]

    # --- one batch -----------------------------------------------------------------------------

    async def run_batch(self, records: Iterable[InRecord], offsets: Offsets) -> int:
        """The batch protocol (module docstring). Returns the number of records processed."""
        owns = self.driver.owns
        raw: list[InRecord] = []
        facts: list[bytes | None] = []
        for rec in records:
            if not owns(rec.topic, rec.partition):
                continue  # revoked since it was fetched: the new owner reads it again
            if rec.topic == self.facts_topic:
                facts.append(rec.value)
            else:
                raw.append(rec)
        offsets = {tp: o for tp, o in offsets.items() if owns(*tp)}
        if not raw and not offsets:
            return 0
        # The fault hooks count batches of raw records (a batch of stats facts alone has no
        # outputs: a hook "after-outputs" there would never fire).
        n = 0
        if raw:
            self.batches += 1
            n = self.batches
        result = self.processor.process(raw, self.clock(), self.driver.store.take) if raw else None
        await self._write(result, offsets, n)
        for value in facts:  # only once their offsets are committed: an aborted batch is re-read
            self.add_facts(value)
        return len(raw)

    async def _write(self, result: BatchResult | None, offsets: Offsets, n: int) -> None:
        faults, writer, store = self.faults, self.writer, self.driver.store
        faults.crash("after-process", n)
        if self.exactly_once:
            group = self._member()
            writer.begin()
            try:
                if result is not None:
                    writer.outputs(result.outputs)
                    faults.crash("after-outputs", n)
                    self._changelog(result, local=False)
                    if faults.fail_changelog(n):
                        writer.fail("fault hook: changelog write failed")
                    faults.crash("after-changelog", n)
                await self.driver.blocking(lambda: writer.commit(offsets, group))
            except BaseException:
                writer.abort()  # e.g. a produce that raised: never leave a half batch open
                raise
            self.committed.update(offsets)
            faults.crash("after-commit", n)
            if result is not None:
                for plate, value in result.state.items():
                    store.put(plate, result.owner[plate], value)
        else:
            if result is not None:
                # Outputs before the state that says "seen": a replay must not be dropped as a
                # duplicate of outputs that were lost.
                writer.outputs(result.outputs)
                await self.driver.blocking(writer.flush)
                faults.crash("after-outputs", n)
                self._changelog(result, local=True)
                if faults.fail_changelog(n):
                    writer.fail("fault hook: changelog write failed")
                await self.driver.blocking(writer.flush)
                faults.crash("after-changelog", n)
            await self.driver.commit(offsets)
            faults.crash("after-commit", n)
        if result is not None:
            store.schedule(result)
            metrics.apply(result.tally)

    def _member(self) -> object:
        """The group metadata for the next transaction, or the error of a fenced worker."""
        group = None if self.fenced() else self.driver.group_metadata()
        if group is None:
            reason = "fenced: waiting for the rebalance" if self.fenced_at is not None else \
                "not a member of the consumer group"
            raise KafkaException(KafkaError(KafkaError.UNKNOWN_MEMBER_ID, reason))
        return group

    def fenced(self) -> bool:
        if self.fenced_at is None:
            return False
        if time.monotonic() - self.fenced_at > self.settings.session_timeout_ms / 1000:
            self.fenced_at = None  # no rebalance came: the next commit asks the broker again
        return self.fenced_at is not None

    def fence_offsets(self) -> Offsets:
        """The committed offsets of the owned partitions: sent again by a transaction that
        consumed nothing, so a zombie's is refused (module docstring)."""
        owns = self.driver.owns
        return {tp: o for tp, o in self.committed.items() if o >= 0 and owns(*tp)}

    def learn_committed(self, found: Offsets | None) -> None:
        """Committed offsets read outside an assignment (``unblock_due``); known ones stay."""
        for tp, offset in (found or {}).items():
            self.committed.setdefault(tp, offset)

    def unblock_due(self) -> bool:
        """Whether the sweep timer should settle what makes the sweep wait (``_idle``): a pending
        resync, or no known committed offset (CI's short soak: the next batch never came)."""
        now, blocked = time.monotonic(), self.resync or not self.fence_offsets()
        if not self.exactly_once or not blocked or now < self._unblock_at:
            return False
        self._unblock_at = now + UNBLOCK_S
        return True

    def _idle(self) -> bool:
        """Exactly-once: no sweep or stats transaction now — the outcome of the last one is
        being settled (``resync``: its offsets may be stale), the worker was fenced, or nothing
        owned has a committed offset to fence it with."""
        return self.exactly_once and (self.resync or self.fenced() or not self.fence_offsets())

    def _changelog(self, result: BatchResult, local: bool) -> None:
        send, changelog, store = self.writer.send, self.changelog, self.driver.store
        for plate, value in result.state.items():
            partition = result.owner[plate]
            if local:
                store.put(plate, partition, value)
            send(changelog, value, plate.encode(), {"partition": partition})

    # --- timers --------------------------------------------------------------------------------

    async def sweep(self) -> bool:
        """UNMATCHED alerts and TTL for due vehicles; True when more are due than one slice."""
        if self._idle():
            return False  # the vehicles stay due
        now = self.clock()
        store = self.driver.store
        items = store.due(to_epoch_ms(now), SWEEP_SLICE)
        result = self.processor.sweep(items, now)
        if result.outputs or result.state:
            try:
                await self._write(result, self.fence_offsets(), 0)
            except FAILED as exc:
                if not self.recovered(exc):
                    raise  # at-least-once: the writer stays failed, the worker must restart
                # Nothing of the sweep is visible and no local state changed: its vehicles are
                # due again.
                log.warning("sweep aborted; its vehicles are due again",
                            extra={"fields": {"error": str(exc)}})
                again = BatchResult(schedule={plate: (to_epoch_ms(now), pending)
                                              for plate, (_, pending) in result.schedule.items()})
                store.schedule(again)
                return False
        else:
            store.schedule(result)
        metrics.set_pending({c: n for c, n in self.driver.store.pending(result).items() if n > 0},
                            self._crossings)
        return len(items) == SWEEP_SLICE

    def add_facts(self, value: bytes | None) -> None:
        if value:
            for row in json.loads(value):
                self.stats.add(Fact.unpack(row))

    async def flush_stats(self) -> None:
        """Emit the stats windows that are due (in their own transaction when exactly-once)."""
        if self._idle():
            return
        windows = self.stats.windows
        dirty = [key for key, window in windows.items() if window.dirty]
        records = self.stats.due(self.clock().timestamp())
        if not records:
            return
        topic = self.writer.topic("stats")
        if not self.exactly_once:
            for r in records:
                self.writer.send(topic, codec.encode("stats", r),
                                 f"{r['crossing']}|{r['direction']}".encode(), {})
            await self.driver.blocking(self.writer.flush)
            return
        try:
            group, offsets = self._member(), self.fence_offsets()
            self.writer.begin()
            for r in records:
                self.writer.send(topic, codec.encode("stats", r),
                                 f"{r['crossing']}|{r['direction']}".encode(), {})
            await self.driver.blocking(lambda: self.writer.commit(offsets, group))
        except FAILED as exc:
            self.writer.abort()
            if not self.recovered(exc):
                raise
            log.warning("stats flush aborted; emitted again next time",
                        extra={"fields": {"error": str(exc)}})
            for key in dirty:
                if key in windows:
                    windows[key].dirty = True

    def recovered(self, exc: BaseException) -> bool:
        """After a failed transaction (exactly-once): the work can always be redone. An
        abortable failure was aborted: redo it from the batch's first offsets. Otherwise the
        producer was fenced, failed fatally (e.g. after a pause past the session and transaction
        timeouts) or stopped answering, and the writer threw it away: whether the transaction
        committed is unknown until its replacement's ``init_transactions`` settles it, so
        ``resync`` asks the engine to re-read from the committed offsets and restore state from
        the changelog. A zombie's new producer cannot commit either: its offsets carry the
        stale group generation."""
        if not self.exactly_once:
            return False
        error = kafka_error(exc)
        if error is not None and error.code() in FENCED and self.fenced_at is None:
            self.fenced_at = time.monotonic()
            metrics.TXN_FENCED.inc()
            log.warning("transaction fenced by the consumer group (this worker lost its "
                        "partitions); nothing is written until it has rejoined",
                        extra={"fields": {"error": str(exc)}})
        if isinstance(exc, WriterFatal) or not abortable(exc):
            if not isinstance(exc, WriterFatal):
                self.writer.discard(f"producer failed: {exc}")
            self.resync = True
            log.warning("transaction outcome unknown; re-reading from the committed offsets",
                        extra={"fields": {"error": str(exc)}})
        return True

    # --- rebalancing ---------------------------------------------------------------------------

    def assigned(self, partitions: Iterable[tuple[str, int]],
                 committed: Offsets | None = None) -> list[int]:
        """Count the rebalance, learn the committed offsets of what is now owned (exactly-once);
        the raw partitions among ``partitions``. A fenced worker has rejoined."""
        metrics.REBALANCES.inc()
        self.fenced_at = None
        if committed is not None:
            self.committed = {tp: o for tp, o in committed.items() if o >= 0}
        return sorted(p for t, p in partitions if t == self.raw_topic)

    def revoked(self, partitions: Iterable[tuple[str, int]]) -> None:
        """What left: no longer fenced with (the new owner commits it), its vehicles' state
        dropped (the new owner restores it from the changelog)."""
        raw = set()
        for topic, partition in partitions:
            self.committed.pop((topic, partition), None)
            if topic == self.raw_topic:
                raw.add(partition)
        self.driver.store.drop(raw)
        log.info("partitions revoked", extra={"fields": {"raw_partitions": sorted(raw)}})

    def close(self) -> None:
        self.writer.close()
