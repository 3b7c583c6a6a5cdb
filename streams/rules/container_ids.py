"""Discrepancy ``container_ids``: the container sets differ ("not recorded" reads as none)."""

from __future__ import annotations

from typing import Any

from streams.logic.model import Pending
from streams.rules.base import set_text

FIELD = "container_ids"
SUMMARY = "the sets of container ids differ (a missing list counts as no container)"


def compare(exit_: Pending, entry: Pending, _tolerance_pct: float) -> tuple[object, object] | None:
    if set(exit_.container_ids or ()) != set(entry.container_ids or ()):
        return set_text(exit_.container_ids), set_text(entry.container_ids)
    return None


def differs(exit_event: dict[str, Any], entry_event: dict[str, Any], _tolerance_pct: float) -> bool:
    return bool(exit_event.get(FIELD) != entry_event.get(FIELD))
