"""The partner-agency consumer: ``share.<agency>`` -> Redis read model, at least once.

Per batch: consume, decode and plan, apply the whole batch to Redis in one atomic call, and only
then commit the batch's offsets synchronously. A crash between the two re-delivers the batch,
which the idempotent sink absorbs. Rebalance callbacks run inside ``consume``, i.e. between
batches, when everything applied is already committed, so a revocation never loses work.

Every share record's signature is checked against the pipeline's trusted keys first
(docs/security.md); a bad one is skipped like an undecodable record: counted, logged, not stored.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from bordersync.border import load_border_config
from bordersync.kafka import consumer_conf
from bordersync.security.keys import KeyStore, TrustFile
from bordersync.security.signing import PIPELINE_ADMIN, Rejected, TrustStore, check
from bordersync.settings import Settings
from bordersync.wire import codec
from bordersync.wire.codec import DecodeError
from consumers import metrics
from consumers.readmodel import AgencyContext, Keys, Rejection, Write, plan
from consumers.sink import RedisSink, connect

log = logging.getLogger("bordersync.consumer")
CRASH_EXIT_CODE = 75
LAG_EVERY_SECONDS = 1.0
MARKER_EVERY_SECONDS = 2.0


def group_id(settings: Settings, agency: str) -> str:
    return f"{settings.topic_prefix}agency.{agency}"


def _fields(**fields: Any) -> dict[str, Any]:
    return {"fields": fields}


@dataclass
class Progress:
    batches: int = 0
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    # partition -> last consumed offset, for the commit and the lag gauge
    last: dict[int, int] = field(default_factory=dict)


class AgencyConsumer:
    def __init__(self, settings: Settings, agency: str, rebuild: bool = False) -> None:
        self.settings = settings
        self.ctx = AgencyContext.of(load_border_config(settings.border_config), agency)
        self.keys = Keys.of(settings, agency)
        self.topic = settings.topic(f"share.{agency}")
        self.group = group_id(settings, agency)
        self.sink = RedisSink(connect(settings), self.keys, settings.readmodel_ttl_seconds)
        # The pipeline's public keys (docs/security.md); re-read when `keys import`/`revoke`
        # changes the file. A broken trust file stops the consumer here, with the reason.
        self.trust = TrustFile(KeyStore.from_settings(settings))
        self.progress = Progress()
        self.stopping = False
        if rebuild:
            # Seen-keys would turn a replay into no-ops: start from an empty model instead.
            dropped = self.sink.drop()
            log.warning("rebuild: read model dropped, replaying the share topic",
                        extra=_fields(agency=agency, keys=dropped))
        # Rebuild when asked, or when the read model is empty although offsets may be committed.
        # ``_expect_marker`` False means "rebuilding, first batch not yet applied" (see _rewind).
        self._expect_marker = not rebuild and self._marker_present()
        if not self._expect_marker:
            metrics.REBUILDS.labels(self.ctx.name).inc()
        self.assigned: list[int] = []
        self._lag_at = 0.0
        self._marker_at = 0.0
        self.consumer = Consumer(consumer_conf(settings, self.group))

    def _marker_present(self) -> bool:
        while True:
            try:
                return self.sink.has_marker()
            except redis.RedisError as exc:
                self._redis_down(exc)

    def _redis_down(self, exc: Exception) -> None:
        metrics.ERRORS.labels(self.ctx.name, "redis").inc()
        log.error("redis unavailable; retrying", extra=_fields(agency=self.ctx.name, error=str(exc)))
        time.sleep(1.0)
        if self.stopping:
            raise SystemExit(0)

    # -- rebalance callbacks -------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        metrics.REBALANCES.labels(self.ctx.name).inc()
        # Until the rebuild's first batch is applied, every assignment (a partial one too, and
        # each one after it) starts at the beginning; afterwards the committed offsets are the
        # rebuild's own (see _reset_group_offsets).
        rewound = not self._expect_marker
        if rewound:
            for tp in partitions:
                tp.offset = OFFSET_BEGINNING
        consumer.assign(partitions)
        self.assigned = sorted({*self.assigned, *(tp.partition for tp in partitions)})
        log.info("partitions assigned", extra=_fields(
            agency=self.ctx.name, group=self.group, topic=self.topic,
            partitions=[tp.partition for tp in partitions], rebuild_from_beginning=rewound))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        metrics.REBALANCES.labels(self.ctx.name).inc()
        gone = {tp.partition for tp in partitions}
        self.assigned = [p for p in self.assigned if p not in gone]
        for p in gone:
            self.progress.last.pop(p, None)
            with contextlib.suppress(KeyError):  # never reported for this partition
                metrics.LAG.remove(self.group, self.topic, str(p))
        log.info("partitions revoked", extra=_fields(
            agency=self.ctx.name, group=self.group, topic=self.topic, partitions=sorted(gone)))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("partitions lost (session expired); uncommitted records will be re-delivered",
                    extra=_fields(agency=self.ctx.name, partitions=[tp.partition for tp in partitions]))
        self._on_revoke(consumer, partitions)

    # -- the loop ------------------------------------------------------------------------
    def run(self, idle_exit: float | None = None, on_batch: Callable[[Progress], None] | None = None
            ) -> int:
        self.consumer.subscribe([self.topic], on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_lost)
        idle_since = time.monotonic()
        try:
            while not self.stopping:
                msgs = self.consumer.consume(self.settings.consumer_batch_size, timeout=0.5)
                if msgs:
                    idle_since = time.monotonic()
                    self._batch(msgs)
                    if on_batch is not None:
                        on_batch(self.progress)
                elif idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                    break
                else:
                    self._check_marker_when_idle()
                self._update_lag()
        finally:
            # Everything applied was committed batch by batch; close leaves the group cleanly.
            self.consumer.close()
            log.info("consumer stopped", extra=_fields(
                agency=self.ctx.name, batches=self.progress.batches,
                applied=self.progress.applied, duplicates=self.progress.duplicates))
        return 0

    def _batch(self, msgs: list[Any]) -> None:
        writes: list[Write] = []
        offsets: dict[int, int] = {}
        now = time.time()
        at = datetime.fromtimestamp(now, UTC)
        trust = self.trust()
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    metrics.ERRORS.labels(self.ctx.name, "kafka").inc()
                    log.warning("consume error", extra=_fields(agency=self.ctx.name, error=str(err)))
                continue
            offsets[msg.partition()] = max(offsets.get(msg.partition(), -1), msg.offset())
            write = self._plan(msg, now, trust, at)
            if write is not None:
                writes.append(write)
        if writes and not self._apply(writes):
            return
        self.progress.batches += 1
        crash_at = self.settings.consumer_crash_after_batch
        if crash_at and self.progress.batches == crash_at:
            # Deterministic crash injection for tests: the sink has the batch, Kafka does not know.
            log.error("crash injection: exiting after sink write, before commit",
                      extra=_fields(agency=self.ctx.name, batch=self.progress.batches))
            sys.stderr.flush()
            os._exit(CRASH_EXIT_CODE)
        self._commit(offsets)

    def _plan(self, msg: Any, now: float, trust: TrustStore, at: datetime) -> Write | None:
        where = {"agency": self.ctx.name, "topic": msg.topic(), "partition": msg.partition(),
                 "offset": msg.offset()}
        # Before decoding: a record the pipeline did not sign exactly like this is not trusted
        # for anything, not even for its reason to be skipped.
        signature = check(msg.value(), msg.key(), msg.headers(), trust, admin=PIPELINE_ADMIN,
                          required=self.settings.require_signatures, at=at)
        if isinstance(signature, Rejected):
            self._skip("signature", signature.reason, where)
            return None
        decoded = codec.decode("share", msg.value())
        if isinstance(decoded, DecodeError):
            self._skip("undecodable", decoded.reason, where)
            return None
        write = plan(decoded, msg.key(), self.ctx, self.keys, now, self.settings.readmodel_ttl_seconds)
        if isinstance(write, Rejection):
            self._skip(write.reason, write.detail, where)
            return None
        if write.dropped_fields:
            metrics.ERRORS.labels(self.ctx.name, "field_outside_agreement").inc()
            log.warning("share record carried fields outside the agreement; not stored",
                        extra=_fields(**where, stream=write.stream, fields=list(write.dropped_fields)))
        return write

    def _skip(self, reason: str, detail: str, where: dict[str, Any]) -> None:
        self.progress.skipped += 1
        metrics.ERRORS.labels(self.ctx.name, reason).inc()
        log.warning("share record skipped", extra=_fields(**where, reason=reason, detail=detail))

    def _apply(self, writes: list[Write]) -> bool:
        """True when the batch is in Redis; False when the read model was lost and we rewound,
        or when a rebuild's offsets could not be reset yet (the batch comes again)."""
        if not self._expect_marker and not self._reset_group_offsets():
            return False
        while True:
            try:
                result = self.sink.apply(writes, self._expect_marker)
                break
            except redis.RedisError as exc:
                self._redis_down(exc)
        if result is None:
            self._rewind()
            return False
        self._expect_marker = True
        applied, dups = result
        self.progress.records += len(writes)
        self.progress.applied += applied
        self.progress.duplicates += dups
        metrics.WRITES.labels(self.ctx.name).inc(applied)
        metrics.DUPLICATES.labels(self.ctx.name).inc(dups)
        for w in writes:
            metrics.RECORDS.labels(self.ctx.name, w.stream).inc()
        return True

    def _rewind(self) -> None:
        """The read model vanished under us (Redis flushed or restarted): replay the topic.

        With ``_expect_marker`` False, the next assignment rewinds too, whatever it brings."""
        metrics.REBUILDS.labels(self.ctx.name).inc()
        log.warning("read model is empty; rebuilding from the beginning of the share topic",
                    extra=_fields(agency=self.ctx.name, partitions=self.assigned))
        self._seek_beginning()
        self.progress.last.clear()
        self._expect_marker = False

    def _seek_beginning(self) -> None:
        for p in self.assigned:
            self.consumer.seek(TopicPartition(self.topic, p, OFFSET_BEGINNING))

    def _reset_group_offsets(self) -> bool:
        """Makes a rebuild durable before its first batch sets the marker again.

        The marker says "the read model holds what the group committed". A rebuild starts with
        the group's offsets still at the end of the topic, so once its first batch has set the
        marker, a kill before the next commits would let the next process trust those offsets
        and never replay the rest. Hence, before that batch: commit the log start (low
        watermark) of every partition of the topic, assigned or not (one consumer per agency;
        a partition assigned later resumes there), synchronously. From then on the committed
        offsets trail what is applied, as for any batch, and a restart resumes the rebuild
        (re-applied records are no-ops via the seen-keys). Until this commit succeeds nothing
        is applied: on failure (broker away, rebalance under way) the batch is dropped, the
        partitions rewound, and the next batch tries again, so the loop keeps serving
        rebalances meanwhile.
        """
        try:
            meta = self.consumer.list_topics(self.topic, timeout=10)
            topic = meta.topics.get(self.topic)
            if topic is None or topic.error is not None or not topic.partitions:
                raise KafkaException(topic.error if topic is not None else KafkaError(
                    KafkaError.UNKNOWN_TOPIC_OR_PART))
            starts = []
            for p in sorted(topic.partitions):
                low, _high = self.consumer.get_watermark_offsets(
                    TopicPartition(self.topic, p), timeout=10)
                starts.append(TopicPartition(self.topic, p, low))
            committed = self.consumer.commit(offsets=starts, asynchronous=False) or []
            failed = [tp for tp in committed if tp.error is not None]
            if failed:
                raise KafkaException(failed[0].error)
        except (KafkaException, TypeError) as exc:  # TypeError: no watermarks (timed out)
            metrics.ERRORS.labels(self.ctx.name, "commit").inc()
            log.warning("rebuild: could not reset the group's offsets to the log start; retrying",
                        extra=_fields(agency=self.ctx.name, error=str(exc)))
            self._seek_beginning()
            time.sleep(1.0)
            return False
        log.info("rebuild: group offsets reset to the log start", extra=_fields(
            agency=self.ctx.name, offsets={tp.partition: tp.offset for tp in starts}))
        return True

    def _commit(self, offsets: dict[int, int]) -> None:
        if not offsets:
            return
        tps = [TopicPartition(self.topic, p, o + 1) for p, o in offsets.items()]
        try:
            self.consumer.commit(offsets=tps, asynchronous=False)
        except KafkaException as exc:
            # Not fatal: the records are in Redis and re-delivery is idempotent.
            metrics.ERRORS.labels(self.ctx.name, "commit").inc()
            log.warning("commit failed; records will be re-delivered",
                        extra=_fields(agency=self.ctx.name, error=str(exc)))
            return
        metrics.COMMITS.labels(self.ctx.name).inc()
        self.progress.last.update(offsets)

    def _check_marker_when_idle(self) -> None:
        """Caught up and idle: a batch would notice a lost read model, but none may come soon."""
        now = time.monotonic()
        if not self._expect_marker or now - self._marker_at < MARKER_EVERY_SECONDS:
            return
        self._marker_at = now
        try:
            present = self.sink.has_marker()
        except redis.RedisError as exc:
            metrics.ERRORS.labels(self.ctx.name, "redis").inc()
            log.error("redis unavailable", extra=_fields(agency=self.ctx.name, error=str(exc)))
            return
        if not present:
            self._rewind()

    def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_at < LAG_EVERY_SECONDS:
            return
        self._lag_at = now
        for p in self.assigned:
            last = self.progress.last.get(p)
            if last is None:
                continue
            try:
                # Cached: from the last fetch response, no request per partition.
                _low, high = self.consumer.get_watermark_offsets(TopicPartition(self.topic, p),
                                                                 cached=True)
            except (KafkaException, TypeError):
                continue
            metrics.LAG.labels(self.group, self.topic, str(p)).set(lag(high, last))

    def stop(self, *_: object) -> None:
        self.stopping = True


def lag(high_watermark: int, last_consumed: int) -> int:
    """Records behind. The cached high watermark comes from the last fetch response and can be
    older than what we already consumed, so it is never trusted below our position."""
    position = last_consumed + 1
    return max(high_watermark, position) - position


def run(settings: Settings, agency: str, rebuild: bool = False) -> int:
    consumer = AgencyConsumer(settings, agency, rebuild)

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal received; finishing the current batch", extra=_fields(signal=signum))
        consumer.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if settings.metrics_port:
        from bordersync.metrics import serve

        serve(settings.metrics_port, settings.metrics_addr)
    return consumer.run()
