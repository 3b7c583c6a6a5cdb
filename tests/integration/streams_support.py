"""Helpers for the streams integration tests: publish, read whole topics, wait for outputs."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer, TopicPartition

from bordersync.kafka import consumer_conf, producer_conf
from bordersync.settings import Settings
from bordersync.wire import codec
from tests.conftest import run_cli

Collected = dict[str, list[Any]]


def publish(settings: Settings, events: list[dict[str, Any]]) -> None:
    lines = "".join(json.dumps(e) + "\n" for e in events)
    done = run_cli(["publish", "--file", "-"], settings, stdin=lines, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def produce_raw(settings: Settings, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = Producer(producer_conf(settings))
    for key, value in records:
        while True:
            try:
                producer.produce(settings.topic("raw"), value, key, headers=[("origin", b"test")])
                break
            except BufferError:  # local queue full: let deliveries drain
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0


class Reader:
    """Reads whole logical streams from the beginning, decoding each record."""

    def __init__(self, settings: Settings, streams: list[str]) -> None:
        self.streams = {settings.topic(s): s for s in streams}
        self.consumer = Consumer(consumer_conf(settings, f"test-{uuid.uuid4().hex[:8]}"))
        meta = self.consumer.list_topics(timeout=10).topics
        self.consumer.assign([
            TopicPartition(topic, p, OFFSET_BEGINNING)
            for topic in self.streams for p in meta[topic].partitions
        ])
        self.got: Collected = defaultdict(list)

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(1000, 0.1):
                if msg.error():
                    continue
                stream = self.streams[str(msg.topic())]
                if stream == "dlq":
                    self.got[stream].append(msg)
                    continue
                family = "share" if stream.startswith("share.") else stream
                decoded = codec.decode(family, msg.value())
                assert not isinstance(decoded, codec.DecodeError), decoded
                self.got[stream].append(decoded)

    def wait(self, done: Callable[[Collected], bool], timeout: float, what: str) -> Collected:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll(0.5)
            if done(self.got):
                return self.got
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; got "
                             f"{ {k: len(v) for k, v in self.got.items()} }")

    def close(self) -> None:
        self.consumer.close()


def pair_ids(got: Collected) -> set[tuple[str, str]]:
    return {(m["exit_event_id"], m["entry_event_id"]) for m in got["matched"]}


def read_to_end(settings: Settings, topic: str, timeout: float = 30.0) -> list[Message]:
    """Every record of ``topic`` so far: its partitions assigned (no group join) and read until
    each reports end-of-partition."""
    reader = Consumer(consumer_conf(settings, f"{settings.topic_prefix}test-read",
                                    **{"enable.partition.eof": True}))
    try:
        partitions = list(reader.list_topics(topic, timeout=10).topics[topic].partitions)
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        found: list[Message] = []
        done: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(partitions) and time.monotonic() < deadline:
            for msg in reader.consume(500, timeout=0.5):
                err = msg.error()
                if err is None:
                    found.append(msg)
                elif err.code() == KafkaError._PARTITION_EOF:
                    done.add(int(msg.partition() or 0))
        assert len(done) == len(partitions), f"{topic}: end not reached"
        return found
    finally:
        reader.close()


def header_pairs(msg: Message) -> list[tuple[str, Any]]:
    raw = msg.headers() or []
    return list(raw.items()) if isinstance(raw, dict) else list(raw)
