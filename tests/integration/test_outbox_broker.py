"""The terminal keeps accepting while its broker is down and delivers everything when it returns."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bordersync.kafka import consumer_conf
from bordersync.settings import Settings
from bordersync.topics import create_topics
from bordersync.wire import codec
from bordersync.wire.codec import DecodeError
from producers.sdk import Terminal
from tests.conftest import run_cli, wait_for
from tooling import stack


def read_event_ids(settings: Settings, expect: int, timeout: float = 30.0) -> list[str]:
    """Every event id on the raw topic (duplicates kept), reading until ``expect`` or idle."""
    topic = settings.topic("raw")
    consumer = Consumer(consumer_conf(settings, f"check-{uuid.uuid4().hex[:8]}"))
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        ids: list[str] = []
        deadline = time.monotonic() + timeout
        idle_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.consume(1000, timeout=0.3)
            good = [m for m in batch if not m.error()]
            for msg in good:
                record = codec.decode("raw", msg.value())
                assert not isinstance(record, DecodeError), record
                ids.append(record["event_id"])
            if good:
                idle_since = time.monotonic()
            elif len(set(ids)) >= expect and time.monotonic() - idle_since > 1.0:
                break
        return ids
    finally:
        consumer.close()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[Settings]:
    """A broker of our own, so this test can stop and restart it without disturbing others."""
    base = Settings(home=tmp_path / "private", dev_broker_port=stack.free_port(),
                    dev_redis_port=stack.free_port(), topic_prefix="priv.")
    info, _ = stack.up(base)
    try:
        live = base.model_copy(update={"bootstrap": info.bootstrap})
        create_topics(live)
        yield live
    finally:
        stack.down(base)


def _crossing(term: Terminal, n: int) -> str:
    when = datetime.now(UTC) - timedelta(minutes=10)
    return term.record_crossing(direction="EXIT", plate=f"SK {1000 + n % 40} AB", nationality="MK",
                                vehicle_type="TRUCK", event_time=when, event_id=f"ev-{n:05d}",
                                gross_mass_kg=20_000 + n)


def test_broker_down_while_publishing_loses_nothing(private_broker: Settings) -> None:
    settings = private_broker
    term = Terminal(settings, "mk-tab-booth-1", admin="MK", post="MKTAB01",
                    message_timeout_ms=10_000)
    accepted: list[str] = []
    try:
        accepted += [_crossing(term, n) for n in range(150)]
        wait_for(lambda: term.depth() == 0, 30, "first batch delivered")

        stack.down(settings.model_copy(update={"bootstrap": None}))
        accepted += [_crossing(term, n) for n in range(150, 400)]
        time.sleep(2)  # the sender meets a dead broker
        assert term.depth() > 0, "nothing can be delivered while the broker is down"

        stack.up(settings.model_copy(update={"bootstrap": None}))
        wait_for(lambda: term.depth() == 0, 90, "the outbox drains by itself")
    finally:
        term.close(timeout=5)
    # Kafka kept the topics and what was delivered before the stop: every accepted event is there
    # (the outbox may send a few twice: same event_id, dropped by the streams).
    delivered = read_event_ids(settings, expect=400)
    assert set(delivered) == set(accepted)



def test_unreachable_broker_sends_each_row_once_per_round_and_keeps_failures(
    tmp_path: Path,
) -> None:
    dead = Settings(home=tmp_path, bootstrap=f"127.0.0.1:{stack.free_port()}")
    slow = Terminal(dead, "slow", admin="MK", post="MKTAB01", message_timeout_ms=60_000)
    failing = Terminal(dead, "failing", admin="MK", post="MKTAB01", message_timeout_ms=300)
    try:
        for term in (slow, failing):
            for n in range(30):
                _crossing(term, n)
        time.sleep(3)
        assert slow.sender is not None and failing.sender is not None
        # Still queued in librdkafka: handed over once, not again on every loop.
        assert slow.sender.produced == 30 and slow.sender.failed == 0
        # Timed out: counted, kept on disk, and retried in later rounds.
        assert failing.sender.failed >= 30 and failing.sender.produced >= 60
        assert failing.depth() == 30 and slow.depth() == 30
    finally:
        slow.close(timeout=0.2)
        failing.close(timeout=0.2)
    reopened = Terminal(dead, "failing", send=False)
    assert reopened.outbox.event_ids() == [f"ev-{n:05d}" for n in range(30)]
    reopened.close()
    status = json.loads(run_cli(["outbox", "status", "--terminal", "failing"], dead).stdout)
    assert status["depth"] == 30 and status["oldest_attempts"] >= 1
    assert "timed out" in status["last_error"]
