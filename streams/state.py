"""Per-vehicle state of both engines: a dict of the owned partitions' vehicles, restored from
the compacted changelog when partitions are assigned (and after a lost transaction outcome).

The runtime writes the changelog (``streams.runtime``); a store only keeps its dict and the
sweep's time index in step. Restore reads ``read_committed``: a zombie's aborted writes never
come back (issue #15: the Faust engine restored through Faust's table, which read every write,
so a worker resumed past its session timeout could overwrite a vehicle's state behind its new
owner's back).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from bordersync.kafka import consumer_conf, kafka_error
from bordersync.settings import Settings
from streams.due import DueIndex
from streams.logic.model import VehicleState
from streams.processor import BatchResult
from streams.runtime_writer import Offsets

log = logging.getLogger("bordersync.streams.state")
RESTORE_TIMEOUT_S = 300.0
COMMITTED_TIMEOUT_S = 30.0
END_OFFSET_TIMEOUT_S = 60.0  # a broker's death is noticed and its leaders moved well within it


class DueSchedule:
    """The sweep's time index, shared by both engines' stores: the partition owning each known
    vehicle and its next due time, fed by every batch's ``BatchResult.schedule``."""

    def __init__(self) -> None:
        self.index = DueIndex()
        self.owner: dict[str, int] = {}

    def schedule(self, result: BatchResult) -> None:
        for plate, (due, pending) in result.schedule.items():
            if plate in self.owner:
                self.index.set(plate, due, pending)
            else:
                self.index.remove(plate)

    def forget(self, plate: str) -> None:
        self.owner.pop(plate, None)
        self.index.remove(plate)

    def pending(self, result: BatchResult) -> dict[str, int]:
        return dict(self.index.pending)


class DictStore(DueSchedule):
    """Per-vehicle state of the owned partitions in memory, with the sweep's time index.

    Every owned vehicle's state is kept encoded (``state``): the truth, what the changelog holds.
    Besides, up to ``live`` recently used vehicles keep the decoded state a committed batch left
    (``BatchResult.live``), so their next event skips the decode (docs/streams.md, "Live
    state"). A decoded state is handed out once (``take``): the batch changes it in place, and
    only a committed batch gives it back (``schedule``). A failed batch never does, so its
    vehicles are decoded again from their encoding, which it did not touch. A decoded state is
    kept only while the encoding it was handed out or written with is still the vehicle's (a
    restore or a revoke in between replaced or dropped it)."""

    def __init__(self, live: int = 0) -> None:
        super().__init__()
        self.state: dict[str, bytes] = {}
        self.live_max = live
        # plate -> (decoded state, the encoding it equals), least recently used first (an
        # OrderedDict: evicting from a dict's front leaves holes every next eviction steps over)
        self.live: OrderedDict[str, tuple[VehicleState, bytes]] = OrderedDict()
        self.lent: dict[str, bytes | None] = {}  # plate -> encoding when its state was taken

    def take(self, plate: str) -> bytes | VehicleState | None:
        """The vehicle's state for a batch (``streams.batch.Load``): decoded when kept so."""
        data = self.state.get(plate)
        if not self.live_max:
            return data  # none kept: nothing to remember of the encoding handed out
        self.lent[plate] = data
        kept = self.live.pop(plate, None)
        return kept[0] if kept is not None and kept[1] is data else data

    def put(self, plate: str, partition: int, value: bytes | None) -> None:
        self.live.pop(plate, None)
        if value is None:
            self.state.pop(plate, None)
            self.forget(plate)
        else:
            self.state[plate] = value
            self.owner[plate] = partition

    def schedule(self, result: BatchResult) -> None:
        """A committed batch's schedule, and its vehicles' decoded states kept for the next."""
        super().schedule(result)
        if not self.live_max:
            return
        lent, live, state, written = self.lent, self.live, self.state, result.state
        for plate, st in result.live.items():
            data = state.get(plate)
            if data is not None and data is (written[plate] if plate in written else
                                             lent.get(plate)):
                live.pop(plate, None)  # to the end: the most recently used
                live[plate] = (st, data)
        lent.clear()
        while len(live) > self.live_max:
            live.popitem(last=False)

    def due(self, now: int, limit: int) -> list[tuple[str, int, bytes | VehicleState]]:
        return [(p, self.owner[p], st) for p in self.index.pop_due(now, limit)
                if (st := self.take(p)) is not None]  # None: not owned (any more)

    def drop(self, partitions: set[int]) -> None:
        for plate in [p for p, part in self.owner.items() if part in partitions]:
            self.put(plate, 0, None)

    def restored(self, plate: str, partition: int, value: bytes | None) -> None:
        self.put(plate, partition, value)
        if value is not None:
            self.index.set(plate, 0)  # due at once: the sweep learns its schedule and pending


def committed_offsets(consumer: Consumer, partitions: Iterable[tuple[str, int]],
                      strict: bool = True) -> Offsets | None:
    """The group's committed offsets of ``partitions`` (an OffsetFetch, for the consumer's
    ``group.id``: the batch engine asks its own consumer, the Faust engine a reader that joins
    nothing), without the partitions that have none. None when they cannot be read now; when
    ``strict``, also when any partition answers an error — otherwise those that could be read (a
    partition whose offsets a crashed worker's open transaction still holds answers an error
    until the broker aborts that transaction)."""
    wanted = sorted(set(partitions))
    if not wanted:
        return {}
    try:
        found = consumer.committed([TopicPartition(t, p) for t, p in wanted],
                                   timeout=COMMITTED_TIMEOUT_S)
    except KafkaException as exc:
        log.warning("committed offsets unknown", extra={"fields": {"error": str(exc)}})
        return None
    failed = [tp for tp in found if tp.error is not None]
    if failed:
        log.warning("committed offsets unknown", extra={"fields": {
            "error": str(failed[0].error), "partitions": len(failed), "strict": strict}})
        if strict:
            return None
    return {(tp.topic, tp.partition): tp.offset for tp in found
            if tp.error is None and tp.offset >= 0}


def restore(settings: Settings, changelog: str, partitions: list[int], store: DictStore) -> int:
    """Replay the changelog partitions into ``store``, up to their end *including* transactions
    still open (a crashed owner's: aborted by the broker within ``transaction.timeout.ms``; a
    zombie's: committed or aborted), so no committed state change is missed."""
    if not partitions:
        return 0
    ends = _ends(settings, changelog, partitions)
    reader = Consumer(consumer_conf(settings, f"{settings.topic_prefix}restore"))
    todo = {p for p in partitions if ends[p] > 0}
    reader.assign([TopicPartition(changelog, p, 0) for p in todo])
    count = 0
    deadline = time.monotonic() + RESTORE_TIMEOUT_S
    try:
        while todo:
            if time.monotonic() > deadline:
                raise RuntimeError(f"state restore of {changelog} did not reach the end "
                                   f"within {RESTORE_TIMEOUT_S}s")
            for msg in reader.consume(10000, timeout=0.2):
                key = msg.key()
                if msg.error() is not None or key is None:
                    continue
                value = msg.value()
                store.restored(key.decode(), int(msg.partition() or 0), value)
                count += value is not None
            # read_committed: the position moves past commit markers and aborted records too.
            for tp in reader.position([TopicPartition(changelog, p) for p in todo]):
                if tp.offset >= ends[tp.partition]:
                    todo.discard(tp.partition)
    finally:
        reader.close()
    return count


def _ends(settings: Settings, changelog: str, partitions: list[int]) -> dict[int, int]:
    """The high watermarks of the changelog partitions (``_end_offset``), through a new client
    while one answers ``_DESTROY_BROKER``: librdkafka dropped the handle of a restarted broker
    and that client keeps answering so. A Faust worker's restore at its assignment gave up on it
    and the worker exited 1 (the short soak); asked again through the same client, a batch
    engine's resync (we infer) waited 60 s per partition, past the broker-SIGKILL test (CI at
    ac4669b)."""
    deadline = time.monotonic() + END_OFFSET_TIMEOUT_S
    while True:
        probe = Consumer(consumer_conf(settings, f"{settings.topic_prefix}restore",
                                       **{"isolation.level": "read_uncommitted"}))
        try:
            return {p: _end_offset(probe, TopicPartition(changelog, p)) for p in partitions}
        except KafkaException as exc:
            error = kafka_error(exc)
            destroyed = error is not None and error.code() == KafkaError._DESTROY_BROKER
            if not destroyed or time.monotonic() > deadline:
                raise
            log.warning("restore: a broker handle was destroyed; asking through a new client",
                        extra={"fields": {"error": str(exc)}})
            time.sleep(0.5)
        finally:
            probe.close()


def _end_offset(probe: Consumer, tp: TopicPartition) -> int:
    """The high watermark; retried while a just-created topic gets its leader and metadata, and
    while the partition's leader is away (a broker killed: the query times out until a new
    leader is elected; soak seed 33 — a Faust worker assigned partitions then crashed on the
    first ``_TIMED_OUT``). Not ``_DESTROY_BROKER``: that takes a new client (``_ends``)."""
    deadline = time.monotonic() + END_OFFSET_TIMEOUT_S
    while True:
        try:
            return int(probe.get_watermark_offsets(tp, timeout=10, cached=False)[1])
        except KafkaException as exc:
            error = kafka_error(exc)
            settling = error is not None and (error.retriable() or error.code() in (
                KafkaError._UNKNOWN_PARTITION, KafkaError.NOT_LEADER_FOR_PARTITION,
                KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART,
                KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN))
            if not settling or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
