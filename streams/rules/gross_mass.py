"""Discrepancy ``gross_mass_kg``: the weights differ beyond the tolerance.

Compared only when both sides weighed: a side without a weighbridge is not a discrepancy. The
tolerance is relative to the exit side's weight, the declared load the entry side checks against.
"""

from __future__ import annotations

from typing import Any

from streams.logic.model import Pending

FIELD = "gross_mass_kg"
SUMMARY = "both sides weighed and the weights differ by more than BORDERSYNC_MASS_TOLERANCE_PCT"


def compare(exit_: Pending, entry: Pending, tolerance_pct: float) -> tuple[object, object] | None:
    a, b = exit_.gross_mass_kg, entry.gross_mass_kg
    if a is not None and b is not None and abs(b - a) * 100.0 > tolerance_pct * a:
        return a, b
    return None


def differs(exit_event: dict[str, Any], entry_event: dict[str, Any], tolerance_pct: float) -> bool:
    a, b = exit_event.get(FIELD), entry_event.get(FIELD)
    return a is not None and b is not None and abs(b - a) > a * tolerance_pct / 100
