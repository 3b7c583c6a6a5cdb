"""A Faust transport whose consumer never commits past a record it has not processed.

Faust treats any jump in the offsets it reads as a *gap* (a compacted range, a transaction
marker) and counts the skipped offsets as acknowledged, so the next commit moves past them.
Around rebalances Faust itself drops fetched records (generation change, flow stopped, a
re-seek that fails with "No current assignment") while aiokafka's position has moved on; the
next record read is then a jump and the records in between were committed without ever being
processed: lost (docs/reliability.md). Our topics are never compacted and we use no
transactions, so every jump is such a skip: we record no gap and never commit past an
unacknowledged offset; the skipped records are read again from the committed offset after the
next rebalance or restart (at-least-once; downstream dedup by id).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger(__name__)


class SafeCommitConsumer(faust_aiokafka.Consumer):
    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # A skip, not a compaction gap (module docstring): keep it unacknowledged.
        log.warning("offsets %s..%s of %s[%s] were skipped by the fetch; not committing past "
                    "them (re-read after the next rebalance)", offset_from, offset_to - 1,
                    tp.topic, tp.partition)

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        # When a rebalance interrupts recovery, Faust starts the standbys with stale offsets and
        # can seek one to None; aiokafka raises and the worker crashes (seen in `make soak`).
        # The log start is the safe reading of "unknown" (a changelog replays idempotently).
        await super().seek_wait({tp: offset if isinstance(offset, int) and offset >= 0 else 0
                                 for tp, offset in partitions.items()})

    async def perform_seek(self) -> None:
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
