"""Simulator traffic (>= 20k events, all the mess) through the real worker, scored against truth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bordersync.border import load_border_config
from bordersync.events import validate
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from bordersync.wire import codec
from tests.conftest import Proc
from tests.integration.streams_support import Reader, pair_ids, produce_raw
from tooling.simulate import Mess, default_start, simulate


def score(name: str, got: set[Any], want: set[Any]) -> tuple[float, float]:
    true_pos = len(got & want)
    precision = true_pos / len(got) if got else 1.0
    recall = true_pos / len(want) if want else 1.0
    print(f"{name}: expected {len(want)}, produced {len(got)}, correct {true_pos}, "
          f"precision {precision:.4%}, recall {recall:.4%}")
    return precision, recall


def test_simulated_traffic_through_the_worker(settings: Settings,
                                              spawn: Callable[..., Proc]) -> None:
    # A few cloned plates too, so IMPOSSIBLE_TRANSIT is scored through the worker.
    sim = simulate(seed=5, vehicles=8400, start=default_start(), mess=Mess(plate_clone=0.01))
    assert len(sim.events) >= 20_000
    assert sim.truth["alert_counts"].get("IMPOSSIBLE_TRANSIT", 0) >= 20
    # Straight onto raw as the terminals' outbox would (keyed by normalised plate, same
    # partitioner); `publish` itself has its own tests and is slower than this test needs.
    border = load_border_config()
    produce_raw(settings, [
        (normalise_plate(e["plate"]).encode(), codec.encode("raw", validate(e, border)))
        for e in sim.events
    ])
    truth = sim.truth
    spawn(["streams", "worker"], settings)
    reader = Reader(settings, ["matched", "alerts", "crossings"])
    want_pairs = {(p["exit_event_id"], p["entry_event_id"]) for p in truth["pairs"]}
    try:
        got = reader.wait(
            lambda g: len(g["crossings"]) >= truth["forwarded"]["crossings"]
            and len(g["matched"]) >= len(want_pairs), 600, "every crossing and pair")
        reader.poll(3)
    finally:
        reader.close()
    print(f"\n{len(sim.events)} simulated events through the worker, {truth['vehicles']} vehicles")
    assert score("pairs", pair_ids(got), want_pairs) == (1.0, 1.0)
    assert len(got["matched"]) == len(want_pairs)
    assert len(got["crossings"]) == truth["forwarded"]["crossings"]
    # UNMATCHED_* are due grace seconds after arrival on the wall clock (checked in the pure
    # simulator test with an injected clock); every other alert is decided on arrival.
    alerts = {(a["type"], tuple(sorted(a["event_ids"]))) for a in got["alerts"]
              if not a["type"].startswith("UNMATCHED")}
    want = {(a["type"], tuple(sorted(a["event_ids"]))) for a in truth["alerts"]
            if not a["type"].startswith("UNMATCHED")}
    assert score("alerts (all but UNMATCHED_*)", alerts,
                 want) == (1.0, 1.0)
