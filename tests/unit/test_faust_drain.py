"""``SafeCommitConsumer._drain_messages`` (``streams.faust_private`` point 6) against Faust's own
fetch loop, its oracle: over the same fetched messages — in order, a record fetched again
(below the read offset), a jump (a gap on an acking topic), a repeated offset — both hand over
the same messages in the same order, keep the same read offsets and report the same gaps.
Ours hands them to the app's ``message_sink`` instead of the conductor's callback."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

from faust.transport import consumer as faust_consumer
from faust.types import TP

from streams.faust_private import SafeCommitConsumer

RAW, FACTS = TP("raw", 0), TP("stats-facts", 0)


class _Stopped:
    def __init__(self) -> None:
        self.stopped = False

    def is_set(self) -> bool:
        return self.stopped


class _Fake:
    """What both fetch loops read of their consumer; ``rounds`` are the fetches, in order."""

    consumer_stopped_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, rounds: list[list[tuple[TP, int]]], sink: Callable[[Any], Any] | None,
                 flow: Callable[[int], bool] = lambda _: True) -> None:
        self.rounds = list(rounds)
        self._stopped = _Stopped()
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._commit_every = None
        self._n_acked = 0
        self.should_stop = False
        self.gaps: list[tuple[TP, int, int]] = []
        self.delivered: list[tuple[TP, int]] = []
        self.undone: list[tuple[TP, int]] = []
        self._flow = flow
        self.app = SimpleNamespace(message_sink=sink, topics=SimpleNamespace(
            acks_enabled_for=lambda topic: True), should_stop=False)
        self.transport = SimpleNamespace(app=self.app)
        self.diag = SimpleNamespace(set_flag=lambda _: None, unset_flag=lambda _: None)
        self.suspend_flow = asyncio.Event()
        self.log = SimpleNamespace(dev=lambda *a, **k: None, exception=self._raised)

    @property
    def flow_active(self) -> bool:
        return self._flow(len(self.delivered))

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        if not self.rounds:
            self._stopped.stopped = True
            return
        for tp, offset in self.rounds.pop(0):
            yield tp, SimpleNamespace(tp=tp, topic=tp.topic, partition=tp.partition,
                                      offset=offset, key=b"k", value=b"v")

    async def callback(self, message: Any) -> None:
        self.delivered.append((message.tp, message.offset))

    def sink(self, message: Any) -> None:
        self.delivered.append((message.tp, message.offset))

    async def wait_first(self, *coros: Any) -> None:
        await coros[0]
        for other in coros[1:]:
            other.close()

    async def sleep(self, _: float) -> None:
        await asyncio.sleep(0)

    async def _add_gap(self, tp: TP, start: int, end: int) -> None:
        self.gaps.append((tp, start, end))

    async def commit(self) -> None: ...

    def _raised(self, *args: Any) -> None:
        raise AssertionError(args)

    def undelivered(self, tp: TP, offset: int) -> None:
        self.undone.append((tp, offset))


ROUNDS = [
    [(RAW, 0), (RAW, 1), (FACTS, 0), (FACTS, 1), (RAW, 2)],
    [(RAW, 1), (RAW, 3), (FACTS, 3)],  # 1 again (below the read offset); facts jump 1 -> 3
    [(RAW, 3), (RAW, 7), (RAW, 8)],  # 3 repeated; a jump 3 -> 7
]


def _run(fake: _Fake, drain: Any) -> _Fake:
    asyncio.run(drain(fake, SimpleNamespace(_stopped=_Stopped())))
    return fake


def test_our_fetch_loop_hands_over_what_fausts_would() -> None:
    theirs = _run(_Fake(ROUNDS, sink=None), faust_consumer.Consumer._drain_messages)
    ours = _Fake(ROUNDS, sink=None)
    ours.app.message_sink = ours.sink
    _run(ours, SafeCommitConsumer._drain_messages)
    assert ours.delivered == theirs.delivered
    assert dict(ours._read_offset) == dict(theirs._read_offset)
    assert ours.gaps == theirs.gaps == [(FACTS, 2, 3), (RAW, 4, 7)]


def test_a_message_fetched_while_the_flow_is_stopped_is_read_again() -> None:
    # A rebalance began (Faust's flow stopped) between the fetch and the hand-over: the message
    # is not handed over, and the consumer is told so (point 1 reads it again).
    ours = _Fake([[(RAW, 0), (RAW, 1), (RAW, 2)]], sink=None, flow=lambda n: n < 1)
    ours.app.message_sink = ours.sink
    _run(ours, SafeCommitConsumer._drain_messages)
    assert ours.delivered == [(RAW, 0)]
    assert ours.undone == [(RAW, 1), (RAW, 2)]


def test_a_full_buffer_is_awaited_before_the_next_message() -> None:
    order: list[str] = []

    async def run_batch() -> None:
        order.append("batch")

    def sink(message: Any) -> Any:
        order.append(f"take {message.offset}")
        return run_batch() if message.offset == 1 else None

    fake = _Fake([[(RAW, 0), (RAW, 1), (RAW, 2)]], sink=sink)
    _run(fake, SafeCommitConsumer._drain_messages)
    assert order == ["take 0", "take 1", "batch", "take 2"]
