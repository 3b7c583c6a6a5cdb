"""The simulator's data model: observations (what happened), copies (what terminals sent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class Mess:
    """How often the real world goes wrong (probabilities, per event unless noted)."""

    exact_resend: float = 0.03
    conflicting_resend: float = 0.01  # crossings only
    physical_duplicate: float = 0.02  # crossings only: a second terminal logs the same passage
    late_arrival: float = 0.05  # terminal offline for minutes, then replays
    unmatched_exit: float = 0.02  # per vehicle: never arrives on the other side
    unmatched_entry: float = 0.02  # per vehicle: the exit side never recorded it
    plate_typo: float = 0.01  # per vehicle: the entry officer mistypes a digit
    plate_variant: float = 0.15  # spacing / case / hyphen differences
    cyrillic: float = 0.12  # officers on MK / RS / BG keyboards
    mass_discrepancy: float = 0.03  # per truck
    seal_discrepancy: float = 0.02  # per truck
    passenger_discrepancy: float = 0.03  # per bus
    truck_inspected: float = 0.35
    car_inspected: float = 0.04
    entry_inspected: float = 0.04  # per truck, by the entry side after entry
    hold: float = 0.04  # of inspections
    seized: float = 0.01  # of inspections; a seized vehicle does not cross
    # per vehicle: carries the plate of the vehicle generated before it (a cloned plate) and
    # passes another crossing within 20 min of it (IMPOSSIBLE_TRANSIT); 0 draws nothing, so
    # every seed's traffic is the same as before this option existed
    plate_clone: float = 0.0
    # Each post's clock is off by up to this much; below half the shortest transit (2 min) so an
    # entry is never stamped before its exit.
    max_skew_seconds: float = 45.0


@dataclass
class Copy:
    """One record a terminal sent: the event (JSON-ready) and when it reached the broker."""

    event: dict[str, Any]
    arrival: timedelta
    kind: str = "original"  # original | exact | conflicting | physical


@dataclass
class Observation:
    """One real-world fact (a passage or a control) and every record sent about it.

    ``ids`` holds the original id first, then ids given by other terminals that logged the same
    passage (physical duplicates). The streams forward the id whose first copy arrives first.
    """

    role: str  # exit | entry | exit_inspection | entry_inspection
    copies: list[Copy] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    @property
    def event(self) -> dict[str, Any]:
        return self.copies[0].event


@dataclass
class Vehicle:
    crossing: str
    plate: str
    exit: Observation | None = None
    entry: Observation | None = None
    inspections: list[Observation] = field(default_factory=list)
    typo: bool = False
