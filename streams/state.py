"""Per-vehicle state of the Faust engine: the Faust table ``vehicles`` as a runtime state store.

The runtime writes the changelog records itself (``streams.runtime``); this store only keeps the
table's local store in step, per source partition (``faust_private.in_partition``), for whichever
store is configured (memory or rocksdb). Faust restores the table from the same changelog on
assignment and restart.

The sweep uses the same time index as the batch engine (``streams.due``), fed by every batch. The
keys Faust restores behind our back are indexed by a full scan of the owned keys every
``FULL_SCAN_SECONDS`` (and at the first sweep): decoding every owned vehicle on every sweep tick
cost the Faust engine most of its throughput once tens of thousands of vehicles were pending.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from streams.faust_private import in_partition, note_partition, owned_items
from streams.runtime import DueSchedule

FULL_SCAN_SECONDS = 60.0


class TableStore(DueSchedule):
    """``streams.runtime.StateStore`` over a Faust table (keys: plate bytes, values: state)."""

    def __init__(self, table: Any, raw_topic: str, actives: Callable[[], set[int]]) -> None:
        super().__init__()
        self.table = table
        self.raw_topic = raw_topic
        self._actives = actives  # raw partitions this worker owns (Faust's assignor)
        self._next_scan = 0.0

    def get(self, plate: str) -> bytes | None:
        value: bytes | None = self.table.data.get(plate.encode())
        return value

    def put(self, plate: str, partition: int, value: bytes | None) -> None:
        store, key = self.table.data, plate.encode()
        with in_partition(self.raw_topic, partition):
            if value is None:
                if key in store:
                    del store[key]
                self.forget(plate)
            else:
                store[key] = value
                note_partition(self.table, key, partition)
                self.owner[plate] = partition

    def due(self, now: float, limit: int) -> list[tuple[str, int, bytes]]:
        actives = self._actives()
        if time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + FULL_SCAN_SECONDS
            self._scan(actives)
        items = []
        for plate in self.index.pop_due(now, limit):
            partition = self.owner.get(plate)
            value = self.get(plate) if partition in actives else None
            if partition is None or value is None:
                self.forget(plate)  # revoked or gone: its new owner sweeps it
                continue
            items.append((plate, partition, value))
        return items

    def _scan(self, actives: set[int]) -> None:
        """Index every owned key (restored ones included); forget keys no longer owned."""
        seen = set()
        for key, partition, _value in owned_items(self.table, actives):
            plate = key.decode()
            seen.add(plate)
            if self.owner.get(plate) != partition:
                self.owner[plate] = partition
                self.index.set(plate, 0.0)  # due at once: the sweep learns its schedule
        for plate in [p for p in self.owner if p not in seen]:
            self.forget(plate)
