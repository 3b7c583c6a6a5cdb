"""Per-vehicle state in a Faust table, written explicitly per source partition.

The processor works on whole batches, so table writes cannot rely on Faust's "current event"
(one per ``async for`` step) to pick the changelog partition. ``in_partition`` sets it for a
block of writes, which keeps Faust's own path (store write, changelog record, standby
bookkeeping) for whichever store is configured (memory or rocksdb).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from faust.streams import _current_event


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
            value = table.get(key)
            if value:
                yield key, partition, value


def note_partition(table: Any, key: bytes, partition: int) -> None:
    """The memory store only learns key partitions from recovery; teach it our own writes too so
    revoked partitions' keys are dropped and the sweep knows which keys it owns."""
    key_partition = getattr(table.data, "_key_partition", None)
    if key_partition is not None:
        key_partition[key] = partition
