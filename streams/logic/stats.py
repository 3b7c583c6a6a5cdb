"""Tumbling event-time windows per crossing and direction.

Input is a stream of small facts (an event was forwarded, a pair matched with its transit time,
an event went unmatched, a crossing event's dwell time at its post: ``streams.logic.dwell``).
A window is emitted once the wall clock passes its end plus the lateness allowance, and emitted
again (same key and window_start: an upsert) if a late fact changes it while it is still retained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from streams.logic.model import from_epoch_ms

EVENT, MATCHED, UNMATCHED, DWELL = "event", "matched", "unmatched", "dwell"


class Fact(NamedTuple):
    """One stats fact. Immutable; a named tuple because the processor builds two per event and
    a frozen dataclass's ``__init__`` costs an ``object.__setattr__`` a field."""

    crossing: str
    direction: str
    t: float  # event time, epoch seconds
    kind: str
    transit: float | None = None  # seconds: transit (MATCHED) or dwell (DWELL)
    event_id: str | None = None  # DWELL: the crossing event the dwell belongs to

    def pack(self) -> list[Any]:
        return list(fact_row(*self))

    @classmethod
    def unpack(cls, row: list[Any]) -> Fact:
        return cls(*row[:6])


# A fact as the processor writes it: a row of a stats-facts record, a JSON array of five fields,
# six with the event id when there is one (rows of five came first). The processor builds rows
# directly (tuple displays on its hot path, ``fact_row`` elsewhere): no Fact object, no packing
# pass, two an event. ``Fact.unpack`` reads them back.
FactRow = tuple[Any, ...]


def fact_row(crossing: str, direction: str, t: float, kind: str, transit: float | None = None,
             event_id: str | None = None) -> FactRow:
    """The row of one fact (its layout: ``FactRow``)."""
    if event_id is None:
        return (crossing, direction, t, kind, transit)
    return (crossing, direction, t, kind, transit, event_id)


@dataclass
class Window:
    count: int = 0
    matched: int = 0
    unmatched: int = 0
    transits: list[float] = field(default_factory=list)
    # Per crossing event id, the largest candidate seen: later inspections can only widen a
    # stay, and a re-sent fact (reprocessed batch) does not count twice.
    dwells: dict[str, float] = field(default_factory=dict)
    dirty: bool = True


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


class StatsWindows:
    def __init__(self, size_s: int = 300, lateness_s: float = 300,
                 retention_s: float = 3 * 3600) -> None:
        self.size = size_s
        self.lateness = lateness_s
        self.retention = retention_s
        self.windows: dict[tuple[str, str, int], Window] = {}

    def add(self, fact: Fact) -> None:
        start = int(fact.t // self.size) * self.size
        window = self.windows.setdefault((fact.crossing, fact.direction, start), Window())
        window.dirty = True
        if fact.kind == EVENT:
            window.count += 1
        elif fact.kind == MATCHED:
            window.matched += 1
            if fact.transit is not None:
                window.transits.append(fact.transit)
        elif fact.kind == UNMATCHED:
            window.unmatched += 1
        elif fact.kind == DWELL and fact.transit is not None and fact.event_id is not None:
            known = window.dwells.get(fact.event_id)
            if known is None or fact.transit > known:
                window.dwells[fact.event_id] = fact.transit

    def due(self, now: float) -> list[dict[str, Any]]:
        """Records of closed windows that changed since they were last emitted."""
        out: list[dict[str, Any]] = []
        for key in sorted(self.windows):
            crossing, direction, start = key
            window = self.windows[key]
            end = start + self.size
            if now < end + self.lateness:
                continue
            if window.dirty:
                window.dirty = False
                out.append(record(crossing, direction, start, end, window))
            if now > end + self.lateness + self.retention:
                del self.windows[key]
        return out


def record(crossing: str, direction: str, start: int, end: int, w: Window) -> dict[str, Any]:
    dwells = list(w.dwells.values())
    return {
        "crossing": crossing, "direction": direction,
        "window_start": from_epoch_ms(start * 1000), "window_end": from_epoch_ms(end * 1000),
        "count": w.count,
        "transit_p50_seconds": percentile(w.transits, 50),
        "transit_p95_seconds": percentile(w.transits, 95),
        "transit_max_seconds": max(w.transits) if w.transits else None,
        "matched": w.matched, "unmatched": w.unmatched,
        "dwell_p50_seconds": percentile(dwells, 50),
        "dwell_p95_seconds": percentile(dwells, 95),
        "dwell_max_seconds": max(dwells) if dwells else None,
        "dwell_count": len(dwells),
    }
