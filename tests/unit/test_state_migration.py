"""Per-vehicle state across the move from JSON to msgpack (issue 19): a changelog written by the
old code restores with the new one — same decoded state, and what the processor does next (the
sweep, then the rest of the traffic) is byte for byte what the old code did from that changelog:
no pending vehicle is lost. The property tests pin msgpack against the JSON it replaces on the
text JSON escapes (non-ASCII, control characters, quotes)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.logic.model import HeldInspection, Pending, Seen, VehicleState
from tests.unit.processor_traffic import GOLDEN, _sha, continue_from, differences, normal_state

SAMPLE = GOLDEN.parent / "vehicle_state_json_changelog.json"


def _sample() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SAMPLE.read_text())
    return doc


def test_a_json_changelog_decodes_to_the_same_state() -> None:
    doc = _sample()
    store = {plate: value.encode() for plate, _, value in doc["changelog"]}
    assert all(v.startswith(b"{") for v in store.values())
    assert sum(len(VehicleState.decode(v).pending) for v in store.values()) > 50
    assert _sha({p: normal_state(v) for p, v in sorted(store.items())}) == doc["decoded"]


def test_the_processor_goes_on_from_a_json_changelog_as_the_old_code_did() -> None:
    doc = _sample()
    store = {plate: value.encode() for plate, _, value in doc["changelog"]}
    owner = {plate: partition for plate, partition, _ in doc["changelog"]}
    legacy = dict(store)
    got = continue_from(store, owner, doc["skip"])
    want = doc["next"]
    found = differences({**want, "inputs": "", "tally": {}, "final_vehicles": 0},
                        {**got, "inputs": "", "tally": {}, "final_vehicles": 0})
    assert not found, "\n".join(found[:20])
    assert got["outputs"]["matched"] > 0
    # Every vehicle the batches changed is rewritten in the new encoding.
    rewritten = [v for p, v in store.items() if v != legacy.get(p)]
    assert rewritten and not any(v.startswith(b"{") for v in rewritten)


def _legacy_json(state: VehicleState) -> bytes:
    """The encoding before issue 19 (streams/logic/model.py at 105f284), for the comparison."""
    doc: dict[str, Any] = {"s": {k: v.pack() for k, v in state.seen.items()},
                           "p": [p.pack() for p in state.pending],
                           "i": [i.pack() for i in state.inspections]}
    if state.risk:
        doc["r"] = state.risk
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


text = st.text(max_size=12)  # any code point but lone surrogates: controls, quotes, non-ASCII
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
maybe_list = st.none() | st.lists(text, max_size=3)
maybe_int = st.none() | st.integers(0, 2**31 - 1)
seen = st.builds(Seen, text, times, times, text, st.none() | st.lists(text, min_size=1, max_size=3))
pending = st.builds(Pending, text, text, text, text, text, times, times, text, maybe_int,
                    maybe_list, st.none() | text, maybe_list, maybe_int, st.booleans())
held = st.builds(HeldInspection, text, text, text, text, text, times, times, st.none() | text,
                 maybe_list, maybe_int)
risk = st.lists(st.tuples(times, text, text, st.lists(text, max_size=2)).map(list), max_size=3)
states = st.builds(VehicleState, st.dictionaries(text, seen, max_size=3),
                   st.lists(pending, max_size=2), st.lists(held, max_size=2), risk)


@given(states)
def test_msgpack_state_round_trips_what_json_did(state: VehicleState) -> None:
    new = VehicleState.decode(state.encode())
    assert new == VehicleState.decode(_legacy_json(state)) == state
    assert not state.encode().startswith(b"{")


def test_no_state_decodes_to_a_new_vehicles_own_empty_state() -> None:
    """``decode`` builds a new vehicle's state without ``__init__``: every field, none shared."""
    for data in (None, b""):
        a, b = VehicleState.decode(data), VehicleState.decode(data)
        assert a == VehicleState() and asdict(a) == asdict(VehicleState())  # every slot set
        assert a.seen is not b.seen and a.pending is not b.pending
        assert a.inspections is not b.inspections and a.risk is not b.risk
