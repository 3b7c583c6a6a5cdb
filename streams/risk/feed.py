"""I/O of the risk topics: the worker's feed (hot reload), and read/publish for the CLI.

``risk-profiles`` and ``risk-lists`` are compacted, single-partition topics of JSON values (the
signed canonical bytes must survive byte for byte, and they are control records read by people as
well as by the worker). The feed reads both from the beginning in a thread and applies each record
to ``RiskSources``; the processor's next batch sees the change (``RiskStage.in_force``).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from bordersync.border import BorderConfig
from bordersync.kafka import consumer_conf, producer_conf
from bordersync.security.keys import KeyStore, TrustFile
from bordersync.settings import Settings
from streams.risk.stage import RiskSources, RiskStage

log = logging.getLogger("bordersync.risk")
PROFILES, LISTS = "risk-profiles", "risk-lists"
KIND_OF = {PROFILES: "profiles", LISTS: "lists"}


def watch_key_dir(settings: Settings) -> Path:
    return settings.home / "keys" / "watchlist"


def watch_keys(settings: Settings) -> dict[str, bytes]:
    """The watchlist HMAC keys on this host, by administration (``<ADMIN>.key``, 32 bytes)."""
    folder = watch_key_dir(settings)
    if not folder.is_dir():
        return {}
    return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.key"))}


def watch_key(settings: Settings, admin: str) -> bytes:
    """``admin``'s watchlist key, created (0600, never printed) on first use."""
    folder = watch_key_dir(settings)
    path = folder / f"{admin}.key"
    if path.exists():
        return path.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


def read_topic(settings: Settings, stream: str, timeout: float = 10.0) -> dict[str, bytes]:
    """The latest value per key of a compacted risk topic, read to its end (tombstones drop)."""
    topic = settings.topic(stream)
    consumer = Consumer(consumer_conf(settings, f"risk-read-{uuid.uuid4().hex[:8]}"))
    out: dict[str, bytes] = {}
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is None or meta.error is not None:
            raise SystemExit(f"topic {topic} does not exist: run `bordersync topics create`")
        ends = {}
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        while ends:
            msg = consumer.poll(timeout)
            if msg is None:
                raise SystemExit(f"timed out reading {topic}")
            if msg.error():
                continue
            key = (msg.key() or b"").decode("utf-8", "replace")
            value = msg.value()
            if value is None:
                out.pop(key, None)
            else:
                out[key] = value
            offset, partition = msg.offset() or 0, msg.partition() or 0
            if offset + 1 >= ends.get(partition, 0):
                ends.pop(partition, None)
    finally:
        consumer.close()
    return out


def publish(settings: Settings, stream: str, key: str, value: bytes | None) -> None:
    producer = Producer(producer_conf(settings))
    errors: list[str] = []
    producer.produce(settings.topic(stream), value, key.encode(),
                     on_delivery=lambda err, _m: errors.append(str(err)) if err else None)
    producer.flush(30)
    if errors:
        raise SystemExit(f"publishing {key} to {stream} failed: {errors[0]}")


class RiskFeed(threading.Thread):
    """Follows both risk topics from the beginning and applies every record (hot reload)."""

    def __init__(self, settings: Settings, sources: RiskSources) -> None:
        super().__init__(name="risk-feed", daemon=True)
        self.settings = settings
        self.sources = sources
        self.running = True
        self.topics = {settings.topic(s): KIND_OF[s] for s in (PROFILES, LISTS)}

    def stop(self) -> None:
        self.running = False

    def run(self) -> None:
        consumer = Consumer(consumer_conf(self.settings, f"risk-feed-{uuid.uuid4().hex[:8]}"))
        try:
            assigned: set[str] = set()
            while self.running:
                if len(assigned) < len(self.topics):
                    assigned |= self._assign(consumer, assigned)
                for msg in consumer.consume(100, timeout=0.2):
                    if msg.error():
                        continue
                    kind = self.topics[str(msg.topic())]
                    key = (msg.key() or b"").decode("utf-8", "replace")
                    if kind == "lists":
                        self.sources.watch_keys = watch_keys(self.settings)
                    self.sources.apply(kind, key, msg.value())
                    log.info("risk record applied", extra={"fields": {"topic": msg.topic(),
                                                                      "key": key}})
        finally:
            consumer.close()

    def _assign(self, consumer: Consumer, assigned: set[str]) -> set[str]:
        found: set[str] = set()
        try:
            meta = consumer.list_topics(timeout=5).topics
        except KafkaException as exc:
            log.warning("risk topics unreadable", extra={"fields": {"error": str(exc)}})
            return found
        parts = []
        for topic in self.topics:
            if topic in assigned or topic not in meta or meta[topic].error is not None:
                continue
            found.add(topic)
            parts += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta[topic].partitions]
        if parts:
            consumer.incremental_assign(parts)
        return found


def risk_stage(settings: Settings, border: BorderConfig) -> RiskStage | None:
    """The worker's risk stage with a running feed, or None when risk is not enabled."""
    if not settings.risk_enabled:
        return None
    sources = RiskSources(watch_keys=watch_keys(settings),
                          trust=TrustFile(KeyStore.from_settings(settings)))
    RiskFeed(settings, sources).start()
    return RiskStage(border, sources)
