"""The pure processor on simulator traffic with ground truth: precision and recall with numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.unit.streams_support import Harness
from tooling.simulate import Mess, Simulation, simulate

START = datetime(2026, 11, 20, tzinfo=UTC)


def score(name: str, got: set[Any], want: set[Any]) -> tuple[float, float]:
    true_pos = len(got & want)
    precision = true_pos / len(got) if got else 1.0
    recall = true_pos / len(want) if want else 1.0
    print(f"{name}: expected {len(want)}, produced {len(got)}, correct {true_pos}, "
          f"precision {precision:.4%}, recall {recall:.4%}")
    return precision, recall


def test_simulated_day_matches_ground_truth() -> None:
    sim = simulate(seed=11, vehicles=3000, start=START)
    assert len(sim.events) >= 7000  # the 20k-event run goes through the worker (integration)
    _matches_ground_truth(sim)


def test_cloned_plates_match_ground_truth() -> None:
    """Cloned plates (IMPOSSIBLE_TRANSIT) in the simulator's own traffic and truth."""
    sim = simulate(seed=12, vehicles=1500, start=START, mess=Mess(plate_clone=0.05))
    assert sim.truth["alert_counts"].get("IMPOSSIBLE_TRANSIT", 0) >= 20
    _matches_ground_truth(sim)


def _matches_ground_truth(sim: Simulation) -> None:
    h = Harness()
    h.now = START + timedelta(days=2)  # the whole day arrives as a backlog
    got: dict[str, list[Any]] = {"matched": [], "alerts": [], "crossings": []}
    for i in range(0, len(sim.events), 500):
        out = h.feed(*sim.events[i:i + 500])
        for stream in got:
            got[stream] += out.get(stream, [])
    h.now += timedelta(seconds=h.settings.grace_seconds + 1)
    got["alerts"] += h.sweep().get("alerts", [])
    truth = sim.truth
    print(f"\n{len(sim.events)} simulated events, {truth['vehicles']} vehicles")

    pairs = {(m["exit_event_id"], m["entry_event_id"]) for m in got["matched"]}
    want = {(p["exit_event_id"], p["entry_event_id"]) for p in truth["pairs"]}
    assert score("pairs", pairs, want) == (1.0, 1.0)
    assert len(got["matched"]) == len(pairs)  # one-to-one, no pair twice
    non = {(n["exit_event_id"], n["entry_event_id"]) for n in truth["expected_non_matches"]}
    assert not pairs & non

    by_pair = {(m["exit_event_id"], m["entry_event_id"]): m for m in got["matched"]}
    fields = {(k, f["field"]) for k, m in by_pair.items() for f in m["discrepancies"]}
    want_fields = {((p["exit_event_id"], p["entry_event_id"]), f)
                   for p in truth["pairs"] for f in p["discrepancy_fields"]}
    assert score("discrepancy fields", fields, want_fields) == (1.0, 1.0)
    insp = {(k, i["event_id"]) for k, m in by_pair.items() for i in m["inspections"]}
    want_insp = {((p["exit_event_id"], p["entry_event_id"]), i)
                 for p in truth["pairs"] for i in p["exit_inspections"]}
    assert score("exit inspections attached", insp, want_insp) == (1.0, 1.0)

    alerts = {(a["type"], tuple(sorted(a["event_ids"]))) for a in got["alerts"]}
    want_alerts = {(a["type"], tuple(sorted(a["event_ids"]))) for a in truth["alerts"]}
    for kind in sorted({k for k, _ in want_alerts | alerts}):
        assert score(f"alerts {kind}", {a for a in alerts if a[0] == kind},
                     {a for a in want_alerts if a[0] == kind}) == (1.0, 1.0)
    forwarded = len(got["crossings"])
    assert forwarded == truth["forwarded"]["crossings"], forwarded
    dups = {k[0]: n for k, n in h.counts("duplicates").items()}
    assert dups == {k: v for k, v in truth["duplicates"].items() if v}
