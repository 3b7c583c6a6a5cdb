"""Discrepancy ``passengers``: both sides counted and the counts differ (a side that does not
count is not a discrepancy)."""

from __future__ import annotations

from typing import Any

from streams.logic.model import Pending

FIELD = "passengers"
SUMMARY = "both sides counted passengers and the counts differ"


def compare(exit_: Pending, entry: Pending, _tolerance_pct: float) -> tuple[object, object] | None:
    a, b = exit_.passengers, entry.passengers
    return (a, b) if a is not None and b is not None and a != b else None


def differs(exit_event: dict[str, Any], entry_event: dict[str, Any], _tolerance_pct: float) -> bool:
    return bool(exit_event.get(FIELD) != entry_event.get(FIELD))
