"""The simulator: deterministic, valid, messy, and its truth agrees with an independent oracle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from bordersync.border import load_border_config
from bordersync.events import InvalidEvent, parse_time, validate
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from streams.rules import alert_types
from tooling.simulate import Mess, Simulation, default_start, simulate
from tooling.simulate.truth import discrepancy_fields

START = datetime(2026, 11, 20, tzinfo=UTC)
BORDER = load_border_config()
SETTINGS = Settings()


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(11, 3000, START, invalid=5)


def test_same_seed_same_output_and_other_seed_differs() -> None:
    a, b = simulate(5, 300, START), simulate(5, 300, START)
    assert a.lines() == b.lines()
    assert json.dumps(a.truth) == json.dumps(b.truth)
    assert simulate(6, 300, START).lines() != a.lines()


def test_every_event_is_valid_and_invalid_lines_are_where_truth_says(sim: Simulation) -> None:
    for event in sim.events:
        validate(event, BORDER)
    lines = sim.lines()
    assert len(lines) == sim.truth["lines"] == len(sim.events) + 5
    for bad in sim.truth["invalid_lines"]:
        text = lines[bad["line"] - 1]
        with pytest.raises((InvalidEvent, ValueError)):
            validate(json.loads(text), BORDER)


def test_twenty_thousand_events_in_one_call() -> None:
    big = simulate(1, 8300, START)
    assert len(big.events) >= 20_000
    assert len(big.truth["pairs"]) > 7000


def test_the_mess_is_all_there(sim: Simulation) -> None:
    t = sim.truth
    # The simulator's mess raises these; every alert type it raises is a rule of the table.
    assert {"CONFLICTING_DUPLICATE", "DISCREPANCY", "INSPECTION_HOLD", "UNMATCHED_ENTRY",
            "UNMATCHED_EXIT"} <= set(t["alert_counts"]) <= set(alert_types())
    assert all(t["duplicates"][k] > 0 for k in ("exact", "conflicting", "physical"))
    assert t["expected_non_matches"], "genuine typos must be present"
    assert any(set(e["plate"]) & set("АВЕКМНОРСТУХЈЅІ") for e in sim.events), "Cyrillic typing"
    by_id = {e["event_id"]: e for e in sim.events}
    spelled_apart = [p for p in t["pairs"]
                     if by_id[p["exit_event_id"]]["plate"] != by_id[p["entry_event_id"]]["plate"]]
    assert spelled_apart, "pairs whose plates differ only in spelling"
    assert {f for p in t["pairs"] for f in p["discrepancy_fields"]} >= {"gross_mass_kg", "seals"}
    assert any(p["exit_inspections"] for p in t["pairs"])
    # Out of order: some events arrive after a later-stamped one by minutes.
    times = [parse_time(e["event_time"]) for e in sim.events]
    assert any(b - a < -timedelta(minutes=5) for a, b in pairwise(times))


def test_windows_have_passed_by_default() -> None:
    now = datetime.now(UTC)
    t = simulate(2, 200, default_start(now)).truth
    assert parse_time(t["decidable_after"]) < now


# -- an independent oracle of the contract semantics -------------------------------------------

def oracle(events: list[dict[str, Any]]) -> dict[str, Any]:
    seen: dict[str, str] = {}
    conflicting: list[str] = []
    forwarded: list[dict[str, Any]] = []
    by_signature: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    dup_window = timedelta(seconds=SETTINGS.duplicate_window_seconds)
    for e in events:
        body = json.dumps(e, sort_keys=True)
        if e["event_id"] in seen:
            if seen[e["event_id"]] != body:
                conflicting.append(e["event_id"])
            continue
        seen[e["event_id"]] = body
        if e["kind"] == "crossing":
            sig = (e["admin"], e["post"], e["direction"], normalise_plate(e["plate"]))
            if any(abs(parse_time(f["event_time"]) - parse_time(e["event_time"])) <= dup_window
                   for f in by_signature.get(sig, [])):
                continue
            by_signature.setdefault(sig, []).append(e)
        forwarded.append(e)
    open_events: dict[tuple[str, str], dict[str, Any]] = {}
    pairs: list[tuple[str, str]] = []
    paired: set[str] = set()
    for e in forwarded:
        if e["kind"] != "crossing":
            continue
        crossing = BORDER.crossing_of_post(e["post"])
        assert crossing is not None
        other = ("ENTRY" if e["direction"] == "EXIT" else "EXIT", normalise_plate(e["plate"]))
        partner = open_events.get((crossing.id, "|".join(other)))
        window = timedelta(minutes=crossing.window_minutes)
        if partner and partner["admin"] != e["admin"] and abs(
                parse_time(partner["event_time"]) - parse_time(e["event_time"])) <= window:
            ex, en = (e, partner) if e["direction"] == "EXIT" else (partner, e)
            pairs.append((ex["event_id"], en["event_id"]))
            paired |= {ex["event_id"], en["event_id"]}
            del open_events[(crossing.id, "|".join(other))]
        else:
            open_events[(crossing.id, f"{e['direction']}|{normalise_plate(e['plate'])}")] = e
    unmatched = [e for e in forwarded if e["kind"] == "crossing" and e["event_id"] not in paired]
    holds = [e["event_id"] for e in forwarded
             if e["kind"] == "inspection" and e["result"] in ("HOLD", "SEIZED")]
    return {"pairs": pairs, "conflicting": conflicting, "holds": holds, "forwarded": forwarded,
            "unmatched_exit": [e["event_id"] for e in unmatched if e["direction"] == "EXIT"],
            "unmatched_entry": [e["event_id"] for e in unmatched if e["direction"] == "ENTRY"]}


def _alert_ids(truth: dict[str, Any], kind: str) -> list[str]:
    return sorted(i for a in truth["alerts"] if a["type"] == kind for i in a["event_ids"])


def test_truth_agrees_with_the_oracle(sim: Simulation) -> None:
    t, o = sim.truth, oracle(sim.events)
    assert sorted((p["exit_event_id"], p["entry_event_id"]) for p in t["pairs"]) == sorted(o["pairs"])
    assert _alert_ids(t, "UNMATCHED_EXIT") == sorted(o["unmatched_exit"])
    assert _alert_ids(t, "UNMATCHED_ENTRY") == sorted(o["unmatched_entry"])
    assert _alert_ids(t, "CONFLICTING_DUPLICATE") == sorted(o["conflicting"])
    assert _alert_ids(t, "INSPECTION_HOLD") == sorted(o["holds"])
    fwd = o["forwarded"]
    assert t["forwarded"] == {"crossings": sum(e["kind"] == "crossing" for e in fwd),
                              "inspections": sum(e["kind"] == "inspection" for e in fwd)}
    by_id = {e["event_id"]: e for e in fwd}
    position = {e["event_id"]: i for i, e in enumerate(fwd)}
    inspections_of: dict[str, list[dict[str, Any]]] = {}
    for e in fwd:
        if e["kind"] == "inspection":
            inspections_of.setdefault(normalise_plate(e["plate"]), []).append(e)
    discrepant = []
    for p in t["pairs"]:
        ex, en = by_id[p["exit_event_id"]], by_id[p["entry_event_id"]]
        assert p["discrepancy_fields"] == discrepancy_fields(ex, en, SETTINGS.mass_tolerance_pct)
        if p["discrepancy_fields"]:
            discrepant.append(p["exit_event_id"])
        # The exit side's controls: same admin, post and plate, stamped before the exit.
        expected = [
            e["event_id"] for e in inspections_of.get(p["plate"], [])
            if e["admin"] == ex["admin"] and e["post"] == ex["post"]
            and parse_time(e["event_time"]) <= parse_time(ex["event_time"])
        ]
        assert sorted(p["exit_inspections"]) == sorted(expected)
        # Inspections reach the broker before the exit record they precede.
        assert all(position[i] < position[ex["event_id"]] for i in p["exit_inspections"])
    assert sorted(a["event_ids"][0] for a in t["alerts"] if a["type"] == "DISCREPANCY") == \
        sorted(discrepant)


def test_typo_pairs_are_genuinely_different_plates(sim: Simulation) -> None:
    for n in sim.truth["expected_non_matches"]:
        assert normalise_plate(n["exit_plate"]) != normalise_plate(n["entry_plate"])


def test_exact_and_conflicting_copies_share_ids(sim: Simulation) -> None:
    counts: dict[str, int] = {}
    for e in sim.events:
        counts[e["event_id"]] = counts.get(e["event_id"], 0) + 1
    resent = sum(n - 1 for n in counts.values())
    assert resent == sim.truth["duplicates"]["exact"] + sim.truth["duplicates"]["conflicting"]


def test_truth_agrees_with_the_oracle_under_heavy_mess() -> None:
    heavy = Mess(exact_resend=0.2, conflicting_resend=0.1, physical_duplicate=0.25,
                 late_arrival=0.4, unmatched_exit=0.1, unmatched_entry=0.1, plate_typo=0.2,
                 plate_variant=0.6, cyrillic=0.6, hold=0.3, seized=0.1, plate_clone=0.1)
    test_truth_agrees_with_the_oracle(simulate(99, 800, START, mess=heavy))
