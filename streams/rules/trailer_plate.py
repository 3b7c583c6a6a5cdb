"""Discrepancy ``trailer_plate``: the trailers differ, compared normalised like vehicle plates; a
trailer recorded on one side only is a discrepancy (a trailer swapped or dropped on the way)."""

from __future__ import annotations

from typing import Any

from bordersync.plates import normalise_plate
from streams.logic.model import Pending

FIELD = "trailer_plate"
SUMMARY = "the normalised trailer plates differ, or only one side recorded a trailer"


def compare(exit_: Pending, entry: Pending, _tolerance_pct: float) -> tuple[object, object] | None:
    a = normalise_plate(exit_.trailer_plate) if exit_.trailer_plate else None
    b = normalise_plate(entry.trailer_plate) if entry.trailer_plate else None
    return None if a == b else (exit_.trailer_plate, entry.trailer_plate)


def differs(exit_event: dict[str, Any], entry_event: dict[str, Any], _tolerance_pct: float) -> bool:
    return bool(exit_event.get(FIELD) != entry_event.get(FIELD))
