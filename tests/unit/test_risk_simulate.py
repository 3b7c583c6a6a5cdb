"""The simulator's risk scenario: valid events, truth for every truck, deterministic; and the
measurement harness runs end to end (its figures are printed, never asserted)."""

from __future__ import annotations

from datetime import UTC, datetime

from bordersync.border import load_border_config
from bordersync.events import validate
from bordersync.plates import normalise_plate
from tooling.riskmeasure import measure
from tooling.simulate.risk import simulate_risk

START = datetime(2026, 11, 20, tzinfo=UTC)


def test_scenario_is_valid_deterministic_and_has_truth() -> None:
    a, b = simulate_risk(3, 300, START), simulate_risk(3, 300, START)
    assert a.events == b.events and a.truth == b.truth
    border = load_border_config()
    for e in a.events:
        validate(e, border)
    assert len(a.truth) == 300
    assert {normalise_plate(e["plate"]) for e in a.events} == set(a.truth)
    assert any(t["carries"] for t in a.truth.values()) and any(t["aeo"] for t in a.truth.values())
    assert not any(t["carries"] and t["aeo"] for t in a.truth.values())
    spelled = [e["plate"] for e in a.events if e["admin"] == "MK"]
    assert any(any("\u0400" <= ch <= "\u04ff" for ch in p) for p in spelled)  # Cyrillic typed


def test_measurement_runs_on_a_small_scenario() -> None:
    figures = measure(200, 5, repeat=1)
    assert figures["events"] > 400 and figures["report"]["trips"] >= 200
    assert figures["carriers_in_green"] == 0  # carriers are never AEO in the scenario
