"""The Faust driver without a broker: ``FaustDriver.flush`` runs batches one at a time, in offset
order, even when an aborted one runs again while more events were buffered (the batch protocol
is stubbed: this is the driver's ordering logic; the protocol runs on Kafka in
tests/integration)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from streams import ingest
from streams.batch import InRecord
from streams.ingest import FaustDriver


class _Runtime:
    """Commits every batch but the first, which waits for ``gate`` and then aborts."""

    resync = False

    def __init__(self) -> None:
        self.committed: dict[tuple[str, int], int] = {}
        self.ran: list[list[int]] = []  # offsets of the batches that committed
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.aborts = 0

    async def run_batch(self, records: list[InRecord], offsets: dict[tuple[str, int], int]
                        ) -> int:
        if not self.aborts:
            self.aborts += 1
            self.started.set()
            await self.gate.wait()
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "fault: aborted"))
        self.ran.append([r.offset for r in records])
        self.committed.update(offsets)
        return len(records)

    def recovered(self, exc: BaseException) -> bool:
        return True

    def fenced(self) -> bool:
        return False


def _message(offset: int) -> Any:
    return SimpleNamespace(topic="raw", partition=0, tp=("raw", 0), offset=offset, key=b"k",
                           value=b"v", headers=None, timestamp=None)


def _driver(runtime: _Runtime) -> FaustDriver:
    driver = FaustDriver.__new__(FaustDriver)  # no app, no producer: only what flush uses
    driver.runtime = runtime  # type: ignore[assignment]
    driver.app = SimpleNamespace(consumer=SimpleNamespace(ack=lambda message: True))  # type: ignore[assignment]
    driver.lock = asyncio.Lock()
    driver.buffer = []
    driver._acking = []
    driver.assignment = {("raw", 0)}
    driver._retry_at = 0.0
    driver._since = 0.0
    driver.settings = SimpleNamespace(stream_batch_max=2000)  # type: ignore[assignment]
    return driver


def test_batch_cut_while_an_aborted_one_was_in_flight_ran_first_and_lost_its_events(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The fetch loop cuts a batch when the buffer is full, the timer every 10 ms. A flush took its
    # events from the buffer before waiting for the lock: a second flush took the later events
    # while the first batch was in flight, and when the first aborted (its events back at the
    # head of the buffer), the second ran and committed offsets past them — the first's events
    # then ran never (below the committed offsets: "already done"). Lost, exactly-once.
    monkeypatch.setattr(ingest, "RETRY_S", 0.0)

    async def scenario() -> _Runtime:
        runtime = _Runtime()
        driver = _driver(runtime)
        driver.buffer = [_message(o) for o in range(5)]
        first = asyncio.create_task(driver.flush())
        await runtime.started.wait()
        driver.buffer += [_message(o) for o in range(5, 10)]
        second = asyncio.create_task(driver.flush())
        for _ in range(5):
            await asyncio.sleep(0)
        runtime.gate.set()
        await asyncio.gather(first, second)
        while driver.buffer:
            await driver.flush()
        return runtime

    runtime = asyncio.run(scenario())
    assert [o for batch in runtime.ran for o in batch] == list(range(10))
    assert runtime.committed == {("raw", 0): 10}


def test_partial_batch_timer_waits_while_the_consumer_is_behind(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Cut between two full batches of a backlog, the few records fetched meanwhile cost a whole
    # transaction each time. The timer leaves them to the next full batch while the consumer
    # is behind — for at most BACKLOG_WAIT_S.
    behind = [True]
    monkeypatch.setattr(ingest, "fetch_behind", lambda consumer, partitions: behind[0])
    clock = [100.0]
    monkeypatch.setattr(ingest, "time", SimpleNamespace(monotonic=lambda: clock[0]))

    async def cut(driver: FaustDriver) -> int:
        before = len(driver.buffer)
        await driver.flush_partial()
        return before - len(driver.buffer)

    async def scenario() -> list[int]:
        runtime = _Runtime()
        runtime.aborts = 1  # every batch commits
        driver = _driver(runtime)
        assert driver.take(_message(0)) is None  # the oldest message came at 100.0
        driver.take(_message(1))
        cuts = [await cut(driver)]  # behind: wait
        clock[0] += ingest.BACKLOG_WAIT_S
        cuts.append(await cut(driver))  # waited long enough: cut anyway
        driver.take(_message(2))
        cuts.append(await cut(driver))  # behind, a new oldest message: wait
        behind[0] = False
        cuts.append(await cut(driver))  # caught up: cut
        return cuts

    assert asyncio.run(scenario()) == [0, 2, 0, 1]


def test_fetch_behind_reads_the_last_stable_offset_before_the_high_watermark() -> None:
    from streams.faust_private import fetch_behind

    def state(position: int, highwater: int | None, lso: int | None) -> Any:
        return SimpleNamespace(has_valid_position=True, position=position, highwater=highwater,
                               lso=lso)

    def consumer(states: dict[tuple[str, int], Any]) -> Any:
        assignment = SimpleNamespace(state_value=states.get)
        client = SimpleNamespace(_subscription=SimpleNamespace(
            subscription=SimpleNamespace(assignment=assignment)))
        return SimpleNamespace(_thread=SimpleNamespace(_consumer=client))

    tp = ("raw", 0)
    assert fetch_behind(consumer({tp: state(5, 9, None)}), [tp])  # no LSO: the watermark
    assert not fetch_behind(consumer({tp: state(5, 9, 5)}), [tp])  # an open transaction
    assert fetch_behind(consumer({tp: state(5, 9, 7)}), [tp])
    assert not fetch_behind(consumer({tp: state(9, 9, -1)}), [tp])  # read_uncommitted: -1
    assert not fetch_behind(consumer({}), [tp])  # nothing fetched yet
    assert not fetch_behind(SimpleNamespace(), [tp])  # no consumer thread yet
