"""Discrepancy rules between the exit and entry records of one vehicle."""

from __future__ import annotations

from typing import Any

from streams.logic.discrepancies import find
from streams.logic.model import Pending


def side(direction: str, **kw: Any) -> Pending:
    admin = "MK" if direction == "EXIT" else "AL"
    return Pending("e-" + direction, admin, "P", "c", direction, 0.0, 0.0, "TRUCK", **kw)


def fields(a: Pending, b: Pending, tol: float = 3.0) -> list[str]:
    return [d["field"] for d in find(a, b, tol)]


def test_mass_within_and_beyond_tolerance() -> None:
    assert fields(side("EXIT", gross_mass_kg=20000), side("ENTRY", gross_mass_kg=20500)) == []
    found = find(side("EXIT", gross_mass_kg=20000), side("ENTRY", gross_mass_kg=21000), 3.0)
    assert found == [{"field": "gross_mass_kg", "exit_value": "20000", "entry_value": "21000"}]
    assert fields(side("EXIT", gross_mass_kg=20000), side("ENTRY")) == []  # not weighed


def test_seals_and_containers_compare_as_sets() -> None:
    a = side("EXIT", seals=["B", "A"], container_ids=["MSCU1234567"])
    assert fields(a, side("ENTRY", seals=["A", "B"], container_ids=["MSCU1234567"])) == []
    found = find(a, side("ENTRY", seals=["A"], container_ids=["MSCU1234567"]), 3.0)
    assert found == [{"field": "seals", "exit_value": "A,B", "entry_value": "A"}]
    assert fields(a, side("ENTRY", seals=["A", "B"])) == ["container_ids"]


def test_trailer_plate_normalised_and_passengers() -> None:
    a = side("EXIT", trailer_plate="SK 9876 AB", passengers=2)
    assert fields(a, side("ENTRY", trailer_plate="ЅК-9876-АВ", passengers=2)) == []
    assert fields(a, side("ENTRY", trailer_plate="SK 9877 AB", passengers=3)) == [
        "trailer_plate", "passengers"]
    assert fields(a, side("ENTRY")) == ["trailer_plate"]  # the trailer vanished
