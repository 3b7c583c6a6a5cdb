"""EXIT/ENTRY pairing for one vehicle (one normalised plate), independent of Faust.

Rules: the partner has the opposite direction, the other administration, the same crossing, and
an event time within the crossing's window (either order: clocks on the two sides drift, so an
ENTRY stamped a little before its EXIT still pairs). Among several candidates the one with a
non-negative transit time wins, then the closest in time. A matched event leaves the pending list,
so each event is in at most one pair.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streams.logic.model import HeldInspection, Pending, VehicleState, from_epoch_ms

# The fields of ``matched`` that are a field of the exit's (0) or the entry's (1) ``crossings``
# record, as they are: spliced from those records' chunks (bordersync.wire.splicing.PairSplicer).
MATCHED_FROM: dict[str, tuple[int, str]] = {
    "exit_event_id": (0, "event_id"), "entry_event_id": (1, "event_id"),
    "crossing": (0, "crossing"), "plate": (0, "plate_normalised"),
    "exit_admin": (0, "admin"), "entry_admin": (1, "admin"),
    "exit_post": (0, "post"), "entry_post": (1, "post"),
    "exit_time": (0, "event_time"), "entry_time": (1, "event_time"),
    "vehicle_type": (0, "vehicle_type"),
}


def find_partner(pending: list[Pending], new: Pending, window_ms: int) -> int | None:
    best_index: int | None = None
    best_late, best_gap = False, 0  # the rank (negative transit, |transit|) of best_index
    for index, other in enumerate(pending):
        if (other.direction == new.direction or other.crossing != new.crossing
                or other.admin == new.admin):
            continue
        transit = new.t - other.t if other.direction == "EXIT" else other.t - new.t
        gap = abs(transit)
        if gap > window_ms:
            continue
        late = transit < 0
        # (late, gap) < (best_late, best_gap), without building the two tuples
        if best_index is None or late < best_late or (late == best_late and gap < best_gap):
            best_index, best_late, best_gap = index, late, gap
    return best_index


def deadline(p: Pending, window_ms: int, grace_ms: int) -> int:
    """Wall-clock time (epoch ms) after which ``p`` without a partner is UNMATCHED.

    Event time + window + grace; an event that itself arrives late (a post replaying its backlog)
    gets the grace from its arrival, so its partner in the same backlog is not called missing.
    """
    return max(p.t + window_ms, p.arrived) + grace_ms


def exit_inspections(held: list[HeldInspection], exit_: Pending,
                     window_ms: int) -> list[HeldInspection]:
    """Inspections the exit side recorded for this vehicle around its exit."""
    return [
        i for i in held
        if i.admin == exit_.admin and i.crossing == exit_.crossing
        and abs(i.t - exit_.t) <= window_ms
    ]


def take_exit_inspections(st: VehicleState, exit_: Pending,
                          window_ms: int) -> list[HeldInspection]:
    """``exit_inspections`` of the vehicle, no longer held: they go with the matched pair."""
    held = exit_inspections(st.inspections, exit_, window_ms)
    if held:
        attached = {i.event_id for i in held}
        st.inspections = [i for i in st.inspections if i.event_id not in attached]
    return held


def _held_order(i: HeldInspection) -> tuple[int, str]:
    return i.t, i.event_id


def matched_record(exit_: Pending, entry: Pending, plate: str,
                   discrepancies: list[dict[str, Any]], inspections: list[HeldInspection],
                   late: bool, now: datetime) -> dict[str, Any]:
    """Positional: the processor builds one per match, and keywords cost a name match each."""
    # Whole milliseconds divided once: the float nearest the exact seconds, which is what
    # round(entry_s - exit_s, 3) of float seconds gave, with no trip through decimal strings
    transit = (entry.t - exit_.t) / 1000
    return {
        "exit_event_id": exit_.event_id,
        "entry_event_id": entry.event_id,
        "crossing": exit_.crossing,
        "plate": plate,
        "exit_admin": exit_.admin,
        "entry_admin": entry.admin,
        "exit_post": exit_.post,
        "entry_post": entry.post,
        "exit_time": from_epoch_ms(exit_.t) if exit_.time is None else exit_.time,
        "entry_time": from_epoch_ms(entry.t) if entry.time is None else entry.time,
        "transit_seconds": transit,
        "late": late,
        "vehicle_type": exit_.vehicle_type,
        "discrepancies": discrepancies,
        "inspections": [i.as_record() for i in sorted(inspections, key=_held_order)]
        if inspections else [],
        "matched_at": now,
    }
