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
    return driver


def test_batch_cut_while_an_aborted_one_was_in_flight_ran_first_and_lost_its_events(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The agent cuts a batch when the buffer is full, the timer every 10 ms. A flush took its
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
