"""The decoded states a worker's store keeps between batches (``streams.state.DictStore``,
docs/streams.md "Live state"): the same outputs, tallies and state as decoding every batch, and
a failed batch's changes never kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams.logic.model import VehicleState
from streams.state import DictStore
from tests.unit.processor_traffic import GOLDEN, differences, fingerprint
from tests.unit.streams_support import Harness
from tests.unit.test_matching import entry, exit_


class Counting(DictStore):
    """Counts the decoded states handed out."""

    def __init__(self, live: int) -> None:
        super().__init__(live)
        self.handed = 0

    def take(self, plate: str) -> bytes | VehicleState | None:
        got = super().take(plate)
        self.handed += isinstance(got, VehicleState)
        return got


@pytest.mark.parametrize("live", [100_000, 7])
def test_live_states_give_the_reference_outputs_tallies_and_state(live: int) -> None:
    """The differential traffic (every kind of event and mess, pairs across batches, sweeps)
    through a store keeping every vehicle decoded, and one keeping only seven."""
    store = Counting(live)
    found = differences(json.loads(GOLDEN.read_text()), fingerprint(live=store))
    assert not found, "\n".join(found[:20])
    assert store.handed > (1000 if live > 7 else 0)
    assert len(store.live) <= live


class Worker(Harness):
    """The harness over a worker's store: ``commit`` applies a batch as ``Runtime._write``
    does after a committed transaction; a batch not committed leaves the store as it was."""

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        self.kept = Counting(1000)

    def process(self, *raws: dict[str, Any]) -> Any:
        return self.processor.process([self.record(r) for r in raws], self.now, self.kept.take)

    def commit(self, result: Any) -> dict[str, list[Any]]:
        for plate, value in result.state.items():
            self.kept.put(plate, result.owner[plate], value)
        self.kept.schedule(result)
        self.store = dict(self.kept.state)  # what the harness decodes its outputs against
        return self._apply(result)


def test_a_failed_batchs_changes_are_not_kept() -> None:
    """A batch whose transaction aborted changed the decoded state it was handed: its redo
    must see the committed state (the EXIT still pending), not the aborted match."""
    w = Worker()
    w.commit(w.process(exit_()))
    assert list(w.kept.live) == ["SK1234AB"]
    aborted = w.process(entry())  # matched, in place, then never committed
    assert [o.stream for o in aborted.outputs].count("matched") == 1
    assert w.kept.live == {} and w.kept.handed == 1
    redone = w.commit(w.process(entry()))
    assert len(redone["matched"]) == 1 and w.kept.handed == 1  # decoded again
    assert VehicleState.decode(w.kept.state["SK1234AB"]).pending == []


def test_a_state_restored_after_the_batch_was_handed_out_is_not_overwritten() -> None:
    """A restore (or revoke) between a batch's take and its commit replaced the encoding: the
    batch's decoded state is not kept over it."""
    w = Worker()
    result = w.process(exit_())
    for plate, value in result.state.items():
        w.kept.put(plate, result.owner[plate], value)
    w.kept.restored("SK1234AB", 1, b"")  # hypothetical: a restore wrote another encoding
    w.kept.schedule(result)
    assert w.kept.live == {}
    w.kept.drop({0, 1, 2, 3})
    assert w.kept.take("SK1234AB") is None


def test_an_unchanged_vehicle_keeps_its_decoded_state() -> None:
    """An exact duplicate changes nothing: the state handed out goes back, still equal to
    the encoding."""
    w = Worker()
    w.commit(w.process(exit_()))
    out = w.commit(w.process(exit_()))
    assert "crossings" not in out and w.kept.handed == 1
    assert isinstance(w.kept.take("SK1234AB"), VehicleState)


def test_none_kept_with_live_zero() -> None:
    w = Worker()
    w.kept = Counting(0)
    w.commit(w.process(exit_()))
    assert w.kept.live == {} and isinstance(w.kept.take("SK1234AB"), bytes)


def test_live_zero_store_does_not_hold_every_encoding_it_handed_out() -> None:
    """Defect: with ``live_vehicles=0`` ``take`` still noted each encoding it handed out, and
    ``schedule`` returned before clearing the notes: every vehicle's old encoding stayed
    referenced for the worker's life."""
    w = Worker()
    w.kept = Counting(0)
    w.commit(w.process(exit_()))
    w.commit(w.process(entry()))
    assert w.kept.lent == {}
