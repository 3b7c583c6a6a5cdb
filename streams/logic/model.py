"""Compact per-vehicle state: only what deduplication, matching and discrepancy rules need.

One entry per normalised plate, stored as positional msgpack arrays (no field names) so a pending
vehicle costs a few hundred bytes in the table and its changelog. msgpack rather than the JSON of
before issue 19: cheaper to encode and decode, and smaller. State written by earlier versions
(a JSON object, always starting with ``{``, which no msgpack array does) still decodes, so a
running system upgrades from its changelog without losing pending vehicles; it is rewritten as
msgpack the next time the vehicle changes.

Every time in the state is an integer number of milliseconds since the epoch, UTC (issue 19:
"integer milliseconds end to end"): event times as the raw schema's timestamp-millis gives them,
wall-clock times as ``to_epoch_ms`` of the batch's clock. Exact, compared and subtracted without a
float or a datetime. The state's encoding says so: a fifth item, ``STATE_FORMAT`` (2). State
written before (four items, or the legacy JSON object) held float epoch seconds; it decodes with
each time converted (``_ms``: rounded to the millisecond, which they were), so the upgrade keeps
every pending vehicle, and it is written in the new format the next time the vehicle changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack

_LEGACY_JSON = b"{"[0]  # the first byte of every state written before msgpack
STATE_FORMAT = 2  # the encoding's fifth item: times in integer milliseconds (none: float seconds)
MAX_CONFLICTS = 8  # conflicting versions remembered per event id (a terminal gone mad: bounded)


_new = object.__new__


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLI = timedelta(milliseconds=1)


def to_epoch_ms(value: datetime) -> int:
    """An aware datetime as integer milliseconds since the epoch, exactly (integer arithmetic,
    as the Avro writer encodes timestamp-millis: bordersync.wire.avro_prims), never a float;
    a time between two milliseconds (a wall clock) goes to the earlier one."""
    return (value - EPOCH) // _MILLI


def from_epoch_ms(ms: int) -> datetime:
    """Milliseconds since the epoch as an aware UTC datetime, exactly (no float on the way)."""
    return EPOCH + _MILLI * ms


def _ms(seconds: float) -> int:
    """A time of a state written before ``STATE_FORMAT`` 2 (float epoch seconds) in ms."""
    return round(seconds * 1000)


@dataclass(slots=True)
class Pending:
    """A forwarded crossing still waiting for its partner on the other side."""

    event_id: str
    admin: str
    post: str
    crossing: str
    direction: str
    t: int  # event time, epoch ms
    arrived: int  # wall clock when the worker first saw it, epoch ms
    vehicle_type: str
    gross_mass_kg: int | None = None
    seals: list[str] | None = None
    trailer_plate: str | None = None
    container_ids: list[str] | None = None
    passengers: int | None = None
    alerted: bool = False  # UNMATCHED_* already raised
    # The event time as the event gave it, while it is in memory (not in the state's encoding):
    # ``from_epoch_ms(t)`` would give the same datetime, at a cost on every match.
    time: datetime | None = field(default=None, compare=False, repr=False)
    # Its forwarded ``crossings`` record's field chunks, spliced from the input, while in memory:
    # the matched record takes its fields from them (``matching.MATCHED_FROM``).
    chunks: list[bytes] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_event(cls, event: dict[str, Any], crossing: str, now: int,
                   t: int | None = None, time: datetime | None = None,
                   chunks: list[bytes] | None = None) -> Pending:
        """``now``: the wall clock in epoch ms; ``t``: the event time in epoch ms when the
        caller has it already; ``time``,
        ``chunks``: the in-memory slots (the processor's, set here rather than by two more
        stores after the call). Every slot set here, without the generated ``__init__`` (one
        per event: its call and argument passing cost more than the stores;
        tests/unit/test_read_fold.py checks every slot)."""
        get = event.get
        new = _new(cls)
        new.event_id = event["event_id"]
        new.admin = event["admin"]
        new.post = event["post"]
        new.crossing = crossing
        new.direction = event["direction"]
        new.t = to_epoch_ms(event["event_time"]) if t is None else t
        new.arrived = now
        new.vehicle_type = event["vehicle_type"]
        new.gross_mass_kg = get("gross_mass_kg")
        new.seals = get("seals")
        new.trailer_plate = get("trailer_plate")
        new.container_ids = get("container_ids")
        new.passengers = get("passengers")
        new.alerted = False
        new.time, new.chunks = time, chunks
        return new

    def pack(self) -> list[Any]:
        return [self.event_id, self.admin, self.post, self.crossing, self.direction, self.t,
                self.arrived, self.vehicle_type, self.gross_mass_kg, self.seals, self.trailer_plate,
                self.container_ids, self.passengers, int(self.alerted)]

    @classmethod
    def unpack(cls, row: list[Any]) -> Pending:
        pending = cls(*row[:13])
        pending.alerted = bool(row[13])
        return pending

    @classmethod
    def unpack_seconds(cls, row: list[Any]) -> Pending:
        """A row written before ``STATE_FORMAT`` 2 (times in float seconds)."""
        pending = cls.unpack(row)
        pending.t, pending.arrived = _ms(row[5]), _ms(row[6])
        return pending


@dataclass(slots=True)
class HeldInspection:
    """An inspection kept until the vehicle's EXIT/ENTRY pair is matched (mutual recognition)."""

    event_id: str
    admin: str
    crossing: str
    inspection_type: str
    result: str
    t: int  # event time, epoch ms
    arrived: int  # wall clock, epoch ms
    findings: str | None = None
    seals_applied: list[str] | None = None
    measured_mass_kg: int | None = None

    @classmethod
    def from_event(cls, event: dict[str, Any], crossing: str, now: int,
                   t: int | None = None) -> HeldInspection:
        """``now``: the wall clock, ``t``: the event time when the caller has it, both epoch ms."""
        return cls(
            event_id=event["event_id"], admin=event["admin"], crossing=crossing,
            inspection_type=event["inspection_type"], result=event["result"],
            t=to_epoch_ms(event["event_time"]) if t is None else t, arrived=now,
            findings=event.get("findings"),
            seals_applied=event.get("seals_applied"), measured_mass_kg=event.get("measured_mass_kg"),
        )

    def pack(self) -> list[Any]:
        return [self.event_id, self.admin, self.crossing, self.inspection_type, self.result, self.t,
                self.arrived, self.findings, self.seals_applied, self.measured_mass_kg]

    @classmethod
    def unpack(cls, row: list[Any]) -> HeldInspection:
        return cls(*row)

    @classmethod
    def unpack_seconds(cls, row: list[Any]) -> HeldInspection:
        """A row written before ``STATE_FORMAT`` 2 (times in float seconds)."""
        held = cls.unpack(row)
        held.t, held.arrived = _ms(row[5]), _ms(row[6])
        return held

    def as_record(self) -> dict[str, Any]:
        """The shape of one entry of ``matched.inspections`` (docs/records.md)."""
        return {
            "event_id": self.event_id, "admin": self.admin, "inspection_type": self.inspection_type,
            "result": self.result, "event_time": from_epoch_ms(self.t), "findings": self.findings,
            "seals_applied": self.seals_applied, "measured_mass_kg": self.measured_mass_kg,
        }


@dataclass(slots=True)
class Seen:
    """What deduplication remembers of one accepted event id."""

    digest: str  # content hash prefix
    seen_at: int  # wall clock, epoch ms, drives the TTL
    t: int  # event time, epoch ms
    sig: str  # "post|direction" for crossings that can anchor physical dedup, "" otherwise
    # Digests of the conflicting versions of this id already alerted on (oldest first, at most
    # ``MAX_CONFLICTS``): a terminal's outbox re-sending one of them is an exact duplicate, not
    # a second CONFLICTING_DUPLICATE alert. Packed only when there are some, so the state of
    # every vehicle without a conflict encodes as before.
    conflicts: list[str] | None = None

    def pack(self) -> list[Any]:
        if self.conflicts:
            return [self.digest, self.seen_at, self.t, self.sig, self.conflicts]
        return [self.digest, self.seen_at, self.t, self.sig]

    def knows(self, digest: str) -> bool:
        """Whether ``digest`` is this id's accepted content or one of its alerted conflicts."""
        return digest == self.digest or (self.conflicts is not None and digest in self.conflicts)

    def conflicted(self, digest: str) -> None:
        """Remember a conflicting version that was alerted on."""
        self.conflicts = [*(self.conflicts or ()), digest][-MAX_CONFLICTS:]

    @classmethod
    def unpack(cls, row: list[Any]) -> Seen:
        return cls(*row)

    @classmethod
    def unpack_seconds(cls, row: list[Any]) -> Seen:
        """A row written before ``STATE_FORMAT`` 2 (times in float seconds)."""
        return cls(row[0], _ms(row[1]), _ms(row[2]), *row[3:])


@dataclass(slots=True)
class VehicleState:
    seen: dict[str, Seen] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)
    inspections: list[HeldInspection] = field(default_factory=list)
    # Risk history [t (epoch ms), code, ...] (streams.risk.stage): kept with the vehicle's other state, so
    # it lives as long as the dedup TTL; written only when non-empty (state bytes unchanged
    # without the risk stage). Does not keep a state alive on its own.
    risk: list[list[Any]] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.seen or self.pending or self.inspections)

    def encode(self) -> bytes:
        # No comprehension (a function call each) for the lists that are empty, as they are
        # once a vehicle's crossings are matched
        doc = [{k: v.pack() for k, v in self.seen.items()},
               [p.pack() for p in self.pending] if self.pending else [],
               [i.pack() for i in self.inspections] if self.inspections else [], self.risk,
               STATE_FORMAT]
        data: bytes = msgpack.packb(doc)
        return data

    @classmethod
    def decode(cls, data: bytes | None) -> VehicleState:
        if not data:  # a new vehicle (most events): no generated __init__ and default factories
            st = _new(cls)
            st.seen, st.pending, st.inspections, st.risk = {}, [], [], []
            return st
        if data[0] == _LEGACY_JSON:
            legacy = json.loads(data)
            doc = [legacy.get("s", {}), legacy.get("p", []), legacy.get("i", []),
                   legacy.get("r", [])]
        else:
            doc = msgpack.unpackb(data)
        if len(doc) == 4:  # before STATE_FORMAT 2: float seconds
            return cls._decode_seconds(doc)
        return cls(
            seen={k: Seen.unpack(v) for k, v in doc[0].items()},
            pending=[Pending.unpack(r) for r in doc[1]],
            inspections=[HeldInspection.unpack(r) for r in doc[2]],
            risk=doc[3],
        )

    @classmethod
    def _decode_seconds(cls, doc: list[Any]) -> VehicleState:
        return cls(
            seen={k: Seen.unpack_seconds(v) for k, v in doc[0].items()},
            pending=[Pending.unpack_seconds(r) for r in doc[1]],
            inspections=[HeldInspection.unpack_seconds(r) for r in doc[2]],
            risk=[[_ms(r[0]), *r[1:]] for r in doc[3]],
        )

    def expire(self, now: int, ttl: int) -> bool:
        """Forget everything older than ``ttl`` (wall clock; both in ms); True when something
        was dropped."""
        if self.risk and any(now - r[0] > ttl for r in self.risk):
            self.risk = [r for r in self.risk if now - r[0] <= ttl]
        # Nothing to drop is the common case: check first, rebuild only when needed (plain
        # loops: three generators per event cost more than the few items they look at).
        for v in self.seen.values():
            if now - v.seen_at > ttl:
                break
        else:
            for p in self.pending:
                if now - p.arrived > ttl:
                    break
            else:
                for i in self.inspections:
                    if now - i.arrived > ttl:
                        break
                else:
                    return False
        before = (len(self.seen), len(self.pending), len(self.inspections))
        self.seen = {k: v for k, v in self.seen.items() if now - v.seen_at <= ttl}
        self.pending = [p for p in self.pending if now - p.arrived <= ttl]
        self.inspections = [i for i in self.inspections if now - i.arrived <= ttl]
        return before != (len(self.seen), len(self.pending), len(self.inspections))
