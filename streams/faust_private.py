"""Every use of a private faust/aiokafka name, in one place (faust-streaming 0.15.3).

``tests/unit/test_faust_private.py`` pins the version and checks that each name below still
exists; it fails loudly on an upgrade. Nothing else in ``streams/`` touches a private name.

1. **Commits past skipped records** (``SafeCommitConsumer``). Faust treats any jump in the
   offsets it reads as a *gap* (a compacted range, a transaction marker) and counts the skipped
   offsets as acknowledged, so the next commit moves past them. Around rebalances Faust itself
   drops fetched records (generation change, flow stopped, a re-seek that fails with "No current
   assignment") while aiokafka's position has moved on; the records in between were then
   committed without ever being processed: lost (docs/reliability.md). Our input topics are
   never compacted and not written in transactions, so a jump is such a skip: we record no gap,
   never commit past an unacknowledged offset, and **seek back to the first skipped offset at
   once**, dropping what the same fetch returned after it, so the skipped records are processed
   now and in partition order (defect (c) of issue #15: they used to wait for the next
   rebalance and then come after records that follow them). A jump seen twice at the same
   offset is a real hole and passes (a skip is never permanent).
   Still needed on Apache Kafka: the drops are Faust's, not the broker's.
2. **Table writes per source partition** (``in_partition``): Faust's stores pick the changelog
   partition / rocksdb database from the *current event* (a context variable, one per
   ``async for`` step); the runtime writes whole batches, so we set it for a block of writes.
3. **Store internals** (``owned_items``, ``note_partition``): which keys belong to which
   partition (memory store: ``_key_partition``; rocksdb: one database per partition).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from faust.streams import _current_event
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

log = logging.getLogger(__name__)


class SafeCommitConsumer(faust_aiokafka.Consumer):
    _next: dict[TP, int]
    _reread: dict[TP, int]

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        # Public method, private state: see point 1 of the module docstring.
        nxt, reread = self.__dict__.setdefault("_next", {}), self.__dict__.setdefault("_reread", {})
        drop_fetched = getattr(self.app, "drop_fetched", None)  # the runtime's fault hook
        sought: set[TP] = set()
        async for tp, message in super().getmany(timeout):
            if tp in sought:
                continue  # fetched before our seek back: read again, in order, after it
            if drop_fetched is not None and drop_fetched(tp.topic):
                continue  # the fault hook plays Faust dropping a fetched record
            offset, expected = message.offset, nxt.get(tp)
            if (expected is not None and offset > expected and reread.get(tp) != expected
                    and self.app.topics.acks_enabled_for(tp.topic)):
                reread[tp] = expected
                log.warning("offsets %s..%s of %s[%s] were skipped by the fetch; reading them "
                            "again now", expected, offset - 1, tp.topic, tp.partition)
                sought.add(tp)
                await self.seek(tp, expected)
                continue
            nxt[tp] = offset + 1
            yield tp, message

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self.__dict__.setdefault("_next", {})[partition] = offset

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
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


# --- table state (points 2 and 3) ----------------------------------------------------------------


@dataclass
class _Message:
    topic: str
    partition: int


@dataclass
class _PartitionEvent:
    """The part of a Faust event that table writes read: which partition owns the key."""

    message: _Message


@contextmanager
def in_partition(topic: str, partition: int) -> Iterator[None]:
    event = _PartitionEvent(_Message(topic, partition))
    token = _current_event.set(weakref.ref(event))  # type: ignore[arg-type]
    try:
        yield
    finally:
        _current_event.reset(token)


def owned_items(table: Any, partitions: set[int]) -> Iterator[tuple[bytes, int, bytes]]:
    """(key, partition, value) of the table's keys whose partition is in ``partitions``."""
    store = table.data
    dbs = getattr(store, "_dbs", None)
    if dbs is not None:  # rocksdb store: one database per partition, possibly from a past run
        for partition in sorted(partitions):
            db = dbs.get(partition)
            if db is None:
                continue
            for key, value in list(store._visible_items(db)):
                if value:
                    yield key, partition, value
        return
    key_partition = getattr(store, "_key_partition", {})  # memory store
    for key, partition in list(key_partition.items()):
        if partition in partitions:
            value = store.get(key)
            if value:
                yield key, partition, value


def note_partition(table: Any, key: bytes, partition: int) -> None:
    """The memory store only learns key partitions from recovery; teach it our own writes too so
    revoked partitions' keys are dropped and the sweep knows which keys it owns."""
    key_partition = getattr(table.data, "_key_partition", None)
    if key_partition is not None:
        key_partition[key] = partition
