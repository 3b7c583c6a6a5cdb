"""Discrepancy rules between what the exit side and the entry side recorded.

Scalars (mass, passengers) are compared only when both sides recorded them: a side that does not
weigh or count is not a discrepancy. Sets (seals, containers) and the trailer plate are compared
with "not recorded" read as empty: a seal or trailer that vanishes in no-man's-land is exactly what
officers must see.
"""

from __future__ import annotations

from typing import Any

from bordersync.plates import normalise_plate
from streams.logic.model import Pending

FIELDS = ("gross_mass_kg", "seals", "trailer_plate", "container_ids", "passengers")


def _set_text(values: list[str] | None) -> str | None:
    return ",".join(sorted(set(values))) if values else None


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def find(exit_: Pending, entry: Pending, mass_tolerance_pct: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, a: object, b: object) -> None:
        out.append({"field": name, "exit_value": _str(a), "entry_value": _str(b)})

    a_mass, b_mass = exit_.gross_mass_kg, entry.gross_mass_kg
    # Tolerance relative to the exit side's weight: the declared load the entry side checks against.
    if (a_mass is not None and b_mass is not None
            and abs(b_mass - a_mass) * 100.0 > mass_tolerance_pct * a_mass):
        add("gross_mass_kg", a_mass, b_mass)
    if set(exit_.seals or ()) != set(entry.seals or ()):
        add("seals", _set_text(exit_.seals), _set_text(entry.seals))
    a_trailer = normalise_plate(exit_.trailer_plate) if exit_.trailer_plate else None
    b_trailer = normalise_plate(entry.trailer_plate) if entry.trailer_plate else None
    if a_trailer != b_trailer:
        add("trailer_plate", exit_.trailer_plate, entry.trailer_plate)
    if set(exit_.container_ids or ()) != set(entry.container_ids or ()):
        add("container_ids", _set_text(exit_.container_ids), _set_text(entry.container_ids))
    if (exit_.passengers is not None and entry.passengers is not None
            and exit_.passengers != entry.passengers):
        add("passengers", exit_.passengers, entry.passengers)
    return out
