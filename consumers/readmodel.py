"""The read model of one partner agency, write side: share records -> idempotent Redis operations.

Pure logic (no Redis here): ``plan`` turns one decoded share record into a ``Write`` — an
idempotency key and a list of primitive operations that ``consumers.sink`` applies atomically per
batch. Every operation is keyed by the record's own id (``event_id``, ``exit|entry`` pair,
``alert_id``), so applying a record twice leaves the same state, and the sink additionally skips
records whose idempotency key it has already seen (so even counters never double count).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bordersync.border import SHARED_STREAMS, BorderConfig
from bordersync.events import InvalidEvent, format_time, parse_time
from bordersync.plates import normalise_plate
from bordersync.settings import Settings

# Operations understood by the sink's Lua script. Values are strings or numbers only.
Op = tuple[str | float, ...]


@dataclass(frozen=True)
class Keys:
    """Redis key layout of one agency; every key starts with the agency's prefix."""

    prefix: str

    @classmethod
    def of(cls, settings: Settings, agency: str) -> Keys:
        tenant = settings.topic_prefix.rstrip(".") or "bordersync"
        return cls(f"bs:{tenant}:{agency}:")

    def crossings(self, plate: str) -> str:
        return f"{self.prefix}v:{plate}:crossings"

    def inspections(self, plate: str) -> str:
        return f"{self.prefix}v:{plate}:inspections"

    def matched(self, plate: str) -> str:
        return f"{self.prefix}v:{plate}:matched"

    def alerts(self, plate: str) -> str:
        return f"{self.prefix}v:{plate}:alerts"

    def risk(self, plate: str) -> str:
        """Risk assessments of a vehicle (docs/risk.md), field = risk_id."""
        return f"{self.prefix}v:{plate}:risk"

    def alert(self, alert_id: str) -> str:
        return f"{self.prefix}alert:{alert_id}"

    def alerts_by_crossing(self, crossing: str) -> str:
        return f"{self.prefix}alerts-by-crossing:{crossing}"

    def enroute(self) -> str:
        return f"{self.prefix}enroute"

    def seen(self, idem: str) -> str:
        return f"{self.prefix}seen:{idem}"

    def stats(self) -> str:
        return f"{self.prefix}stats"

    def marker(self) -> str:
        return f"{self.prefix}marker"


@dataclass(frozen=True)
class AgencyContext:
    """What the read model needs to know about its agency: side, crossings and agreement."""

    name: str
    admin: str
    crossings: frozenset[str]
    fields: Mapping[str, frozenset[str]]
    post_crossing: Mapping[str, str]

    @classmethod
    def of(cls, border: BorderConfig, agency: str) -> AgencyContext:
        """Raises ``KeyError`` naming the known agencies when ``agency`` is unknown."""
        found = border.agency(agency)
        return cls(
            name=found.name,
            admin=found.admin,
            crossings=frozenset(border.agency_crossings(found)),
            fields={s: frozenset(f) for s, f in found.streams.items()},
            post_crossing={p: c.id for c in border.crossings for p in c.sides.values()},
        )


@dataclass(frozen=True)
class Write:
    stream: str
    plate: str
    idem: str
    ops: tuple[Op, ...]
    dropped_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejection:
    """A share record the read model will not store; ``reason`` is a metric label."""

    reason: str
    detail: str


@dataclass
class _Planner:
    ctx: AgencyContext
    keys: Keys
    now: float
    ttl: int
    ops: list[Op] = field(default_factory=list)

    def hset(self, key: str, fld: str, value: Mapping[str, Any], at: float) -> None:
        """Store one entry of a vehicle's hash, indexed by its time (``<key>|t``), and prune the
        entries older than the retention: a vehicle that keeps crossing would otherwise keep
        every journey for as long as it keeps coming (the key's TTL restarts at each write)."""
        self.ops.append(("hset", key, fld, dumps(value)))
        self.ops.append(("zadd", index_key(key), at, fld))
        self.ops.append(("hprune", key, self.now - self.ttl))

    def enroute_prune(self) -> None:
        self.ops.append(("zprune", self.keys.enroute(), self.now - self.ttl))


def index_key(key: str) -> str:
    """The time index of a vehicle hash: field -> epoch seconds of the entry's own time."""
    return f"{key}|t"


def _default(value: object) -> object:
    # Records may carry aware datetimes (Avro codec): store them in the one textual form.
    if isinstance(value, datetime):
        return format_time(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))


def epoch(value: Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 string or aware datetime; None when unusable."""
    if isinstance(value, datetime):
        return value.timestamp() if value.tzinfo else None
    try:
        return parse_time(value).timestamp()
    except InvalidEvent:
        return None


def content_id(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(dumps(record).encode()).hexdigest()[:32]


def plan(
    share: Mapping[str, Any], key: bytes | None, ctx: AgencyContext, keys: Keys, now: float, ttl: int
) -> Write | Rejection:
    """The idempotent writes for one decoded share record, or why it is not stored."""
    stream = share.get("stream")
    if stream not in SHARED_STREAMS:
        return Rejection("unknown_stream", f"unknown stream {stream!r}")
    if share.get("agency") != ctx.name:
        return Rejection("wrong_agency",
                         f"record addressed to {share.get('agency')!r}, this is {ctx.name!r}")
    allowed = ctx.fields.get(str(stream))
    if allowed is None:
        return Rejection("stream_not_in_agreement",
                         f"{ctx.name}'s agreement does not list stream {stream!r}")
    record = share.get("record")
    if not isinstance(record, Mapping):
        return Rejection("bad_record", f"'record' is {type(record).__name__}, expected an object")
    # The agreement is enforced here too, whatever the producer did: nothing else is stored.
    kept = {k: v for k, v in record.items() if k in allowed}
    dropped = tuple(sorted(set(record) - allowed))
    raw_plate = kept.get("plate")
    if isinstance(raw_plate, str) and raw_plate.strip():
        plate = normalise_plate(raw_plate)
    elif key:
        plate = normalise_plate(key.decode("utf-8", "replace"))
    else:
        return Rejection("no_plate", f"{stream} record without plate or key")
    envelope = {"stream": stream, "shared_at": share.get("shared_at"), "record": kept}
    p = _Planner(ctx, keys, now, ttl)
    if stream == "crossings":
        idem = _plan_crossing(p, plate, kept, envelope)
    elif stream == "inspections":
        idem = _id(kept, "event_id")
        p.hset(keys.inspections(plate), idem, envelope, _time(kept, "event_time", now))
    elif stream == "matched":
        idem = _plan_matched(p, plate, kept, envelope)
    elif stream == "risk":
        idem = _id(kept, "risk_id")
        p.hset(keys.risk(plate), idem, envelope, _time(kept, "event_time", now))
    else:
        idem = _plan_alert(p, plate, kept, envelope)
    stats: Op = ("hincrby", keys.stats(), str(stream), 1.0)
    return Write(str(stream), plate, f"{stream}:{idem}", (*p.ops, stats), dropped)


def _id(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    return value if isinstance(value, str) and value else content_id(record)


def _time(record: Mapping[str, Any], name: str, fallback: float) -> float:
    found = epoch(record.get(name))
    return fallback if found is None else found


def _plan_crossing(p: _Planner, plate: str, rec: Mapping[str, Any],
                   envelope: dict[str, Any]) -> str:
    idem = _id(rec, "event_id")
    crossing = p.ctx.post_crossing.get(str(rec.get("post")))
    # Derived from the agreed ``post``; kept beside the record, never inside it.
    at = _time(rec, "event_time", p.now)
    p.hset(p.keys.crossings(plate), idem, {**envelope, "crossing": crossing}, at)
    ours = rec.get("admin") == p.ctx.admin
    if rec.get("direction") == "EXIT" and not ours and crossing in p.ctx.crossings:
        p.ops.append(("zadd", p.keys.enroute(), at, plate))
    elif rec.get("direction") == "ENTRY" and ours:
        p.ops.append(("zrem_if_le", p.keys.enroute(), plate, at))
    p.enroute_prune()
    return idem


def _plan_matched(p: _Planner, plate: str, rec: Mapping[str, Any],
                  envelope: dict[str, Any]) -> str:
    pair = f"{rec.get('exit_event_id')}|{rec.get('entry_event_id')}"
    idem = pair if "exit_event_id" in rec and "entry_event_id" in rec else content_id(rec)
    p.hset(p.keys.matched(plate), idem, envelope,
           _time(rec, "entry_time", _time(rec, "exit_time", p.now)))
    for insp in rec.get("inspections") or []:
        if isinstance(insp, Mapping):
            inner = {"stream": "matched", "shared_at": envelope["shared_at"], "record": dict(insp)}
            p.hset(p.keys.inspections(plate), _id(insp, "event_id"), inner,
                   _time(insp, "event_time", p.now))
    if rec.get("entry_admin") == p.ctx.admin:
        at = _time(rec, "entry_time", _time(rec, "exit_time", p.now))
        p.ops.append(("zrem_if_le", p.keys.enroute(), plate, at))
    return idem


def _plan_alert(p: _Planner, plate: str, rec: Mapping[str, Any],
                envelope: dict[str, Any]) -> str:
    idem = _id(rec, "alert_id")
    p.hset(p.keys.alerts(plate), idem, envelope, _time(rec, "raised_at", p.now))
    p.ops.append(("set", p.keys.alert(idem), dumps(envelope)))
    crossing = str(rec.get("crossing") or "unknown")
    by_crossing = p.keys.alerts_by_crossing(crossing)
    p.ops.append(("zadd", by_crossing, _time(rec, "raised_at", p.now), idem))
    p.ops.append(("zprune", by_crossing, p.now - p.ttl))
    return idem
