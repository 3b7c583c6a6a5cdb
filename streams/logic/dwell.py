"""Dwell time at a post: how long a vehicle spent in controls there, from event times alone.

- EXIT side: EXIT event time minus the earliest inspection the exit administration recorded for
  the vehicle at that post before it (within the crossing's window).
- ENTRY side: the latest inspection the entry administration recorded at that post after the
  ENTRY (within the window) minus the ENTRY event time.

A crossing without such an inspection has no dwell (it is not a zero). The first and the last
control are what terminals report; the queue before the booth is not observable (no event marks
joining it), so this is time *in controls*, not waiting time. Inspections and crossings arrive in
any order, so each arrival yields a candidate for one crossing event and the stats window keeps the
largest per event id (``streams.logic.stats``): the result is the same whatever the order.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.logic.model import HeldInspection, Seen


def _offset(direction: str, crossing_t: int, inspection_t: int) -> int:
    """Milliseconds the control lies inside the post's stay (negative: outside it)."""
    return crossing_t - inspection_t if direction == "EXIT" else inspection_t - crossing_t


def for_crossing(direction: str, admin: str, crossing: str, t: int,
                 held: Iterable[HeldInspection], window_ms: int) -> int | None:
    """Dwell (ms) of a crossing event from the inspections already held for the vehicle."""
    best: int | None = None
    for i in held:
        if i.admin != admin or i.crossing != crossing:
            continue
        offset = _offset(direction, t, i.t)
        if 0 <= offset <= window_ms and (best is None or offset > best):
            best = offset
    return best


def for_inspection(post: str, t: int, seen: dict[str, Seen],
                   window_ms: int) -> tuple[str, str, int, int] | None:
    """(event id, direction, event time, dwell), times in ms, of the crossing event at ``post`` that an
    inspection at ``t`` belongs to: the nearest EXIT at or after it, or else the nearest ENTRY at
    or before it, within the window. None when the vehicle has no such crossing yet.

    ``seen`` holds the forwarded crossings (``sig`` = "post|direction"; physical duplicates and
    inspections have an empty ``sig``).
    """
    best: tuple[tuple[int, int], str, str, int] | None = None
    for event_id, s in seen.items():
        at, _, direction = s.sig.partition("|")
        if at != post or direction not in ("EXIT", "ENTRY"):
            continue
        offset = _offset(direction, s.t, t)
        if not 0 <= offset <= window_ms:
            continue
        # Exit controls precede the exit: prefer that reading, then the nearest crossing.
        rank = (0 if direction == "EXIT" else 1, offset)
        if best is None or rank < best[0]:
            best = (rank, event_id, direction, s.t)
    if best is None:
        return None
    rank, event_id, direction, crossing_t = best
    return event_id, direction, crossing_t, rank[1]
