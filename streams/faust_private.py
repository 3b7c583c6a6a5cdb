"""Every use of a private faust/aiokafka name, in one place (faust-streaming 0.15.3).

``tests/unit/test_faust_private.py`` pins the version and checks that each name below still
exists; it fails loudly on an upgrade. Nothing else in ``streams/`` touches a private name.

1. **Commits past skipped records** (``SafeCommitConsumer``). Faust treats any jump in the
   offsets it reads as a *gap* (a compacted range, a transaction marker) and counts the skipped
   offsets as acknowledged, so the next commit moves past them. Around rebalances Faust itself
   drops fetched records (generation change, flow stopped, a re-seek that fails with "No current
   assignment") while aiokafka's position has moved on; the records in between were then
   committed without ever being processed: lost (docs/reliability.md). ``raw`` (the app's
   ``gapless_topics``) is never compacted and not written in transactions, so a jump there is
   such a skip: we record no gap,
   never commit past an unacknowledged offset, and **seek back to the first skipped offset at
   once**, dropping what the same fetch returned after it, so the skipped records are processed
   now and in partition order (defect (c) of issue #15: they used to wait for the next
   rebalance and then come after records that follow them). A jump seen twice at the same
   offset is a real hole and passes (a skip is never permanent). A skip of a partition's *last*
   records shows no jump: before each fetch, a partition whose aiokafka position is past the
   next offset we handed over is sought back too (``_reread_tails``; they used to wait for more
   traffic on the partition).
   Still needed on Apache Kafka: the drops are Faust's, not the broker's. ``stats-facts`` is
   written in the runtime's transactions: every commit marker is a one-offset jump, a gap as
   Faust means it (before this was limited to ``raw``, each marker cost a warning and a seek).
2. **Offsets committed in our transactions** (``SafeCommitConsumer._commit``): in exactly-once
   mode the runtime commits the input offsets inside each batch's transaction; Faust still
   tracks acks (so point 1 keeps working) but its own plain ``OffsetCommit`` is skipped: landing
   after a later transaction's offsets, it would move the group back.
3. **Reading committed records only** (``ReadCommittedThread``): aiokafka reads
   ``read_uncommitted`` unless Faust runs its own transactions; the stats facts are written in
   ours, so an aborted batch's facts must stay invisible.
4. **The group member** (``group_member``): generation and member id of the aiokafka consumer,
   for the transaction's offsets (``bordersync.kafka.group_metadata``).
5. **State restore before the assignment is served** (``RebalanceHooks``): the runtime restores
   its per-vehicle state from the changelog inside ``App._on_partitions_assigned``, before Faust
   resumes fetching the new assignment, and drops the revoked partitions' state after
   ``App._on_partitions_revoked``.
6. **Messages straight to the driver** (``SafeCommitConsumer._drain_messages``): Faust's fetch
   loop handed each message to the conductor inside a ``wait_first`` (two tasks and an
   ``asyncio.wait`` per message), and the conductor through a channel queue to an agent's
   stream: together about half the Faust engine's time per event. Our copy of the loop keeps
   its read offsets, gaps and commits, and hands each message to the app's ``message_sink``
   (``streams.ingest.FaustDriver.take``), awaiting the batch it returns when the buffer is
   full. A message fetched while the flow is stopped (a rebalance began) is not handed over;
   the rebalance's seek, or point 1, reads it again. Faust's own loop is the oracle
   (``tests/unit/test_faust_drain.py``).
7. **Is the consumer behind?** (``fetch_behind``): aiokafka's position, high watermark and last
   stable offset of a partition, as its last fetch left them; the driver's partial-batch timer
   does not cut while there are records still to fetch (``streams.ingest``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import faust
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

log = logging.getLogger(__name__)


def _gapless(app: Any) -> frozenset[str]:
    gapless: frozenset[str] = getattr(app, "gapless_topics", frozenset())
    return gapless


class SafeCommitConsumer(faust_aiokafka.Consumer):
    _next: dict[TP, int]
    _reread: dict[TP, int]

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        # Public method, private state: see point 1 of the module docstring.
        nxt, reread = self.__dict__.setdefault("_next", {}), self.__dict__.setdefault("_reread", {})
        await self._reread_tails(nxt, reread)
        drop_fetched = getattr(self.app, "drop_fetched", None)  # the runtime's fault hook
        sought: set[TP] = set()
        async for tp, message in super().getmany(timeout):
            if tp in sought:
                continue  # fetched before our seek back: read again, in order, after it
            if drop_fetched is not None and drop_fetched(tp.topic):
                continue  # the fault hook plays Faust dropping a fetched record
            offset, expected = message.offset, nxt.get(tp)
            if (expected is not None and offset > expected and reread.get(tp) != expected
                    and tp.topic in _gapless(self.app)):
                reread[tp] = expected
                log.warning("offsets %s..%s of %s[%s] were skipped by the fetch; reading them "
                            "again now", expected, offset - 1, tp.topic, tp.partition)
                sought.add(tp)
                await self.seek(tp, expected)
                continue
            nxt[tp] = offset + 1
            yield tp, message

    async def _reread_tails(self, nxt: dict[TP, int], reread: dict[TP, int]) -> None:
        """Point 1, at a partition's tail: records aiokafka returned (its position moved past
        them) but that never came through ``getmany`` are read again now. A jump shows a skip
        only when the partition's next record arrives; a skip of its last records waited for
        more traffic (the test of the broker's SIGKILL: the last of 240 crossings never ran)."""
        gapless = _gapless(self.app)
        for tp, expected in list(nxt.items()):
            if tp.topic not in gapless or reread.get(tp) == expected:
                continue
            position = fetch_position(self, tp)
            if position is None or position <= expected:
                continue
            reread[tp] = expected
            log.warning("offsets %s..%s of %s[%s] were fetched but never handed over; reading "
                        "them again now", expected, position - 1, tp.topic, tp.partition)
            try:
                await self.seek(tp, expected)
            except Exception as exc:  # no longer assigned: its next owner reads them
                nxt.pop(tp, None)
                log.warning("no seek of %s back to %s: %r", tp, expected, exc)

    def undelivered(self, tp: TP, offset: int) -> None:
        """A record of ``getmany`` was not handed over after all: read it again (point 6)."""
        nxt = self.__dict__.setdefault("_next", {})
        if tp in nxt and offset < nxt[tp]:
            nxt[tp] = offset

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self.__dict__.setdefault("_next", {})[partition] = offset

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        if tp.topic not in _gapless(self.app):  # e.g. a transaction marker
            await super()._add_gap(tp, offset_from, offset_to)
            return
        # A skip, not a compaction gap (module docstring): keep it unacknowledged.
        log.warning("offsets %s..%s of %s[%s] were skipped by the fetch; not committing past "
                    "them", offset_from, offset_to - 1, tp.topic, tp.partition)

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        # When a rebalance interrupts recovery, Faust starts the standbys with stale offsets and
        # can seek one to None; aiokafka raises and the worker crashes (seen in `make soak`).
        # The log start is the safe reading of "unknown" (a changelog replays idempotently).
        await super().seek_wait({tp: offset if isinstance(offset, int) and offset >= 0 else 0
                                 for tp, offset in partitions.items()})

    async def perform_seek(self) -> None:
        self.__dict__.setdefault("_next", {}).clear()  # a new generation: no expectations
        await super().perform_seek()
        # Faust keeps no baseline for a partition the group never committed (or committed at
        # 0), and then commits whatever run of offsets was acked first, even if it starts
        # mid-partition; aiokafka does not seek it either, so a position left from a previous
        # generation (past records Faust dropped at the revoke) stands. Its baseline and
        # position are the log start: nothing is committed until that record is processed.
        fresh = [tp for tp in self.assignment() if self._committed_offset.get(tp) is None
                 and self.app.topics.acks_enabled_for(tp.topic)]
        if not fresh:
            return
        try:
            earliest = await self.earliest_offsets(*fresh)
        except Exception as exc:  # the next seek (every rebalance) tries again
            log.warning("no log start for %s: %r", sorted(fresh), exc)
            return
        for tp, offset in earliest.items():
            if self._committed_offset.get(tp) is None and offset is not None:
                self._committed_offset[tp] = offset
                try:
                    await self.seek(tp, offset)
                except Exception as exc:  # revoked meanwhile: its next owner seeks it
                    log.warning("no seek of %s to its log start: %r", tp, exc)

    async def _drain_messages(self, fetcher: Any) -> None:
        """Point 6: ``Consumer._drain_messages`` of faust-streaming 0.15.3, handing each message
        to the app's ``message_sink`` instead of the conductor's callback (Faust's loop when the
        app has none)."""
        sink = getattr(self.app, "message_sink", None)
        if sink is None:
            await super()._drain_messages(fetcher)
            return
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        read_offset = self._read_offset
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        sleep = asyncio.sleep
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if self.should_stop:
                    continue
                async for tp, message in ait:
                    since_yield += 1
                    if since_yield > 100:
                        await sleep(0)
                        since_yield = 0
                    offset = message.offset
                    r_offset = read_offset.get(tp)
                    if r_offset is not None and offset < r_offset:
                        continue
                    gap = offset - (r_offset or 0)
                    if gap > 1 and r_offset and acks_enabled_for(message.topic):
                        await self._add_gap(tp, r_offset + 1, offset)
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    if not self.flow_active:  # a rebalance began: its seek reads it again
                        self.undelivered(tp, offset)
                        continue
                    full = sink(message)
                    if full is not None:
                        await full
                    read_offset[tp] = offset
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ReadCommittedThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        if getattr(self.app, "commits_in_transactions", False):
            return True  # point 2: the offsets were committed with the batch's transaction
        committed: bool = await super()._commit(offsets)
        return committed

    def _new_offset(self, tp: TP) -> int | None:
        # Faust only refuses when the first acked offset is more than one past the committed
        # one (and not at all when that is 0), so a skipped record at the head would still be
        # committed past.
        # Without a baseline (between a revoke and the next seek, when acks of the previous
        # generation still arrive) nothing says where the partition's processed run starts.
        acked, committed = self._acked[tp], self._committed_offset[tp]
        if acked and (committed is None or min(acked) > committed):
            return None
        offset: int | None = super()._new_offset(tp)
        return offset


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with ``SafeCommitConsumer``; selected by the broker URL
    scheme ``bordersync://`` (``SCHEME``), registered in Faust's transport registry."""

    Consumer = SafeCommitConsumer


SCHEME = "bordersync"
TRANSPORTS[SCHEME] = f"{__name__}:Transport"


# --- exactly-once and rebalancing (points 2 to 5) ------------------------------------------------


class ReadCommittedThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Point 3: aiokafka's consumer with ``isolation_level="read_committed"``."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"  # read by its fetcher when it starts
        return consumer


class RebalanceHooks(faust.App):
    """Point 5: ``before_assigned(assigned)`` runs before Faust serves a new assignment,
    ``after_revoked(revoked)`` after Faust stopped serving the revoked partitions."""

    before_assigned: Callable[[set[TP]], Awaitable[None]] | None = None
    after_revoked: Callable[[set[TP]], Awaitable[None]] | None = None
    #: Point 2: the runtime commits the input offsets in its transactions.
    commits_in_transactions: bool = False
    #: Point 1: the topics where a jump in offsets is a record Faust skipped.
    gapless_topics: frozenset[str] = frozenset()

    async def _on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        if self.before_assigned is not None and not self.should_stop:
            try:
                await self.before_assigned(assigned)
            except Exception as exc:  # Faust's own handler crashes the app the same way
                await self.crash(exc)
                return
        await super()._on_partitions_assigned(assigned, generation_id)

    async def _on_partitions_revoked(self, revoked: set[TP]) -> None:
        await super()._on_partitions_revoked(revoked)
        if self.after_revoked is not None:
            await self.after_revoked(revoked)


def _fetch_state(consumer: Any, tp: tuple[str, int]) -> Any:
    """aiokafka's fetch state of ``tp`` (position, high watermark, last stable offset), read
    from the consumer's thread without a call; None when it has none."""
    client = getattr(getattr(consumer, "_thread", None), "_consumer", None)
    subscription = getattr(getattr(client, "_subscription", None), "subscription", None)
    assignment = getattr(subscription, "assignment", None)
    state = assignment.state_value(tp) if assignment is not None else None
    return state if state is not None and state.has_valid_position else None


def fetch_position(consumer: Any, tp: TP) -> int | None:
    """Point 1: aiokafka's fetch position of ``tp`` (past every record its ``getmany`` has
    returned); None when it has none."""
    state = _fetch_state(consumer, tp)
    position: int | None = state.position if state is not None else None
    return position


def fetch_behind(consumer: Any, partitions: Iterable[tuple[str, int]]) -> bool:
    """Point 7: whether, at the last fetch, any of ``partitions`` had records past aiokafka's
    position (up to its last stable offset: we read ``read_committed``)."""
    for tp in partitions:
        state = _fetch_state(consumer, tp)
        if state is None:
            continue
        end = state.lso if state.lso is not None and state.lso >= 0 else state.highwater
        if end is not None and state.position < end:
            return True
    return False


def group_member(app: faust.App) -> tuple[str, int, str, str | None] | None:
    """Point 4: (group id, generation, member id, instance id) of the worker's aiokafka consumer
    now; None before it has one. An expelled member says generation -1 and no member id."""
    thread = getattr(app.consumer, "_thread", None)
    consumer = getattr(thread, "_consumer", None)
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None:
        return None
    return (str(coordinator.group_id), int(coordinator.generation), str(coordinator.member_id),
            coordinator._group_instance_id)
