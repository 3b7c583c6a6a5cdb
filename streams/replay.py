"""``bordersync dlq replay``: re-publish dead letters to their source topic after a fix.

Each DLQ record is checked again exactly as the worker would (decode, validate); those that
still fail stay in the DLQ and are counted. Progress is the consumer group
``<prefix>dlq-replay``: a replay resumes after the last one (``--dry-run`` commits nothing).

The commit of a partition never passes a dead letter that was not replayed *and* acknowledged by
the broker: one that still fails, one outside ``--stage``/``--since``, one past ``--limit``, or
one whose re-publication failed. So a later replay sees it again. (Issue #15: the replay used to
commit past records that still failed, ignored delivery errors and exited 0.) A record after
such a stop may be replayed again by the next run; re-publishing twice is harmless: the worker
drops a replayed event whose id it already accepted. Exit code 0 only when every dead letter in
scope was replayed and delivered.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer, TopicPartition

from bordersync.border import load_border_config
from bordersync.events import InvalidEvent, validate
from bordersync.kafka import consumer_conf, producer_conf
from bordersync.settings import Settings
from bordersync.wire import codec
from bordersync.wire.codec import DecodeError
from streams import dlq

REPLAYED_HEADER = "dlq.replayed-from"
FLUSH_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Scope:
    """Which dead letters a replay takes: by the worker stage that rejected them, by when they
    reached the DLQ, and at most ``limit`` of them (None = no bound)."""

    stages: frozenset[str] = frozenset()
    since: datetime | None = None
    limit: int | None = None

    def takes(self, stage: str, timestamp_ms: int) -> bool:
        if self.stages and stage not in self.stages:
            return False
        return self.since is None or timestamp_ms >= self.since.timestamp() * 1000


@dataclass
class ReplaySummary:
    read: int = 0
    replayed: int = 0
    still_failing: int = 0
    out_of_scope: int = 0
    undelivered: int = 0
    committed: dict[int, int] = field(default_factory=dict)
    by_topic: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    delivery_errors: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.still_failing and not self.undelivered

    def lines(self, dry_run: bool) -> list[str]:
        verb = "would replay" if dry_run else "replayed"
        out = [f"read {self.read} dead letters; {verb} {self.replayed}; "
               f"still failing {self.still_failing}"
               + (f"; out of scope {self.out_of_scope}" if self.out_of_scope else "")
               + (f"; NOT delivered {self.undelivered}" if self.undelivered else "")]
        out += [f"  {verb} {n} to {topic}" for topic, n in sorted(self.by_topic.items())]
        out += [f"  still failing x{n}: {reason}" for reason, n in self.reasons.most_common(10)]
        out += [f"  not delivered x{n}: {e}" for e, n in self.delivery_errors.most_common(5)]
        return out

    def as_json(self, dry_run: bool) -> dict[str, Any]:
        return {"read": self.read, "replayed": self.replayed, "still_failing": self.still_failing,
                "out_of_scope": self.out_of_scope, "undelivered": self.undelivered,
                "dry_run": dry_run, "ok": self.ok, "by_topic": dict(sorted(self.by_topic.items())),
                "reasons": dict(self.reasons.most_common(10)),
                "delivery_errors": dict(self.delivery_errors.most_common(5)),
                "committed": {str(p): o for p, o in sorted(self.committed.items())}}


def check(value: bytes | None, settings: Settings) -> str | None:
    """Why the record would still be rejected, or None when it now passes."""
    decoded = codec.decode("raw", value)
    if isinstance(decoded, DecodeError):
        return f"decode: {decoded.reason}"
    try:
        validate(decoded, load_border_config(settings.border_config))
    except InvalidEvent as exc:
        return f"validate: {exc}"
    return None


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value or "").encode()


def _source(msg: Message) -> tuple[str | None, str, list[tuple[str, str | bytes | None]]]:
    """The source topic, the stage that rejected it, and the original headers."""
    raw = msg.headers() or []
    pairs = [(name, _bytes(value))
             for name, value in (raw.items() if isinstance(raw, dict) else raw)]
    # KIP-1034 names, or the dlq.* ones of letters written before issue #14 (streams.dlq).
    found = dlq.source_headers(pairs)
    original: list[tuple[str, str | bytes | None]] = [
        (name, value) for name, value in pairs if not name.startswith(dlq.PREFIXES)]
    return found.get(dlq.TOPIC), found.get(dlq.STAGE, ""), original


def _commit_points(outcomes: dict[int, list[tuple[int, bool]]]) -> dict[int, int]:
    """Per partition: the offset of the first record not replayed-and-delivered, else last+1."""
    points: dict[int, int] = {}
    for partition, done in outcomes.items():
        ordered = sorted(done)
        stop = next((offset for offset, good in ordered if not good), None)
        points[partition] = stop if stop is not None else ordered[-1][0] + 1
    return points


def replay(settings: Settings, dry_run: bool = False, idle_timeout: float = 2.0,
           scope: Scope | None = None) -> ReplaySummary:
    scope = scope or Scope()
    summary = ReplaySummary()
    dlq_topic = settings.topic("dlq")
    consumer = Consumer(consumer_conf(settings, f"{settings.topic_prefix}dlq-replay"))
    producer = None if dry_run else Producer(producer_conf(settings))
    # (partition, offset) -> delivered? ; filled by delivery reports
    delivered: dict[tuple[int, int], KafkaError | None] = {}
    outcomes: dict[int, list[tuple[int, bool]]] = {}
    try:
        # assign, not subscribe: no group join to wait for, same commits.
        meta = consumer.list_topics(dlq_topic, timeout=10).topics[dlq_topic]
        tps = [TopicPartition(dlq_topic, p) for p in sorted(meta.partitions)]
        committed = consumer.committed(tps, timeout=10)
        consumer.assign([
            TopicPartition(dlq_topic, c.partition, c.offset if c.offset >= 0 else OFFSET_BEGINNING)
            for c in committed
        ])
        last = time.monotonic()
        while time.monotonic() - last < idle_timeout:
            if scope.limit is not None and summary.replayed >= scope.limit:
                break
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                raise RuntimeError(f"reading {dlq_topic}: {msg.error()}")
            last = time.monotonic()
            summary.read += 1
            partition, offset = int(msg.partition() or 0), int(msg.offset() or 0)
            source, stage, headers = _source(msg)
            if not scope.takes(stage, msg.timestamp()[1]):
                summary.out_of_scope += 1
                outcomes.setdefault(partition, []).append((offset, False))
                continue
            reason = check(msg.value(), settings)
            if reason is None and source is None:
                reason = "no dlq.source.topic header"
            if reason is not None:
                summary.still_failing += 1
                summary.reasons[reason[:160]] += 1
                outcomes.setdefault(partition, []).append((offset, False))
                continue
            assert source is not None
            summary.replayed += 1
            summary.by_topic[source] += 1
            outcomes.setdefault(partition, []).append((offset, True))
            if producer is not None:
                headers.append((REPLAYED_HEADER, f"{partition}:{offset}".encode()))

                def report(err: KafkaError | None, _msg: Message, at: tuple[int, int] = (
                        partition, offset)) -> None:
                    delivered[at] = err

                producer.produce(source, msg.value(), msg.key(), headers=headers,
                                 on_delivery=report)
                producer.poll(0)
        if producer is not None:
            producer.flush(FLUSH_TIMEOUT_S)
            for partition, done in outcomes.items():
                for i, (offset, good) in enumerate(done):
                    if not good:
                        continue
                    err = delivered.get((partition, offset), "no delivery report in time")
                    if err is not None:
                        summary.undelivered += 1
                        summary.delivery_errors[str(err)[:160]] += 1
                        done[i] = (offset, False)
            summary.committed = _commit_points(outcomes)
            if summary.committed:
                consumer.commit(offsets=[TopicPartition(dlq_topic, p, o)
                                         for p, o in summary.committed.items()], asynchronous=False)
    finally:
        consumer.close()
    return summary
