"""The runtime's one Kafka writer (librdkafka), used by both engines.

Outputs, state changes and stats go through one confluent-kafka producer: ~1 µs of Python per
record, where aiokafka's ``send`` cost the Faust engine ~30 µs and a future per record
(docs/streams.md, "Faust engine overhead").

Two modes:

- **at-least-once**: ``flush`` waits for every record produced so far; any failed delivery makes
  the writer *broken* for good (``DeliveryFailed`` on every later flush), so nothing after a
  failure can be committed (the batch engine used to clear the errors and commit anyway: silent
  state loss, defect (a) of issue #15).
- **exactly-once**: a transactional producer (``transactional.id`` per worker process, see
  ``transactional_id``); a batch is ``begin`` → produce → ``commit(offsets, group)`` which sends
  the input offsets with the consumer's group metadata (KIP-447 fencing: a worker whose
  generation is stale cannot commit) and commits the transaction; ``abort`` on any failure.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition

from bordersync.kafka import producer_conf
from bordersync.settings import Settings
from streams.processor import OutRecord

log = logging.getLogger("bordersync.streams.writer")
Offsets = dict[tuple[str, int], int]
FLUSH_TIMEOUT_S = 60.0


class DeliveryFailed(RuntimeError):
    """A record was not acknowledged: nothing produced after it may be committed."""


class WriterFatal(RuntimeError):
    """The transactional producer is fenced (a newer owner exists) or fatally failed: the worker
    must exit. Deliberately not a KafkaException, so no retry path catches it."""


def abortable(exc: BaseException) -> bool:
    """A failure after which the transaction was aborted and the work can be redone (not a
    fenced or fatally failed producer)."""
    if isinstance(exc, DeliveryFailed):
        return True
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    return isinstance(error, KafkaError) and not error.fatal()


def transactional_id(settings: Settings) -> str:
    """One id per worker *process*, not per input partition: KIP-447 (Kafka 2.5+) fences a
    zombie through the group generation sent with the offsets, so per-partition producers are
    not needed. A random suffix keeps two workers of one deployment apart; the price is that a
    crashed worker's open transaction is only aborted by the broker after
    ``transaction.timeout.ms`` (set to the session timeout: its partitions move at the same time)."""
    return f"{settings.topic_prefix}streams-{uuid.uuid4().hex[:12]}"


class Writer:
    def __init__(self, settings: Settings, transactional: bool) -> None:
        self.settings = settings
        self.transactional = transactional
        self._topics: dict[str, str] = {}
        self._errors: list[str] = []
        self.broken: str | None = None
        extra: dict[str, Any] = {
            "linger.ms": 1, "batch.num.messages": 10000,
            "queue.buffering.max.messages": 1_000_000,
            # Delivery reports only for failures: success is learnt from flush().
            "delivery.report.only.error": True, "on_delivery": self._report}
        if transactional:
            extra |= {"transactional.id": transactional_id(settings),
                      "transaction.timeout.ms": max(settings.session_timeout_ms, 10_000)}
        self.producer = Producer(producer_conf(settings, **extra))
        self.in_transaction = False
        if transactional:
            self.producer.init_transactions(FLUSH_TIMEOUT_S)

    def topic(self, stream: str) -> str:
        return self._topics.get(stream) or self._topics.setdefault(
            stream, self.settings.topic(stream))

    # --- producing -----------------------------------------------------------------------------

    def outputs(self, outputs: list[OutRecord]) -> None:
        produce = self.producer.produce
        for out in outputs:
            topic = self.topic(out.stream)
            if out.headers is None and out.partition is None:
                try:
                    produce(topic, out.value, out.key)
                    continue
                except BufferError:
                    pass
            kwargs: dict[str, Any] = {}
            if out.headers:
                kwargs["headers"] = out.headers
            if out.partition is not None:
                kwargs["partition"] = out.partition
            self.send(topic, out.value, out.key, kwargs)

    def send(self, topic: str, value: bytes | None, key: bytes | None,
             kwargs: dict[str, Any]) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key, **kwargs)
                return
            except BufferError:
                self.producer.poll(0.05)

    def _report(self, err: KafkaError | None, _msg: Message) -> None:
        # _PURGE_QUEUE: records of a transaction we aborted ourselves, reported after the abort.
        if err is not None and err.code() != KafkaError._PURGE_QUEUE:
            self._errors.append(str(err))

    def fail(self, reason: str) -> None:
        """Record a failed delivery (also the fault hook's way in)."""
        self._errors.append(reason)

    # --- at-least-once -------------------------------------------------------------------------

    def flush(self) -> None:
        """Every record produced so far acknowledged, or ``DeliveryFailed`` — then and forever."""
        if self.broken is None:
            self.producer.flush(FLUSH_TIMEOUT_S)
            if self._errors or len(self.producer):
                self.broken = (f"{len(self._errors)} records not acknowledged "
                               f"({len(self.producer)} still queued): {self._errors[:3]}")
        if self.broken is not None:
            raise DeliveryFailed(self.broken)

    # --- exactly-once --------------------------------------------------------------------------

    def begin(self) -> None:
        if not self.in_transaction:
            self.producer.begin_transaction()
            self.in_transaction = True

    def commit(self, offsets: Offsets, group: object | None) -> None:
        """Send the input offsets (if any) with the group's metadata and commit the transaction:
        outputs, state changes and offsets become visible together, or not at all."""
        try:
            if offsets and group is not None:
                self.producer.send_offsets_to_transaction(
                    [TopicPartition(t, p, o) for (t, p), o in offsets.items()], group,
                    FLUSH_TIMEOUT_S)
            # Every record delivered or failed before deciding: an abort with records in flight
            # leaves the idempotent producer with a sequence gap (the next transaction fails
            # with OUT_OF_ORDER_SEQUENCE_NUMBER and is aborted in turn).
            self.producer.flush(FLUSH_TIMEOUT_S)
            if self._errors:
                raise DeliveryFailed(f"{len(self._errors)} records not acknowledged: "
                                     f"{self._errors[:3]}")
            self.producer.commit_transaction(FLUSH_TIMEOUT_S)
            self.in_transaction = False
        except (KafkaException, DeliveryFailed):
            self.abort()
            raise

    def abort(self) -> None:
        """Abort the open transaction (its records are never visible to read_committed readers);
        raises when the producer is fenced or fatally failed (the worker must exit)."""
        if not self.in_transaction:
            self._errors.clear()
            return
        self.in_transaction = False
        try:
            self.producer.abort_transaction(FLUSH_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.fatal():
                raise WriterFatal(str(exc)) from exc
            log.warning("abort failed", extra={"fields": {"error": str(exc)}})
        self.producer.poll(0)  # serve the aborted records' reports before forgetting errors
        self._errors.clear()

    def close(self) -> None:
        if self.in_transaction:
            self.abort()
        elif not self.transactional and self.broken is None:
            self.producer.flush(10)
