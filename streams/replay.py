"""``bordersync dlq replay``: re-publish dead letters to their source topic after a fix.

Each DLQ record is checked again exactly as the worker would (decode, validate); those that
still fail stay in the DLQ and are counted. Progress is the consumer group
``<prefix>dlq-replay``: a replay resumes after the last one (``--dry-run`` commits nothing).
Re-publishing twice is harmless: the worker drops a replayed event whose id it already accepted.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

from bordersync import codec
from bordersync.border import load_border_config
from bordersync.codec import DecodeError
from bordersync.events import InvalidEvent, validate
from bordersync.kafka import consumer_conf, producer_conf
from bordersync.settings import Settings

REPLAYED_HEADER = "dlq.replayed-from"


@dataclass
class ReplaySummary:
    read: int = 0
    replayed: int = 0
    still_failing: int = 0
    by_topic: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def lines(self, dry_run: bool) -> list[str]:
        verb = "would replay" if dry_run else "replayed"
        out = [f"read {self.read} dead letters; {verb} {self.replayed}; "
               f"still failing {self.still_failing}"]
        out += [f"  {verb} {n} to {topic}" for topic, n in sorted(self.by_topic.items())]
        out += [f"  still failing x{n}: {reason}" for reason, n in self.reasons.most_common(10)]
        return out


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


def _source(msg: Message) -> tuple[str | None, list[tuple[str, str | bytes | None]]]:
    topic = None
    original: list[tuple[str, str | bytes | None]] = []
    raw = msg.headers() or []
    pairs: list[tuple[str, object]] = list(raw.items()) if isinstance(raw, dict) else list(raw)
    for name, value in pairs:
        if name == "dlq.source.topic":
            topic = _bytes(value).decode()
        elif not name.startswith("dlq."):
            original.append((name, _bytes(value)))
    return topic, original


def replay(settings: Settings, dry_run: bool = False, idle_timeout: float = 2.0) -> ReplaySummary:
    summary = ReplaySummary()
    dlq_topic = settings.topic("dlq")
    consumer = Consumer(consumer_conf(settings, f"{settings.topic_prefix}dlq-replay"))
    producer = None if dry_run else Producer(producer_conf(settings))
    try:
        # assign, not subscribe: no group join to wait for (seconds on Tansu), same commits.
        meta = consumer.list_topics(dlq_topic, timeout=10).topics[dlq_topic]
        tps = [TopicPartition(dlq_topic, p) for p in sorted(meta.partitions)]
        committed = consumer.committed(tps, timeout=10)
        consumer.assign([
            TopicPartition(dlq_topic, c.partition, c.offset if c.offset >= 0 else OFFSET_BEGINNING)
            for c in committed
        ])
        done: dict[int, int] = {}
        last = time.monotonic()
        while time.monotonic() - last < idle_timeout:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                raise RuntimeError(f"reading {dlq_topic}: {msg.error()}")
            last = time.monotonic()
            summary.read += 1
            done[int(msg.partition() or 0)] = int(msg.offset() or 0) + 1
            reason = check(msg.value(), settings)
            source, headers = _source(msg)
            if reason is None and source is None:
                reason = "no dlq.source.topic header"
            if reason is not None:
                summary.still_failing += 1
                summary.reasons[reason[:160]] += 1
                continue
            assert source is not None
            summary.replayed += 1
            summary.by_topic[source] += 1
            if producer is not None:
                headers.append((REPLAYED_HEADER, f"{msg.partition()}:{msg.offset()}".encode()))
                producer.produce(source, msg.value(), msg.key(), headers=headers)
                producer.poll(0)
        if producer is not None:
            if producer.flush(30) != 0:
                raise RuntimeError("replay: records not delivered within 30 s; nothing committed")
            if done:
                consumer.commit(offsets=[TopicPartition(dlq_topic, p, o) for p, o in done.items()],
                                asynchronous=False)
    finally:
        consumer.close()
    return summary
