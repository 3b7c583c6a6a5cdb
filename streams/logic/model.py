"""Compact per-vehicle state: only what deduplication, matching and discrepancy rules need.

One entry per normalised plate, stored as positional msgpack arrays (no field names) so a pending
vehicle costs a few hundred bytes in the table and its changelog. msgpack rather than the JSON of
before issue 19: cheaper to encode and decode, and smaller. State written by earlier versions
(a JSON object, always starting with ``{``, which no msgpack array does) still decodes, so a
running system upgrades from its changelog without losing pending vehicles; it is rewritten as
msgpack the next time the vehicle changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgpack

_LEGACY_JSON = b"{"[0]  # the first byte of every state written before msgpack
MAX_CONFLICTS = 8  # conflicting versions remembered per event id (a terminal gone mad: bounded)


_new = object.__new__


def epoch(value: datetime) -> float:
    return value.timestamp()


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


@dataclass(slots=True)
class Pending:
    """A forwarded crossing still waiting for its partner on the other side."""

    event_id: str
    admin: str
    post: str
    crossing: str
    direction: str
    t: float  # event time, epoch seconds
    arrived: float  # wall clock when the worker first saw it
    vehicle_type: str
    gross_mass_kg: int | None = None
    seals: list[str] | None = None
    trailer_plate: str | None = None
    container_ids: list[str] | None = None
    passengers: int | None = None
    alerted: bool = False  # UNMATCHED_* already raised
    # The event time as the event gave it, while it is in memory (not in the state's encoding):
    # ``from_epoch(t)`` would give the same datetime, at a cost on every match.
    time: datetime | None = field(default=None, compare=False, repr=False)
    # Its forwarded ``crossings`` record's field chunks, spliced from the input, while in memory:
    # the matched record takes its fields from them (``matching.MATCHED_FROM``).
    chunks: list[bytes] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_event(cls, event: dict[str, Any], crossing: str, now: float,
                   t: float | None = None, time: datetime | None = None,
                   chunks: list[bytes] | None = None) -> Pending:
        """``t``: the event time in epoch seconds when the caller has it already; ``time``,
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
        new.t = epoch(event["event_time"]) if t is None else t
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


@dataclass(slots=True)
class HeldInspection:
    """An inspection kept until the vehicle's EXIT/ENTRY pair is matched (mutual recognition)."""

    event_id: str
    admin: str
    crossing: str
    inspection_type: str
    result: str
    t: float
    arrived: float
    findings: str | None = None
    seals_applied: list[str] | None = None
    measured_mass_kg: int | None = None

    @classmethod
    def from_event(cls, event: dict[str, Any], crossing: str, now: float) -> HeldInspection:
        return cls(
            event_id=event["event_id"], admin=event["admin"], crossing=crossing,
            inspection_type=event["inspection_type"], result=event["result"],
            t=epoch(event["event_time"]), arrived=now, findings=event.get("findings"),
            seals_applied=event.get("seals_applied"), measured_mass_kg=event.get("measured_mass_kg"),
        )

    def pack(self) -> list[Any]:
        return [self.event_id, self.admin, self.crossing, self.inspection_type, self.result, self.t,
                self.arrived, self.findings, self.seals_applied, self.measured_mass_kg]

    @classmethod
    def unpack(cls, row: list[Any]) -> HeldInspection:
        return cls(*row)

    def as_record(self) -> dict[str, Any]:
        """The shape of one entry of ``matched.inspections`` (docs/records.md)."""
        return {
            "event_id": self.event_id, "admin": self.admin, "inspection_type": self.inspection_type,
            "result": self.result, "event_time": from_epoch(self.t), "findings": self.findings,
            "seals_applied": self.seals_applied, "measured_mass_kg": self.measured_mass_kg,
        }


@dataclass(slots=True)
class Seen:
    """What deduplication remembers of one accepted event id."""

    digest: str  # content hash prefix
    seen_at: float  # wall clock, drives the TTL
    t: float  # event time
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


@dataclass(slots=True)
class VehicleState:
    seen: dict[str, Seen] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)
    inspections: list[HeldInspection] = field(default_factory=list)
    # Risk history [t, code, ...] (streams.risk.stage): kept with the vehicle's other state, so
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
               [i.pack() for i in self.inspections] if self.inspections else [], self.risk]
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
        return cls(
            seen={k: Seen.unpack(v) for k, v in doc[0].items()},
            pending=[Pending.unpack(r) for r in doc[1]],
            inspections=[HeldInspection.unpack(r) for r in doc[2]],
            risk=doc[3],
        )

    def expire(self, now: float, ttl: float) -> bool:
        """Forget everything older than ``ttl`` (wall clock); True when something was dropped."""
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
