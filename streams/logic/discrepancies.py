"""Discrepancy rules between what the exit side and the entry side recorded.

Each field's rule is its own module in ``streams.rules`` (registered in ``streams.rules.RULES``);
this module keeps the historical entry point.
"""

from __future__ import annotations

from typing import Any

from streams.logic.model import Pending
from streams.rules import FIELD_RULES, find_discrepancies

FIELDS = tuple(r.field for r in FIELD_RULES)


def find(exit_: Pending, entry: Pending, mass_tolerance_pct: float) -> list[dict[str, Any]]:
    return find_discrepancies(exit_, entry, mass_tolerance_pct)
