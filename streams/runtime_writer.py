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

**A transactional call that never returns.** librdkafka 2.16 can block in
``send_offsets_to_transaction`` for good, past its timeout: when every broker is down (a
single-node cluster's SIGKILL) it starts a re-bootstrap and decommissions the learned brokers
(librdkafka #5600), the group coordinator it cached is one of them, and its coordinator request
waits for that broker's state to change, which never happens (#5511), with the request's own
timeout never checked (#5456). So the transactional producer never re-bootstraps
(``metadata.recovery.strategy=none``: it reconnects to the brokers it knows), and every blocking
transactional call runs in a helper thread under a deadline (librdkafka's timeout + a grace).
A producer that misses the deadline, fails fatally or is fenced is thrown away (``discard``) and
the next transaction starts on a new one with the *same* ``transactional.id``: its
``init_transactions`` fences the old one and completes or aborts its open transaction. Whether
the failed transaction committed (a commit whose answer was lost) is unknown to this process
until then, so the runtime re-reads from the group's committed offsets and restores its state
from the changelog (``Runtime.recovered``, ``BatchEngine.resync``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition

from bordersync.kafka import kafka_error, kafka_exception, producer_conf
from bordersync.settings import Settings
from streams import metrics
from streams.processor import OutRecord
from streams.runtime_faults import Faults

log = logging.getLogger("bordersync.streams.writer")
Offsets = dict[tuple[str, int], int]
T = TypeVar("T")
FLUSH_TIMEOUT_S = 60.0
DEADLINE_GRACE_S = 5.0  # past librdkafka's own timeout, before a call counts as hung
MAX_STUCK = 8  # hung producers (each keeps a thread) before the worker exits instead
# Errors after which a new producer cannot help: the broker refuses this principal or config.
GIVE_UP = {KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
           KafkaError.CLUSTER_AUTHORIZATION_FAILED, KafkaError.INVALID_TRANSACTION_TIMEOUT,
           KafkaError.UNSUPPORTED_VERSION, KafkaError._INVALID_ARG}


class DeliveryFailed(RuntimeError):
    """A record was not acknowledged: nothing produced after it may be committed."""


class WriterFatal(RuntimeError):
    """The transactional producer was fenced, failed fatally or stopped answering, and was
    thrown away; the next transaction starts on a new one. Whether the failed transaction
    committed is unknown until then, so the caller must re-read from the committed offsets.
    Deliberately not a KafkaException, so no abort-and-redo path takes it for a known abort."""


class WriterGaveUp(RuntimeError):
    """No new producer can help (the broker refuses this principal or configuration), or too
    many producers hung: the worker exits, so a supervisor sees it."""


class CallHung(Exception):
    """A blocking client call did not return within its deadline."""


def call_with_deadline(name: str, run: Callable[[], T], deadline: float, *,
                       hang_before: bool = False, hang_after: bool = False) -> T:
    """Run one blocking librdkafka call in a helper thread (it releases the GIL) and wait at
    most ``deadline`` seconds; ``CallHung`` when it did not return — librdkafka does not always
    honour its own timeout (module docstring). ``hang_before``/``hang_after`` are the fault
    hooks' hangs: nothing sent, or done with the answer lost."""
    box: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            if hang_before:
                threading.Event().wait()
            result = run()
            if hang_after:
                threading.Event().wait()
            box.append((True, result))
        except BaseException as exc:  # handed to the waiting thread
            box.append((False, exc))

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(deadline)
    if not box:
        raise CallHung(f"{name} did not return within {deadline}s")
    done, value = box[0]
    if not done:
        raise value
    return value  # type: ignore[no-any-return]


def abortable(exc: BaseException) -> bool:
    """A failure after which the transaction was aborted and the work can be redone from the
    batch's first offsets (not a fenced, fatally failed or hung producer)."""
    if isinstance(exc, DeliveryFailed):
        return True
    error = kafka_error(exc)
    return error is not None and not error.fatal()


def transactional_id(settings: Settings) -> str:
    """One id per worker *process*, not per input partition: KIP-447 (Kafka 2.5+) fences a
    zombie through the group generation sent with the offsets, so per-partition producers are
    not needed. A random suffix keeps two workers of one deployment apart; the price is that a
    crashed worker's open transaction is only aborted by the broker after
    ``transaction.timeout.ms`` (set to the session timeout: its partitions move at the same time).
    A producer replaced within the process keeps the id (module docstring)."""
    return f"{settings.topic_prefix}streams-{uuid.uuid4().hex[:12]}"


def _retire(holder: list[Producer]) -> None:
    """Let thrown-away producers be destroyed in a daemon thread, which drops the last
    reference (``holder`` holds the only one): rd_kafka_destroy waits for librdkafka's threads,
    which must not stall the worker. A hung call keeps its producer alive until it returns."""
    threading.Thread(target=holder.clear, name="txn-retire", daemon=True).start()


class Writer:
    def __init__(self, settings: Settings, transactional: bool,
                 faults: Faults | None = None) -> None:
        self.settings = settings
        self.transactional = transactional
        self.faults = faults or Faults()
        self._topics: dict[str, str] = {}
        self._errors: list[str] = []
        self.broken: str | None = None
        self.in_transaction = False
        self.stale: str | None = None  # why the producer must be replaced before the next txn
        self.generation = 0  # producers made so far
        self.hung = 0
        txn_timeout_ms = max(settings.session_timeout_ms, 10_000)
        self.call_timeout_s = txn_timeout_ms / 1000
        self._conf = producer_conf(settings, **{
            "linger.ms": 1, "batch.num.messages": 10000,
            "queue.buffering.max.messages": 1_000_000,
            # Delivery reports only for failures: success is learnt from flush().
            "delivery.report.only.error": True})
        if transactional:
            self._conf |= {"transactional.id": transactional_id(settings),
                           "transaction.timeout.ms": txn_timeout_ms,
                           "metadata.recovery.strategy": "none"}
        self.producer = self._new_producer()
        if transactional:
            try:
                self._call("init", lambda: self.producer.init_transactions(FLUSH_TIMEOUT_S),
                           FLUSH_TIMEOUT_S + DEADLINE_GRACE_S)
            except CallHung as hung:
                raise WriterGaveUp(f"the first producer did not start: {hung}") from None

    def _new_producer(self) -> Producer:
        self.generation += 1
        generation = self.generation

        def report(err: KafkaError | None, msg: Message) -> None:
            if generation == self.generation:  # a thrown-away producer's reports are stale
                self._report(err, msg)

        return Producer(self._conf | {"on_delivery": report})

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
            try:
                self.producer.flush(FLUSH_TIMEOUT_S)
            except (KafkaException, SystemError) as exc:  # fatal (bordersync.kafka.kafka_exception)
                cause = kafka_exception(exc)
                if cause is None:
                    raise
                self._errors.append(str(cause))
            if self._errors or len(self.producer):
                self.broken = (f"{len(self._errors)} records not acknowledged "
                               f"({len(self.producer)} still queued): {self._errors[:3]}")
        if self.broken is not None:
            raise DeliveryFailed(self.broken)

    # --- exactly-once --------------------------------------------------------------------------

    def _call(self, call: str, run: Callable[[], T], deadline: float | None = None) -> T:
        """One blocking producer call under ``deadline`` (librdkafka's timeout + a grace)."""
        limit = deadline if deadline is not None else self.call_timeout_s + DEADLINE_GRACE_S
        try:
            hang = self.faults.txn_call(call) == "hang"
            # The hook on commit lets the commit go through and loses its answer.
            return call_with_deadline(f"txn-{call}", run, limit,
                                      hang_before=hang and call != "commit",
                                      hang_after=hang and call == "commit")
        except SystemError as exc:  # a fatal error behind a delivery callback's SystemError
            cause = kafka_exception(exc)
            if cause is None:
                raise
            raise cause from exc

    def begin(self) -> None:
        if self.in_transaction:
            return
        self.ready()
        try:
            self.faults.txn_call("begin")
            self.producer.begin_transaction()
        except KafkaException as exc:
            raise self.discard(f"begin_transaction failed: {exc}") from exc
        self.in_transaction = True

    def commit(self, offsets: Offsets, group: object | None) -> None:
        """Send the input offsets (if any) with the group's metadata and commit the transaction:
        outputs, state changes and offsets become visible together, or not at all. Raises an
        abortable error (aborted: redo from the batch's first offsets) or ``WriterFatal``."""
        producer, timeout = self.producer, self.call_timeout_s
        try:
            if offsets and group is not None:
                tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
                self._call("send-offsets",
                           lambda: producer.send_offsets_to_transaction(tps, group, timeout))
            # Every record delivered or failed before deciding: an abort with records in flight
            # leaves the idempotent producer with a sequence gap (the next transaction fails
            # with OUT_OF_ORDER_SEQUENCE_NUMBER and is aborted in turn).
            queued = self._call("flush", lambda: producer.flush(timeout))
            if self._errors or queued:
                raise DeliveryFailed(f"{len(self._errors)} records not acknowledged, {queued} "
                                     f"still queued: {self._errors[:3]}")
            self._call("commit", lambda: producer.commit_transaction(timeout))
            self.in_transaction = False
        except DeliveryFailed:
            self.abort()
            raise
        except CallHung as hung:
            self.hung += 1
            raise self.discard(str(hung)) from None
        except KafkaException as exc:
            error = kafka_error(exc)
            if error is None or not error.txn_requires_abort() or error.fatal():
                # Fatal, fenced, or a commit that timed out: the outcome is not known here.
                raise self.discard(f"transaction failed: {exc}") from exc
            self.abort()
            raise

    def abort(self) -> None:
        """Abort the open transaction (its records are never visible to read_committed readers).
        Never raises: a producer that cannot abort is thrown away, and its replacement's
        ``init_transactions`` aborts the transaction (it was never committed)."""
        if self.in_transaction:
            self.in_transaction = False
            producer, timeout = self.producer, self.call_timeout_s
            try:
                self._call("abort", lambda: producer.abort_transaction(timeout))
                producer.poll(0)  # serve the aborted records' reports before forgetting errors
            except CallHung as hung:
                self.hung += 1
                self.discard(str(hung))
            except KafkaException as exc:
                self.discard(f"abort_transaction failed: {exc}")
        self._errors.clear()

    def discard(self, reason: str) -> WriterFatal:
        """Throw the producer away (it is replaced before the next transaction); returns the
        error for the caller to raise."""
        if self.stale is None:
            log.warning("transactional producer thrown away", extra={"fields": {
                "reason": reason, "generation": self.generation, "hung": self.hung}})
        self.stale = reason
        self.in_transaction = False
        self._errors.clear()
        return WriterFatal(reason)

    def ready(self) -> None:
        """A live producer for the next transaction: after ``discard``, a new one with the same
        ``transactional.id``, whose ``init_transactions`` fences the old one and completes or
        aborts its transaction. Raises ``WriterFatal`` while none can be started (the broker
        is still away) and ``WriterGaveUp`` when waiting cannot help."""
        if self.stale is None:
            return
        if self.hung >= MAX_STUCK:
            raise WriterGaveUp(f"{self.hung} transactional producers hung; last: {self.stale}")
        old = [self.producer]
        self.producer = producer = self._new_producer()
        _retire(old)
        try:
            self._call("init", lambda: producer.init_transactions(self.call_timeout_s))
        except CallHung as hung:
            self.hung += 1
            raise WriterFatal(f"new producer: {hung}") from None
        except KafkaException as exc:
            error = kafka_error(exc)
            if error is not None and error.code() in GIVE_UP:
                raise WriterGaveUp(f"new producer refused: {exc}") from exc
            raise WriterFatal(f"new producer not started yet: {exc}") from exc
        metrics.PRODUCERS_REPLACED.inc()
        log.warning("transactional producer replaced", extra={"fields": {
            "generation": self.generation, "after": self.stale}})
        self.stale = None

    def close(self) -> None:
        if self.in_transaction:
            self.abort()
        elif not self.transactional and self.broken is None:
            self.producer.flush(10)
