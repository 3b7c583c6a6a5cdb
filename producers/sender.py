"""The background sender: outbox rows -> idempotent producer -> delete on a successful delivery report.

Rules that keep "accepted" meaning "will reach Kafka":
- a row is produced once per producer lifetime: rows handed to librdkafka are remembered as in
  flight and not produced again while librdkafka still owns them (a slow flush is not a reason to
  send a second copy);
- a row is deleted only from its own successful delivery report, whenever that report arrives;
- a failed report keeps the row, counts the failure, pauses new sends until every in-flight
  report is back, then re-sends from the oldest undelivered row after a backoff (so one vehicle's
  events stay in order: records of a vehicle share a key, hence a partition, and librdkafka's
  idempotent producer keeps a partition's order);
- a fatal producer error (e.g. the broker lost the producer id across a restart) replaces the
  producer and re-sends from the oldest row. Copies sent twice carry the same ``event_id`` and
  are dropped as exact duplicates by the streams;
- a row the broker can never take (``produce`` refuses it, or its report says too large /
  invalid: ``PERMANENT``) is moved to the outbox's poison table and counted as a failure, so the
  rows behind it flow and ``BordersyncOutboxFailing`` fires; retrying it would hold back every
  later event of the terminal forever. ``bordersync outbox requeue`` sends it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from bordersync.kafka import kafka_error, producer_conf
from bordersync.settings import Settings
from producers import metrics
from producers.outbox import Outbox, OutboxRecord

log = logging.getLogger(__name__)

ProducerFactory = Callable[[dict[str, Any]], Producer]
MAX_BACKOFF_S = 5.0
METRICS_EVERY_S = 1.0
# Errors that no retry can fix for this record (as opposed to timeouts, missing leaders, a
# broker that is away): the record itself is too large or malformed.
PERMANENT = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG_SIZE,
                       KafkaError.INVALID_MSG, KafkaError.INVALID_RECORD,
                       KafkaError.RECORD_LIST_TOO_LARGE, KafkaError._INVALID_ARG})


def permanent(err: KafkaError | None) -> bool:
    return err is not None and err.code() in PERMANENT and not err.fatal()


@dataclass(frozen=True)
class SendStats:
    delivered: int
    failed: int
    remaining: int
    last_error: str | None
    poisoned: int = 0


class Sender:
    """Delivers one outbox on its own thread; ``close`` flushes what it can within a deadline."""

    def __init__(
        self, outbox: Outbox, settings: Settings, terminal: str, *,
        max_in_flight: int = 20_000, message_timeout_ms: int = 60_000, batch: int = 2_000,
    ) -> None:
        self.outbox = outbox
        self.terminal = terminal
        self._conf = producer_conf(
            settings,
            **{"message.timeout.ms": message_timeout_ms, "error_cb": self._on_error,
               "retry.backoff.max.ms": 1000, "reconnect.backoff.max.ms": 2000,
               # Connection errors reach error_cb (and our structured log); librdkafka's own
               # stderr lines would flood a terminal's console while the broker is away.
               "log_level": 0},
        )
        self._max_in_flight = max_in_flight
        self._batch = batch
        self._producer: Producer | None = None
        self._in_flight: set[int] = set()
        self._cursor = 0
        self._done: list[int] = []
        self._failures: list[tuple[int, str]] = []
        self._poisoned: list[tuple[int, str]] = []
        self._fatal: str | None = None
        self._paused_until: float | None = None
        self._backoff = 0.2
        self._stop = threading.Event()
        self._deadline = float("inf")
        self._thread = threading.Thread(target=self._run, name=f"outbox-sender-{terminal}",
                                        daemon=True)
        self.produced = 0  # produce calls, re-sends included
        self.delivered = 0
        self.failed = 0
        self.poisoned = 0
        self.last_error: str | None = None
        self._gauges = (metrics.OUTBOX_DEPTH.labels(terminal),
                        metrics.OUTBOX_OLDEST_AGE.labels(terminal))
        self._delivered_total = metrics.OUTBOX_DELIVERED.labels(terminal)
        self._failed_total = metrics.OUTBOX_FAILED.labels(terminal)
        self._poisoned_total = metrics.OUTBOX_POISONED.labels(terminal)
        self._poison_rows = metrics.OUTBOX_POISON_ROWS.labels(terminal)

    def start(self) -> Sender:
        self._thread.start()
        return self

    def close(self, timeout: float = 30.0) -> SendStats:
        """Keep sending until the outbox is empty or ``timeout`` passed; then stop the thread.

        Rows still unacknowledged stay in the outbox and go out with the next sender.
        """
        self._deadline = time.monotonic() + timeout
        self._stop.set()
        self.outbox.changed.set()
        if self._thread.is_alive():
            self._thread.join()
        elif not self._thread.ident:
            self._run()  # never started: a synchronous drain (used by one-shot CLIs)
        return self.stats()

    def stats(self) -> SendStats:
        return SendStats(self.delivered, self.failed, self.outbox.depth(), self.last_error,
                         self.poisoned)

    # -- the loop (sender thread only) ----------------------------------------------------------

    def _run(self) -> None:
        last_metrics = 0.0
        try:
            while True:
                now = time.monotonic()
                if self._stop.is_set() and (self.outbox.depth() == 0 or now >= self._deadline):
                    break
                try:
                    idle = self._step(now)
                except Exception as exc:
                    if self.outbox.closed:
                        return
                    # Never let the thread die while the terminal keeps accepting: log, back off,
                    # start over from the oldest row with a fresh producer.
                    log.exception("outbox sender error; retrying",
                                  extra={"fields": {"terminal": self.terminal}})
                    # A failure like any other: counted, so BordersyncOutboxFailing sees it.
                    self.failed += 1
                    self._failed_total.inc()
                    self.last_error = str(exc)
                    self.outbox.note("last_error", self.last_error)
                    self._fatal = self._fatal or str(exc)
                    time.sleep(1.0)
                    continue
                if now - last_metrics >= METRICS_EVERY_S:
                    self._update_metrics()
                    last_metrics = now
                if idle:
                    # Wake on the next append (or to retry after a backoff).
                    self.outbox.changed.wait(0.2 if self._paused_until is None else 0.05)
                    self.outbox.changed.clear()
            if self._producer is not None and self._in_flight:
                self._producer.flush(max(0.0, self._deadline - time.monotonic()))
                self._settle()
        finally:
            self._update_metrics()

    def _step(self, now: float) -> bool:
        """One round: replace a broken producer, send new rows, collect reports. True if idle."""
        if self._fatal is not None:
            self._replace_producer()
        sent = self._produce_some(now)
        self._ensure_producer().poll(0.05 if self._in_flight else 0)
        self._settle()
        return not sent and not self._in_flight

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(self._conf)
        return self._producer

    def _produce_some(self, now: float) -> int:
        if self._paused_until is not None:
            if self._in_flight or now < self._paused_until:
                return 0
            # Every report of the failed round is back: start again at the oldest row, with a
            # fresh producer (a restarted broker may have lost the idempotent producer id and
            # sequence numbers; an old producer would time out on it forever).
            self._paused_until = None
            self._cursor = 0
            self._producer = None
        room = self._max_in_flight - len(self._in_flight)
        if room <= 0 or (self._stop.is_set() and time.monotonic() >= self._deadline):
            return 0
        rows = self.outbox.after(self._cursor, min(room, self._batch))
        producer = self._ensure_producer()
        for seq, rec in rows:
            if self._produce_one(producer, seq, rec):
                self._in_flight.add(seq)
            self._cursor = seq
        self.produced += len(rows)
        return len(rows)

    def _produce_one(self, producer: Producer, seq: int, rec: OutboxRecord) -> bool:
        """Hand one row to librdkafka; False when it refused the row for good (poisoned)."""
        while True:
            try:
                producer.produce(rec.topic, rec.value, rec.key, headers=list(rec.headers),
                                 on_delivery=self._reporter(seq))
                return True
            except BufferError:
                producer.poll(0.05)
            except KafkaException as exc:
                err = kafka_error(exc)
                if not permanent(err):
                    raise
                self._poison(seq, f"produce refused: {err}")
                return False

    def _reporter(self, seq: int) -> Callable[[KafkaError | None, Message], None]:
        def report(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                self._done.append(seq)
            elif permanent(err):
                self._poisoned.append((seq, f"broker refused: {err}"))
            else:
                self._failures.append((seq, str(err)))

        return report

    def _poison(self, seq: int, error: str) -> None:
        """Move a row the broker will never take aside; count it as a failure (alert)."""
        self._in_flight.discard(seq)
        if self.outbox.poison(seq, error):
            self.poisoned += 1
            self.failed += 1
            self._poisoned_total.inc()
            self._failed_total.inc()
            self.last_error = error
            self.outbox.note("last_error", error)
            self._poison_rows.set(len(self.outbox.poisoned()))
            log.error("outbox row moved aside: the broker can never accept it", extra={"fields": {
                "terminal": self.terminal, "seq": seq, "error": error,
                "requeue": f"bordersync outbox requeue --terminal {self.terminal}"}})

    def _settle(self) -> None:
        poisoned, self._poisoned = self._poisoned, []
        for seq, error in poisoned:
            self._poison(seq, error)
        done, self._done = self._done, []
        failures, self._failures = self._failures, []
        if done:
            self.outbox.remove(done)
            self._in_flight.difference_update(done)
            self.delivered += len(done)
            self._delivered_total.inc(len(done))
            self._backoff = 0.2
        if failures:
            self._in_flight.difference_update(seq for seq, _ in failures)
            self.failed += len(failures)
            self._failed_total.inc(len(failures))
            self.last_error = failures[-1][1]
            self.outbox.mark_attempt(seq for seq, _ in failures)
            if self._paused_until is None:  # once per failed round, not per report
                self.outbox.note("last_error", self.last_error)
                log.warning("delivery failed; will retry", extra={"fields": {
                    "terminal": self.terminal, "error": self.last_error,
                    "backoff_s": self._backoff, "undelivered": self.outbox.depth()}})
                self._pause()

    def _pause(self) -> None:
        self._paused_until = time.monotonic() + self._backoff
        self._backoff = min(MAX_BACKOFF_S, self._backoff * 2)

    def _replace_producer(self) -> None:
        old, self._producer = self._producer, None
        if old is not None:
            # Reports of the purged messages arrive as failures; their rows stay for the re-send.
            old.purge()
            old.flush(1.0)
            self._settle()
        self._in_flight.clear()
        self._fatal = None
        if self._paused_until is None:
            self._pause()

    def _on_error(self, err: KafkaError) -> None:
        self.last_error = str(err)
        log.debug("producer error", extra={"fields": {"terminal": self.terminal, "error": str(err)}})
        if err.fatal():
            self._fatal = str(err)
            log.warning("producer fatal error; replacing the producer",
                        extra={"fields": {"terminal": self.terminal, "error": str(err)}})

    def _update_metrics(self) -> None:
        if self.outbox.closed:
            return
        depth, age = self._gauges
        depth.set(self.outbox.refresh_depth())
        age.set(self.outbox.oldest_age_seconds())


def deliver_all(outbox: Outbox, settings: Settings, terminal: str, timeout: float) -> SendStats:
    """Send everything the outbox holds, waiting at most ``timeout`` seconds."""
    return Sender(outbox, settings, terminal).start().close(timeout)
