"""Dwell time at a post (time in controls), from the pure processor to the stats windows."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bordersync.events import parse_time
from streams.logic import dwell
from streams.logic.model import HeldInspection, Seen
from streams.logic.stats import DWELL, EVENT, Fact, StatsWindows
from tests.helpers import crossing, inspection
from tests.unit.streams_support import T0, Harness, at

KJF = "kjafasan-qafe-thane"
T0S = T0.timestamp()


def exit_(**kw: object) -> dict[str, Any]:
    return crossing(**{"event_id": "x1", "event_time": at(0), **kw})


def entry(**kw: object) -> dict[str, Any]:
    return crossing(**{"event_id": "n1", "admin": "AL", "post": "ALQTH01", "direction": "ENTRY",
                       "terminal_id": "al-qth-1", "event_time": at(900), **kw})


def exit_check(eid: str, seconds: float, **kw: object) -> dict[str, Any]:
    return inspection(**{"event_id": eid, "event_time": at(seconds), **kw})


def entry_check(eid: str, seconds: float, **kw: object) -> dict[str, Any]:
    return inspection(**{"event_id": eid, "admin": "AL", "post": "ALQTH01",
                         "terminal_id": "al-qth-docs", "event_time": at(seconds), **kw})


def dwell_facts(out: dict[str, list[Any]]) -> list[Fact]:
    rows = [Fact.unpack(r) for o in out.get("stats-facts", []) for r in json.loads(o.value)]
    return [f for f in rows if f.kind == DWELL]


def windows_of(h: Harness, *batches: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Feed each batch, put every fact through the stats windows; records by direction."""
    w = StatsWindows(size_s=3600, lateness_s=0)
    for batch in batches:
        for o in h.feed(*batch).get("stats-facts", []):
            for row in json.loads(o.value):
                w.add(Fact.unpack(row))
    return {r["direction"]: r for r in w.due(T0S + 10 * 3600)}


# --- the pure functions ------------------------------------------------------------------------

def held(eid: str, admin: str, t: int, crossing_id: str = KJF) -> HeldInspection:
    """Times here in ms, the state's unit (small ones: only differences count)."""
    return HeldInspection(eid, admin, crossing_id, "XRAY", "CLEARED", t, t)


def test_exit_dwell_is_from_the_earliest_control_before_the_exit() -> None:
    checks = [held("a", "MK", 100), held("b", "MK", 2000), held("c", "MK", 3700),
              held("other-side", "AL", 10), held("other-crossing", "MK", 50, "tab")]
    assert dwell.for_crossing("EXIT", "MK", KJF, 3600, checks, 7200) == 3500
    assert dwell.for_crossing("EXIT", "MK", KJF, 3600, checks, 3000) == 1600  # window
    assert dwell.for_crossing("EXIT", "MK", KJF, 50, checks, 7200) is None  # none before


def test_entry_dwell_is_to_the_last_control_after_the_entry() -> None:
    checks = [held("a", "AL", 100), held("b", "AL", 700), held("c", "AL", 1300)]
    assert dwell.for_crossing("ENTRY", "AL", KJF, 500, checks, 7200) == 800
    assert dwell.for_crossing("ENTRY", "AL", KJF, 1400, checks, 7200) is None


def test_an_inspection_finds_its_crossing_event_at_the_same_post() -> None:
    seen = {
        "x1": Seen("d", 0, 1000, "MKKJF01|EXIT"),
        "x0": Seen("d", 0, 9000, "MKKJF01|EXIT"),  # a later trip: not the nearest
        "n1": Seen("d", 0, 100, "ALQTH01|ENTRY"),
        "dup": Seen("d", 0, 900, ""),  # physical duplicate or inspection: never an anchor
    }
    assert dwell.for_inspection("MKKJF01", 400, seen, 7200) == ("x1", "EXIT", 1000, 600)
    assert dwell.for_inspection("ALQTH01", 400, seen, 7200) == ("n1", "ENTRY", 100, 300)
    assert dwell.for_inspection("MKKJF01", 1200, seen, 8000) == ("x0", "EXIT", 9000, 7800)
    assert dwell.for_inspection("MKKJF01", 1200, seen, 7200) is None  # beyond the window
    assert dwell.for_inspection("ALQTH01", 50, seen, 7200) is None  # before the entry


def test_windows_keep_the_largest_candidate_per_event_and_no_dwell_is_not_zero() -> None:
    w = StatsWindows(size_s=300, lateness_s=0)
    for t in (10, 20, 30):  # x1, x2, x3
        w.add(Fact("c", "EXIT", t, EVENT))
    w.add(Fact("c", "EXIT", 10, DWELL, 600.0, "x1"))
    w.add(Fact("c", "EXIT", 10, DWELL, 1800.0, "x1"))  # an earlier control arrived later
    w.add(Fact("c", "EXIT", 10, DWELL, 1800.0, "x1"))  # a reprocessed batch: not counted twice
    w.add(Fact("c", "EXIT", 20, DWELL, 300.0, "x2"))
    (rec,) = w.due(300)
    assert rec["count"] == 3 and rec["dwell_count"] == 2  # x3 was not inspected
    assert (rec["dwell_p50_seconds"], rec["dwell_p95_seconds"], rec["dwell_max_seconds"]) == (
        300.0, 1800.0, 1800.0)
    w.add(Fact("c", "ENTRY", 10, EVENT))
    (empty,) = w.due(600)
    assert empty["dwell_count"] == 0 and empty["dwell_p50_seconds"] is None
    assert empty["dwell_max_seconds"] is None


def test_old_five_element_facts_still_unpack() -> None:
    assert Fact.unpack(["c", "EXIT", 1.0, EVENT, None]).event_id is None
    fact = Fact("c", "EXIT", 1.0, DWELL, 60.0, "x1")
    assert Fact.unpack(fact.pack()) == fact


# --- through the processor ---------------------------------------------------------------------

def test_exit_dwell_from_controls_before_the_exit() -> None:
    h = Harness()
    h.now = T0 + timedelta(hours=3)
    recs = windows_of(h, [exit_check("i1", -3000), exit_check("i2", -1200, inspection_type="XRAY"),
                          exit_(), entry()])
    assert recs["EXIT"]["dwell_count"] == 1 and recs["EXIT"]["dwell_max_seconds"] == 3000.0
    assert recs["ENTRY"]["dwell_count"] == 0 and recs["ENTRY"]["dwell_p50_seconds"] is None


def test_dwell_does_not_depend_on_arrival_order() -> None:
    events = [exit_check("i1", -3000), exit_check("i2", -1200, inspection_type="XRAY"),
              exit_(), entry(), entry_check("e1", 1500), entry_check("e2", 2700,
                                                                      inspection_type="PHYTO")]
    want = windows_of(Harness(), events)
    for order in (list(reversed(events)), [events[2], events[3], events[1], events[5], events[0],
                                           events[4]]):
        h = Harness()
        got = windows_of(h, *[[e] for e in order])
        for direction in ("EXIT", "ENTRY"):
            assert {k: v for k, v in got[direction].items() if k.startswith("dwell")} == {
                k: v for k, v in want[direction].items() if k.startswith("dwell")}
    assert want["EXIT"]["dwell_p50_seconds"] == 3000.0
    assert want["ENTRY"]["dwell_p50_seconds"] == 1800.0  # 2700 - 900: ENTRY to the last control
    assert want["ENTRY"]["dwell_count"] == 1


def test_unmatched_exit_still_has_a_dwell_and_other_posts_do_not_count() -> None:
    h = Harness()
    out = h.feed(exit_check("i1", -600),
                 inspection(event_id="elsewhere", admin="MK", post="MKTAB01",
                            terminal_id="mk-tab-1", event_time=at(-4000)),
                 exit_())
    (fact,) = dwell_facts(out)
    assert (fact.crossing, fact.direction, fact.event_id, fact.transit) == (KJF, "EXIT", "x1", 600.0)


def test_an_inspection_without_a_crossing_yet_yields_no_fact_until_the_crossing_comes() -> None:
    h = Harness()
    assert dwell_facts(h.feed(entry_check("e1", 1500))) == []
    (fact,) = dwell_facts(h.feed(entry()))
    assert (fact.direction, fact.event_id, fact.transit) == ("ENTRY", "n1", 600.0)


def test_simulated_traffic_exit_dwell_matches_ground_truth() -> None:
    from tooling.simulate import simulate

    start = T0 - timedelta(days=1)
    sim = simulate(seed=5, vehicles=600, start=start)
    h = Harness()
    h.now = start + timedelta(days=2)
    got: dict[tuple[str, str], float] = {}
    for i in range(0, len(sim.events), 500):
        for fact in dwell_facts(h.feed(*sim.events[i:i + 500])):
            assert fact.event_id is not None and fact.transit is not None
            key = (fact.direction, fact.event_id)
            got[key] = max(got.get(key, 0.0), fact.transit)
    times = {e["event_id"]: parse_time(e["event_time"]).timestamp() for e in sim.events}
    want = {}
    for pair in sim.truth["pairs"]:
        if pair["exit_inspections"]:
            first = min(times[i] for i in pair["exit_inspections"])
            want[("EXIT", pair["exit_event_id"])] = times[pair["exit_event_id"]] - first
    exits = {k: v for k, v in got.items() if k[0] == "EXIT" and k[1] in
             {p["exit_event_id"] for p in sim.truth["pairs"]}}
    assert want and exits.keys() == want.keys()
    assert all(abs(exits[k] - want[k]) < 0.01 for k in want)
    assert all(5 * 60 - 1 <= v <= 90 * 60 + 1 for v in want.values())  # the simulator's 5-90 min
    entries = [v for k, v in got.items() if k[0] == "ENTRY"]
    assert entries and all(0 <= v <= 30 * 60 + 1 for v in entries)
    print(f"\nexit dwell: {len(want)} vehicles; entry dwell: {len(entries)} vehicles")
