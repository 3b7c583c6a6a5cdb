"""The batch engine's sweep index: only due vehicles are swept, pending counts by deltas."""

from __future__ import annotations

from streams.due import DueIndex
from streams.logic.model import Pending, Seen, VehicleState
from streams.logic.schedule import next_due, pending_crossings


def test_pop_due_returns_only_what_is_due_in_time_order() -> None:
    index = DueIndex()
    index.set("B", 20.0)
    index.set("A", 10.0)
    index.set("C", 30.0)
    assert index.pop_due(25.0) == ["A", "B"]
    assert index.pop_due(25.0) == []
    assert len(index) == 1


def test_rescheduling_skips_the_stale_entry() -> None:
    index = DueIndex()
    index.set("A", 10.0)
    index.set("A", 50.0)
    assert index.pop_due(20.0) == []
    assert index.pop_due(50.0) == ["A"]


def test_none_unschedules_and_limit_bounds_a_slice() -> None:
    index = DueIndex()
    for i in range(5):
        index.set(f"P{i}", float(i))
    index.set("P0", None)
    assert index.pop_due(100.0, limit=2) == ["P1", "P2"]
    assert index.pop_due(100.0) == ["P3", "P4"]


def test_pending_counts_follow_deltas() -> None:
    index = DueIndex()
    index.set("A", 1.0, ("kjafasan",))
    index.set("B", 1.0, ("kjafasan", "tabanovce"))
    index.set("A", 2.0, ())
    assert +index.pending == {"kjafasan": 1, "tabanovce": 1}
    index.remove("B")
    assert +index.pending == {}


def test_heap_is_rebuilt_when_stale_entries_pile_up() -> None:
    index = DueIndex()
    for t in range(5000):
        index.set("A", float(t))
    assert len(index._heap) < 2 * len(index) + 1025  # the bound is the point
    assert index.pop_due(1e9) == ["A"]


def _pending(arrived: int, alerted: bool = False) -> Pending:
    """Times in epoch ms (the state's unit), the event a minute before its arrival."""
    return Pending(event_id="e1", admin="MK", post="MKKJF", crossing="kjafasan",
                   direction="EXIT", t=arrived - 60_000, arrived=arrived, vehicle_type="TRUCK",
                   alerted=alerted)


def test_next_due_is_the_unmatched_deadline_or_the_ttl() -> None:
    st = VehicleState()
    st.pending.append(_pending(1_000_000))
    # window 600 s from event time 940 s -> 1540 s; arrival 1000 s is earlier; + grace 300 s
    windows = {"kjafasan": 600_000}
    assert next_due(st, windows, 7_200_000, 300_000, 86_400_000) == 1_840_000
    st.pending[0].alerted = True
    assert next_due(st, windows, 7_200_000, 300_000, 86_400_000) == 1_000_000 + 86_400_000
    assert pending_crossings(st) == ("kjafasan",)


def test_next_due_of_remembered_events_and_of_nothing() -> None:
    st = VehicleState()
    assert next_due(st, {}, 7_200_000, 300_000, 100_000) is None
    st.seen["e1"] = Seen(digest="d", seen_at=5_000, t=1_000, sig="s")
    assert next_due(st, {}, 7_200_000, 300_000, 100_000) == 105_000
