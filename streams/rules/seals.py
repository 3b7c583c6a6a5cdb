"""Discrepancy ``seals``: the seal sets differ; "not recorded" reads as no seal, because a seal
that vanishes in no-man's-land is exactly what officers must see."""

from __future__ import annotations

from typing import Any

from streams.logic.model import Pending
from streams.rules.base import set_text

FIELD = "seals"
SUMMARY = "the sets of seal numbers differ (a missing list counts as no seal)"


def compare(exit_: Pending, entry: Pending, _tolerance_pct: float) -> tuple[object, object] | None:
    if set(exit_.seals or ()) != set(entry.seals or ()):
        return set_text(exit_.seals), set_text(entry.seals)
    return None


def differs(exit_event: dict[str, Any], entry_event: dict[str, Any], _tolerance_pct: float) -> bool:
    return bool(exit_event.get(FIELD) != entry_event.get(FIELD))
