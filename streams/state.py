"""Per-vehicle state of the Faust engine: the Faust table ``vehicles`` as a runtime state store.

The runtime writes the changelog records itself (``streams.runtime``); this store only keeps the
table's local store in step, per source partition (``faust_private.in_partition``), for whichever
store is configured (memory or rocksdb). Faust restores the table from the same changelog on
assignment and restart.
"""

from __future__ import annotations

from typing import Any

from streams.faust_private import in_partition, note_partition, owned_items
from streams.processor import BatchResult


class TableStore:
    """``streams.runtime.StateStore`` over a Faust table (keys: plate bytes, values: state)."""

    def __init__(self, table: Any, raw_topic: str, actives: Any) -> None:
        self.table = table
        self.raw_topic = raw_topic
        self._actives = actives  # () -> raw partitions this worker owns (Faust's assignor)

    def get(self, plate: str) -> bytes | None:
        value: bytes | None = self.table.data.get(plate.encode())
        return value

    def put(self, plate: str, partition: int, value: bytes | None) -> None:
        store, key = self.table.data, plate.encode()
        with in_partition(self.raw_topic, partition):
            if value is None:
                if key in store:
                    del store[key]
            else:
                store[key] = value
                note_partition(self.table, key, partition)

    def schedule(self, result: BatchResult) -> None:
        """No time index: the Faust sweep looks at every owned vehicle (``due``)."""

    def due(self, now: float, limit: int) -> list[tuple[str, int, bytes]]:
        actives = self._actives()
        if not actives:
            return []
        return [(key.decode(), partition, value)
                for key, partition, value in owned_items(self.table, actives)]

    def pending(self, result: BatchResult) -> dict[str, int]:
        return dict(result.pending)
