"""The sweep of an exactly-once worker that learnt no committed offset at its assignment."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from bordersync.kafka import consumer_conf, producer_conf
from bordersync.settings import Settings
from tests.conftest import Proc, wait_for
from tests.helpers import crossing
from tests.integration.streams_support import Reader, publish


@contextmanager
def held_offsets(settings: Settings, offsets: dict[int, int]) -> Iterator[Producer]:
    """An open transaction holding the streams group's offsets of ``raw`` (as a worker that
    crashed between sending them and committing leaves one): a ``read_committed`` OffsetFetch
    of those partitions answers UNSTABLE_OFFSET_COMMIT until it ends. Aborted on exit."""
    group = f"{settings.topic_prefix}streams"
    member = Consumer(consumer_conf(settings, group))  # never joins: generation -1, unfenced
    holder = Producer(producer_conf(settings, **{
        "transactional.id": f"test-holder-{uuid.uuid4().hex[:8]}"}))
    try:
        holder.init_transactions(30)
        holder.begin_transaction()
        holder.send_offsets_to_transaction(
            [TopicPartition(settings.topic("raw"), p, o) for p, o in offsets.items()],
            member.consumer_group_metadata(), 30)
        yield holder
    finally:
        member.close()
        holder.close()


@pytest.mark.parametrize("engine", ["faust", "batch"])
def test_sweep_waited_forever_when_no_committed_offset_was_known_at_the_assignment(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc], engine: str) -> None:
    # CI's short soak (Faust engine, at 629f80b): a worker restarted during a broker fault read
    # no committed offset at its assignment — a crashed worker's open transaction still held
    # them — and, exactly-once, the sweep waits until it knows one: only the next batch taught
    # it, and after the last record none came. Its pending vehicle never got its UNMATCHED
    # alert. Fixed for the Faust engine in 76ac74c (the sweep's timer learns them); the batch
    # engine had the same wait. Here the first worker leaves a pending EXIT (its grace is long:
    # not overdue for it), an open transaction holds the group's offsets while the second worker
    # is assigned, then ends; no record comes after.
    settings = make_settings(stream_engine=engine, grace_seconds=1, sweep_interval_seconds=0.5)
    start = datetime.now(UTC) - timedelta(hours=3)  # past window + grace of the second worker
    publish(settings, [crossing(event_id="lonely", plate="BG 777-XX",
                                event_time=start.isoformat())])
    raw = settings.topic("raw")
    first = spawn(["streams", "worker"], settings.model_copy(update={"grace_seconds": 10**6}))
    reader = Reader(settings, ["crossings", "alerts"])
    try:
        reader.wait(lambda g: len(g["crossings"]) == 1, 90, "the EXIT forwarded")
        wait_for(lambda: any(committed_offset_of(settings, raw, p) > 0 for p in range(
            settings.partitions)), 30, "its offset committed")
        assert first.stop() == 0
        offsets = {p: committed_offset_of(settings, raw, p) for p in range(settings.partitions)}
        with held_offsets(settings, {p: o for p, o in offsets.items() if o >= 0}) as holder:
            second = spawn(["streams", "worker"], settings.model_copy(
                update={"log_level": "INFO"}))
            wait_for(lambda: "partitions assigned" in second.output(), 120,
                     "the second worker's assignment")
            holder.abort_transaction(30)
        got = reader.wait(lambda g: any(a["type"] == "UNMATCHED_EXIT" for a in g["alerts"]),
                          60, "the UNMATCHED_EXIT alert")
    finally:
        reader.close()
    assert second.popen.poll() is None, second.output()[-3000:]
    assert [a["event_ids"] for a in got["alerts"]] == [["lonely"]]


def committed_offset_of(settings: Settings, topic: str, partition: int) -> int:
    """The streams group's committed offset of one partition; -1 when none."""
    consumer = Consumer(consumer_conf(settings, f"{settings.topic_prefix}streams"))
    try:
        (tp,) = consumer.committed([TopicPartition(topic, partition)], timeout=30)
        return int(tp.offset) if tp.error is None and tp.offset >= 0 else -1
    finally:
        consumer.close()
