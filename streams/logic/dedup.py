"""Deduplication: exact re-sends, conflicting re-sends and the same crossing logged twice."""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from typing import Any

from bordersync.events import to_json_dict
from streams.logic.model import Seen, VehicleState, epoch


class Verdict(Enum):
    NEW = "new"
    EXACT = "exact"  # same id, same content: dropped silently
    CONFLICTING = "conflicting"  # same id, different content: alert, not forwarded
    PHYSICAL = "physical"  # other id, same admin/post/direction/plate within the window


# One encoder for every digest: json.dumps would build it (and check its options) per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_digest(event: dict[str, Any]) -> str:
    """A stable hash of the validated event (canonical JSON), independent of the wire codec."""
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
