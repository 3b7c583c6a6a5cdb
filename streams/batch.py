"""What one processing batch takes and gives: input and output records, the batch's result
and the per-batch accumulator of ``streams.processor``. Apart from the processor so that module
keeps to the processing itself (and under the 400-line limit); the processor re-exports the
record types its runners import."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from bordersync.wire.splicing import Splicing
from streams.logic.model import VehicleState
from streams.logic.stats import FactRow
from streams.tally import Tally

# Built once, not per json.dumps call. No circular check: the fact rows are flat tuples of
# scalars, and the check's id bookkeeping per row cost about a third of the encoding.
_COMPACT = json.JSONEncoder(separators=(",", ":"), check_circular=False)
STATS_FACTS = "stats-facts"
# An emit's OutRecords from its key and values (``OutRecord.builder`` of its streams), the shared
# encoder's ``encode_flat`` (None: not the common path), the agency groups and their share
# streams (streams.processor._plan)
Plan = tuple[Callable[[bytes, list[bytes]], tuple["OutRecord", ...]],
             Callable[..., list[bytes] | None] | None,
             list[tuple[tuple[str, ...], list[str]]], list[list[str]]]


def partition_for(key: bytes, partitions: int) -> int:
    """The partition our producers' librdkafka default partitioner (consistent_random) picks for a
    non-empty key: CRC32 of the key modulo the partition count."""
    return (zlib.crc32(key) & 0xFFFFFFFF) % partitions


class InRecord(NamedTuple):
    """One input record. A named tuple, immutable like the frozen dataclass it was: the engines
    build one per record consumed, and the dataclass's ``__init__`` cost three times as much."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    topic: str
    partition: int
    offset: int
    timestamp: int = -1  # Kafka's, ms; -1 unknown. For the DLQ's header (why: streams/dlq.py)


class OutRecord(msgspec.Struct, frozen=True, gc=False):
    """One output record, immutable. A msgspec Struct, because a batch builds about eight per
    input event: its constructor is C code taking the fields as arguments (as cheap as a tuple
    display), where a named tuple costs a ``tuple.__new__`` call through the type's wrapper
    (about 1k instructions more each) and a frozen dataclass an ``object.__setattr__`` a field.
    ``gc=False``: its fields (str, bytes, a list of str/bytes pairs, int) never form a cycle, so
    the collector need not track it. Compared by value, like the named tuple it was."""

    stream: str  # logical stream: crossings, matched, share.<agency>, dlq, raw, stats-facts...
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None = None
    partition: int | None = None

    @staticmethod
    def builder(streams: Sequence[str]) -> Callable[[bytes, list[bytes]], tuple[OutRecord, ...]]:
        """``build(key, values)``: an emit's OutRecords, one a stream with its value, none signed.
        One generated function (values unpacked, a tuple display of constructor calls with the
        streams as constants): a map over a zip and a repeat, built per emit, cost ~1.8k
        instructions more. Only the streams' repr()s go in its source."""
        names = [f"v{i}" for i in range(len(streams))]
        made = ", ".join(f"O({s!r}, k, {v})" for s, v in zip(streams, names, strict=True))
        scope: dict[str, Any] = {"O": OutRecord}
        exec(f"def build(k, v):\n    {''.join(f'{v}, ' for v in names)}= v\n    return ({made},)",
             scope)
        build: Callable[[bytes, list[bytes]], tuple[OutRecord, ...]] = scope["build"]
        return build


@dataclass
class BatchResult:
    outputs: list[OutRecord] = field(default_factory=list)
    state: dict[str, bytes | None] = field(default_factory=dict)  # plate -> new state, None = delete
    owner: dict[str, int] = field(default_factory=dict)  # plate -> partition that owns its state
    tally: Tally = field(default_factory=Tally)
    pending: Counter[str] = field(default_factory=Counter)  # sweep only: pending per crossing
    # plate -> (next due time for the sweep, crossings of its pending events); filled for every
    # changed vehicle and, by ``sweep``, every swept one (the batch engine indexes it by time)
    schedule: dict[str, tuple[int | None, tuple[str, ...]]] = field(default_factory=dict)
    # plate -> the vehicle's decoded state after the batch, for every vehicle the batch looked
    # at: a store may keep it for the next batch once the batch is committed (``Load``)
    live: dict[str, VehicleState] = field(default_factory=dict)


# A vehicle's state as its store hands it to a batch: encoded, None (unknown vehicle), or the
# decoded state a committed batch left (``BatchResult.live``). The batch may change it in place,
# so a store hands a decoded state out once and keeps its encoding: a batch that fails leaves
# the encoding as the truth (docs/streams.md, "Live state").
Load = Callable[[str], "bytes | VehicleState | None"]


class Batch:
    def __init__(self, load: Load, t_now: int = 0) -> None:
        self.load = load
        self.t_now = t_now  # the batch's clock in epoch ms
        self.splice: Splicing | None = None  # the codec's splicing path, set by the processor
        # (stream or route, crossing) -> what the processor's emits there need, found once a
        # batch (the shared encoder is the batch's codec's)
        self.plans: dict[tuple[str, str], Plan] = {}
        self.cache: dict[str, VehicleState] = {}
        self.dirty: set[str] = set()
        self.result = BatchResult()
        self.facts: list[FactRow] = []  # stats facts as their JSON rows (streams.logic.stats)
        # (stream or route, crossing) of every output: the processor counts them and turns the
        # counts into the route's tally keys once a batch (hashing a route's keys per output, or
        # counting in a dict per output, cost more)
        self.routed: list[tuple[str, str]] = []

    def state(self, plate: str) -> VehicleState:
        st = self.cache.get(plate)
        if st is None:
            data = self.load(plate)
            st = self.cache[plate] = data if isinstance(data, VehicleState) else \
                VehicleState.decode(data)
        return st

    def finish(self) -> BatchResult:
        for plate in self.dirty:
            st = self.cache[plate]
            self.result.state[plate] = None if st.is_empty() else st.encode()
        self.result.live = self.cache
        if self.facts:
            value = _COMPACT.encode(self.facts).encode()
            self.result.outputs.append(OutRecord(STATS_FACTS, b"facts", value))
        return self.result
