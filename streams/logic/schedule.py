"""When a vehicle's state next needs the sweep: pure, so the engines can index it by time.

Sweeping every vehicle on every tick costs O(all state) each time (a 5,000-vehicle scan stalled
the batch engine ~100 ms, which shows up in p99 latency; a backlog of a million would take tens
of seconds a tick). The processor reports each touched vehicle's next due time instead, and the
batch engine keeps a time index (``streams.due``) so a tick looks only at what is due.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.logic import matching
from streams.logic.model import VehicleState

_NEVER = 1 << 62  # nothing to sweep for: later than any time in ms (year 146 million)


def next_due(st: VehicleState, windows: Mapping[str, int], default_window: int,
             grace: int, ttl: int) -> int | None:
    """Earliest wall-clock time (epoch ms; the arguments in ms too) at which ``sweep`` would
    change ``st``: a pending event's UNMATCHED deadline or the TTL expiry of anything
    remembered. None: nothing left."""
    # Plain loops, not generators: this runs for every vehicle a batch changes, and a
    # generator's frame cost more than the one or two items each looks at. A running minimum,
    # no list: the TTL is added once, to the earliest time anything was remembered (adding a
    # constant keeps the order, so the minimum is the same).
    due = remembered = _NEVER
    for p in st.pending:
        if not p.alerted:
            deadline = matching.deadline(p, windows.get(p.crossing, default_window), grace)
            if deadline < due:
                due = deadline
        if p.arrived < remembered:
            remembered = p.arrived
    for s in st.seen.values():
        if s.seen_at < remembered:
            remembered = s.seen_at
    for i in st.inspections:
        if i.arrived < remembered:
            remembered = i.arrived
    if remembered + ttl < due:  # never when nothing is remembered (_NEVER + ttl)
        due = remembered + ttl
    return None if due == _NEVER else due


def pending_crossings(st: VehicleState) -> tuple[str, ...]:
    """Crossing of every pending event (the pending-vehicles gauge counts these)."""
    return tuple([p.crossing for p in st.pending]) if st.pending else ()
