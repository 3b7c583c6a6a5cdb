"""The stream runtime's guarantees against the real broker, with deterministic fault hooks
(``BORDERSYNC_STREAM_FAULT``, streams/runtime_faults.py): exactly-once of the batch engine under
crashes at every step, and the regression tests of issue #15's defects (a), (b) and (c)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from bordersync.kafka import consumer_conf
from bordersync.settings import Settings
from bordersync.wire import codec
from streams import engine as batch_engine
from streams.engine import BatchEngine, ConsumerStuck
from streams.processor import InRecord
from streams.runtime import run_sync
from streams.runtime_faults import CRASH_EXIT, Faults
from tests.conftest import Proc, wait_for
from tests.helpers import crossing, inspection
from tests.integration.streams_support import Reader, pair_ids, publish, read_to_end
from tests.integration.test_streams_workers import entries, exits

NOW = datetime.now(UTC).replace(microsecond=0)
OUTPUTS = ["crossings", "matched", "alerts", "share.al-customs", "share.mk-customs"]


def identity(stream: str, record: dict[str, Any]) -> str:
    if stream.startswith("share."):
        return f"{record['stream']}:{identity(record['stream'], record['record'])}"
    if stream == "matched":
        return f"{record['exit_event_id']}|{record['entry_event_id']}"
    if stream == "alerts":
        return str(record["alert_id"])
    return str(record["event_id"])


def duplicates(got: dict[str, list[Any]]) -> dict[str, list[str]]:
    found = {}
    for stream in OUTPUTS:
        counts = Counter(identity(stream, r) for r in got[stream])
        if dupes := [k for k, n in counts.items() if n > 1]:
            found[stream] = dupes
    return found


def committed(settings: Settings) -> list[int]:
    consumer = Consumer(consumer_conf(settings, f"{settings.topic_prefix}streams"))
    try:
        raw = settings.topic("raw")
        tps = [TopicPartition(raw, p) for p in range(settings.partitions)]
        return [tp.offset for tp in consumer.committed(tps, timeout=10)]
    finally:
        consumer.close()


def every_pair(settings: Settings, spawn: Callable[..., Proc], n: int, what: str,
               logged: str = "") -> dict[str, list[Any]]:
    """Start a clean worker and read the outputs until all ``n`` pairs are there (and a little
    longer, so a duplicate would show)."""
    worker = spawn(["streams", "worker"], settings)
    reader = Reader(settings, OUTPUTS)
    try:
        got = reader.wait(lambda g: len(g["matched"]) >= n, 120, f"every pair {what}")
        reader.poll(3)
    finally:
        reader.close()
    assert worker.popen.poll() is None, worker.output()[-3000:]
    assert logged in worker.output()
    assert pair_ids(got) == {(f"x{i}", f"n{i}") for i in range(n)}
    return got


@pytest.mark.parametrize("engine", ["batch", "faust"])
def test_exactly_once_crash_anywhere_leaves_no_visible_duplicate(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc], engine: str) -> None:
    settings = make_settings(stream_engine=engine, stream_batch_max=8)
    # Each crashed worker commits at most two batches of 8 before its crash in batch 3: with 80
    # records at least 32 are left for the last one, so its batch 3 (of raw records: the hooks
    # count those) always comes. With 60 it could take the 12 left in two batches and never
    # crash (CI at 76ac74c, batch engine).
    n = 40
    publish(settings, exits(n) + entries(n, seals=lambda i: f"S{i}" if i % 5 else "BROKEN"))
    for step in ("after-outputs", "after-changelog", "after-process", "after-commit"):
        worker = spawn(["streams", "worker"], settings.model_copy(
            update={"stream_fault": f"crash:{step}:3"}))
        wait_for(lambda w=worker: w.popen.poll() is not None, 90, f"the crash {step}")
        assert worker.popen.returncode == CRASH_EXIT, worker.output()[-3000:]
    got = every_pair(settings, spawn, n, "after the crashes")
    assert len({r["event_id"] for r in got["crossings"]}) == 2 * n
    assert len(got["alerts"]) == n // 5
    assert duplicates(got) == {}


def test_batch_engine_does_not_commit_a_batch_whose_changelog_write_failed(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    # Defect (a): the engine cleared its delivery errors, raised, and its shutdown then committed
    # the batch whose changelog write had failed: the exits' state was lost, their entries never
    # matched. At-least-once is the mode that had the bug (exactly-once aborts instead).
    settings = make_settings(stream_engine="batch", stream_guarantee="at_least_once")
    n = 12
    publish(settings, exits(n))
    failing = spawn(["streams", "worker"], settings.model_copy(
        update={"stream_fault": "fail:changelog:1"}))
    wait_for(lambda: failing.popen.poll() is not None, 90, "the worker to stop on the failure")
    assert failing.popen.returncode != 0
    assert "not acknowledged" in failing.output()
    assert all(offset < 0 for offset in committed(settings)), committed(settings)
    publish(settings, entries(n))
    spawn(["streams", "worker"], settings)
    reader = Reader(settings, ["matched"])
    try:
        got = reader.wait(lambda g: len(g["matched"]) >= n, 90, "every pair (state not lost)")
    finally:
        reader.close()
    assert pair_ids(got) == {(f"x{i}", f"n{i}") for i in range(n)}


def test_exactly_once_aborts_and_rereads_a_batch_whose_changelog_write_failed(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    settings = make_settings(stream_engine="batch", stream_fault="fail:changelog:1")
    n = 12
    publish(settings, exits(n) + entries(n))
    got = every_pair(settings, spawn, n, "after the abort", "batch aborted; re-reading it")
    assert duplicates(got) == {}


@pytest.mark.parametrize(("engine", "fault"), [
    ("batch", "hang:send-offsets:3"), ("batch", "hang:commit:3"), ("batch", "fatal:begin:3"),
    ("batch", "fatal:commit:3"), ("faust", "hang:commit:3"), ("faust", "fatal:begin:3")])
def test_exactly_once_replaces_a_producer_that_hangs_or_fails_fatally_and_rereads(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc], engine: str,
        fault: str) -> None:
    # Issue #15: after a single-node broker SIGKILL + restart, send_offsets_to_transaction never
    # returned (librdkafka #5511/#5456) and the worker stalled; a fatal error in begin() or
    # commit (INVALID_TXN_STATE, OUT_OF_ORDER_SEQUENCE_NUMBER in the soak) killed the worker.
    # Now the producer is replaced (same transactional.id) and the worker re-reads from the
    # committed offsets with its state restored — also when the hung commit did go through.
    output = _every_pair_once_after_a_producer_fault(make_settings, spawn, engine, fault)
    assert "resynced after a lost transaction outcome" in output


def _every_pair_once_after_a_producer_fault(make_settings: Callable[..., Settings],
                                            spawn: Callable[..., Proc], engine: str,
                                            fault: str) -> str:
    """30 pairs through a worker whose transactional producer meets ``fault``: the worker lives,
    replaces the producer, and every pair and crossing comes out exactly once. Its log."""
    settings = make_settings(stream_engine=engine, stream_batch_max=8, stream_fault=fault)
    n = 30
    publish(settings, exits(n) + entries(n))
    worker = spawn(["streams", "worker"], settings)
    reader = Reader(settings, OUTPUTS)
    try:
        got = reader.wait(lambda g: len(g["matched"]) >= n, 150, f"every pair after {fault}")
        reader.poll(3)
    finally:
        reader.close()
    output = worker.output()
    assert worker.popen.poll() is None, output[-3000:]
    assert "fault hook: transactional call" in output
    assert "transactional producer replaced" in output, output[-3000:]
    assert pair_ids(got) == {(f"x{i}", f"n{i}") for i in range(n)}
    assert len({r["event_id"] for r in got["crossings"]}) == 2 * n
    assert duplicates(got) == {}
    return output


@pytest.mark.parametrize("engine", ["batch", "faust"])
def test_systemerror_of_a_delivery_callback_in_a_flush_no_longer_kills_the_worker(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc], engine: str) -> None:
    # Soak seed 43 (2026-12-02): a fatal OUT_OF_ORDER_SEQUENCE_NUMBER raised by the flush of a
    # transaction reached the worker as SystemError (a delivery report served in the same call
    # ran with the KafkaException set: bordersync.kafka.kafka_exception), which no handler
    # knew, and the worker exited. Now it is the fatal error it hides: producer replaced, re-read.
    _every_pair_once_after_a_producer_fault(make_settings, spawn, engine, "callback:flush:3")


def test_record_polled_before_a_revoke_is_not_processed_against_dropped_state(
        make_settings: Callable[..., Settings]) -> None:
    # Defect (b): a record fetched just before a revoke (the revoke runs inside the engine's
    # consume call) was processed against state already dropped, and its state written to a
    # changelog partition that another worker now owns.
    settings = make_settings(stream_engine="batch")
    engine = BatchEngine(settings)
    raw = settings.topic("raw")
    try:
        engine._on_assign(engine.consumer, [TopicPartition(raw, p) for p in range(4)])
        engine._on_revoke(engine.consumer, [TopicPartition(raw, 1)])
        event = {**crossing(event_id="late"), "event_time": NOW - timedelta(minutes=5)}
        value = codec.encode("raw", event)
        revoked = InRecord(b"SK1234AB", value, [], raw, 1, 0)
        processed = run_sync(engine.runtime.run_batch([revoked], {(raw, 1): 1}))
        assert processed == 0
        assert engine.store.state == {}
    finally:
        engine.runtime.close()
        engine.consumer.close()
    assert read_to_end(settings, settings.topic("streams-vehicles-changelog")) == []
    assert read_to_end(settings, settings.topic("crossings")) == []


def _faust_drops_one_of_ten(make_settings: Callable[..., Settings], spawn: Callable[..., Proc],
                            nth: int) -> str:
    """Ten inspections of one vehicle (one partition) through a Faust worker whose fetch drops
    the ``nth`` record fetched, once (fault hook ``skip:fetch``): every one must be processed,
    in order. The worker's output, for what it logged."""
    settings = make_settings(stream_fault=f"skip:fetch:{nth}")
    n = 10
    publish(settings, [inspection(event_id=f"i{i}", event_time=(
        NOW - timedelta(minutes=30 - i)).isoformat()) for i in range(n)])
    worker = spawn(["streams", "worker"], settings)
    reader = Reader(settings, ["inspections"])
    try:
        got = reader.wait(lambda g: len(g["inspections"]) >= n, 60, "every inspection")
    finally:
        reader.close()
    assert [r["event_id"] for r in got["inspections"]] == [f"i{i}" for i in range(n)]
    output = worker.output()
    assert "dropping a fetched record" in output
    return output


def test_faust_engine_rereads_a_skipped_record_without_a_rebalance(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    # Defect (c): a record Faust's fetch loop dropped was only read again after the next
    # rebalance or restart, then after the records that follow it. The hook drops the 3rd
    # record fetched; one worker, no rebalance; the next record shows the jump.
    assert "were skipped by the fetch" in _faust_drops_one_of_ten(make_settings, spawn, 3)


def test_faust_engine_record_skipped_at_a_partitions_tail_waited_for_more_traffic(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    # A record Faust's fetch loop dropped was noticed only when the partition's next record
    # showed the jump: the last records of a partition, dropped, waited for traffic that may
    # never come (CI, the broker SIGKILL test: 235 of 240 crossings). The hook drops the last
    # of the ten; nothing follows it.
    output = _faust_drops_one_of_ten(make_settings, spawn, 10)
    assert "were fetched but never handed over" in output


def test_zombie_batch_worker_sweep_and_stats_flush_are_fenced(
        make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    # Issue #15 (soak seed 21, redelivered 83): the sweep and the stats flush committed their
    # transactions without input offsets, so KIP-447 never fenced them. A worker paused past its
    # session timeout swept after it resumed, before it learnt its partitions were gone: its
    # UNMATCHED alerts, shares and changelog writes were committed beside the new owner's.
    # Deterministic: the zombie is an engine driven by hand that stops polling (expelled after
    # max.poll.interval.ms) while a second member of the group takes every partition.
    settings = make_settings(stream_engine="batch")
    n = 6
    publish(settings, exits(n))
    clock = [datetime.now(UTC)]
    zombie = BatchEngine(settings, clock=lambda: clock[0])
    zombie.consumer.close()
    group = f"{settings.topic_prefix}streams"
    zombie.consumer = Consumer(consumer_conf(settings, group, **{
        "max.poll.interval.ms": settings.session_timeout_ms}))
    topics = [zombie.runtime.raw_topic, zombie.runtime.facts_topic]
    zombie.consumer.subscribe(topics, on_assign=zombie._on_assign, on_revoke=zombie._on_revoke)
    successor = Consumer(consumer_conf(settings, group))
    changelog = settings.topic("streams-vehicles-changelog")
    outputs = [settings.topic(s) for s in ("alerts", "share.al-customs", "share.mk-customs",
                                           "stats")]

    def work() -> bool:
        if batch := zombie._next_batch():
            zombie.handle(batch)
        return len(zombie.store.state) == n and bool(zombie.runtime.stats.windows)

    def taken_over() -> bool:
        successor.poll(0.2)
        return len(successor.assignment()) == len(topics) - 1 + settings.partitions

    try:
        wait_for(work, 90, "the exits processed and their stats facts read")
        stale = zombie.consumer.consumer_group_metadata()  # what a resumed SIGSTOPped worker sends
        positions = committed(settings)
        before = {t: len(read_to_end(settings, t)) for t in [changelog, *outputs]}
        successor.subscribe(topics)
        wait_for(taken_over, 90, "the second member to own every partition")
        clock[0] += timedelta(days=1)  # every exit is overdue, every stats window closed
        expelled = zombie.group_metadata
        zombie.group_metadata = lambda: stale  # type: ignore[method-assign]
        caplog.clear()
        run_sync(zombie.runtime.sweep())  # the broker refuses the stale generation
        run_sync(zombie.runtime.sweep())  # not retried while fenced
        run_sync(zombie.runtime.flush_stats())
        aborted = [r.getMessage() for r in caplog.records if "aborted" in r.getMessage()]
        # Expelled, librdkafka's metadata says generation -1 and no member, which a non-empty
        # group would accept with a transactional offset commit: never sent.
        zombie.runtime.fenced_at = None
        zombie.group_metadata = expelled  # type: ignore[method-assign]
        member = expelled()
        run_sync(zombie.runtime.flush_stats())
        run_sync(zombie.runtime.sweep())
    finally:
        successor.close()
        zombie.runtime.close()
        zombie.consumer.close()
    after = {t: len(read_to_end(settings, t)) for t in [changelog, *outputs]}
    assert after == before  # no alert, share, stats or changelog record of the zombie
    assert before[settings.topic("alerts")] == 0
    assert committed(settings) == positions
    assert aborted == ["sweep aborted; its vehicles are due again"]
    assert member is None


def test_consumer_seek_that_never_returns_ends_the_worker_instead_of_stalling_it(
        make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    # Left open by 4951b7a: a SIGKILL run stalled after "transactional producer replaced" with
    # no "resynced" / "resync waits". confluent-kafka's seek waits without a timeout for the
    # partition's broker thread to serve it; the resync's (and a re-read batch's) seek now has
    # a deadline, past which the worker exits for its supervisor rather than stall.
    monkeypatch.setattr(batch_engine, "SEEK_TIMEOUT_S", 1.0)
    settings = make_settings(stream_engine="batch")
    engine = BatchEngine(settings)
    engine.runtime.faults = Faults.parse("hang:seek:1")
    try:
        with pytest.raises(ConsumerStuck):
            engine.seek([TopicPartition(settings.topic("raw"), 0, 0)])
        assert engine.stuck
    finally:
        engine.runtime.close()
        engine.consumer.close()
