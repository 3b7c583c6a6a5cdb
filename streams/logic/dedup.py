"""Deduplication: exact re-sends, conflicting re-sends and the same crossing logged twice."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import Enum
from json.encoder import encode_basestring as _escape  # the encoder's (C) escaping, ensure_ascii off
from typing import Any

from bordersync.events import format_time, to_json_dict
from streams.logic.model import Seen, VehicleState, epoch


class Verdict(Enum):
    NEW = "new"
    EXACT = "exact"  # same id, same content: dropped silently
    CONFLICTING = "conflicting"  # same id, different content: alert, not forwarded
    PHYSICAL = "physical"  # other id, same admin/post/direction/plate within the window


# One encoder for every digest: json.dumps would build it (and check its options) per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_ORDER: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}  # field order -> sorted, escaped
_ORDERS_KEPT = 4096


def content_digest(event: dict[str, Any]) -> str:
    """A stable hash of the validated event (canonical JSON), independent of the wire codec.

    The digest is stored in every vehicle's state, so it must never change: the canonical text
    is built here from the validated event's few value types (strings, integers, lists of
    strings, the UTC event time) with the JSON encoder's own string escaping, cheaper than
    ``_CANONICAL`` sorting and walking a new dict per event; any other value takes the encoder
    (a property test pins the two as equal).
    """
    fields = _ORDER.get(tuple(event))
    if fields is None:
        fields = tuple((k, _escape(k)) for k in sorted(event))
        if len(_ORDER) < _ORDERS_KEPT:  # field orders come from the codec: a handful
            _ORDER[tuple(event)] = fields
    parts = []
    for name, quoted in fields:
        value = event[name]
        kind = type(value)
        if kind is str:
            parts.append(f"{quoted}:{_escape(value)}")
        elif kind is int:
            parts.append(f"{quoted}:{value!r}")
        elif kind is list and all(type(v) is str for v in value):
            parts.append(f"{quoted}:[{','.join(map(_escape, value))}]")
        elif kind is datetime and value.tzinfo is UTC:
            parts.append(f"{quoted}:{_escape(format_time(value))}")
        else:
            return _slow_digest(event)
    return hashlib.sha256(f"{{{','.join(parts)}}}".encode()).hexdigest()[:16]


def _slow_digest(event: dict[str, Any]) -> str:
    canonical = _CANONICAL.encode(to_json_dict(event))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def physical_signature(event: dict[str, Any]) -> str:
    # The post implies the administration, and the state is already per normalised plate.
    if event["kind"] != "crossing":
        return ""
    return f"{event['post']}|{event['direction']}"


def classify(state: VehicleState, event: dict[str, Any], digest: str,
             duplicate_window_s: float) -> tuple[Verdict, str | None]:
    """The verdict, and for PHYSICAL the id of the crossing already forwarded."""
    known = state.seen.get(event["event_id"])
    if known is not None:
        return (Verdict.EXACT if known.digest == digest else Verdict.CONFLICTING), None
    sig = physical_signature(event)
    if sig:
        t = epoch(event["event_time"])
        for other_id, seen in state.seen.items():
            if seen.sig == sig and abs(seen.t - t) <= duplicate_window_s:
                return Verdict.PHYSICAL, other_id
    return Verdict.NEW, None


def remember(state: VehicleState, event: dict[str, Any], digest: str, now: float,
             anchor: bool = True) -> None:
    """Record an accepted id; ``anchor=False`` for a physical duplicate, which must not itself
    start a new 10-minute window (the forwarded crossing is the anchor)."""
    sig = physical_signature(event) if anchor else ""
    state.seen[event["event_id"]] = Seen(digest, now, epoch(event["event_time"]), sig)
