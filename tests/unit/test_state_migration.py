"""Per-vehicle state across its two format changes of issue 19 — JSON to msgpack, then float
epoch seconds to integer milliseconds (``STATE_FORMAT`` 2): a changelog written by the old code
(JSON at 105f284, msgpack of seconds at 9a6d94b) restores with the new one — same decoded state
(times in ms), and what the processor does next (the sweep, then the rest of the traffic) is
byte for byte what the old code did from that changelog: no pending vehicle is lost. The
property tests pin msgpack against the JSON it replaces on the text JSON escapes (non-ASCII,
control characters, quotes), and each older format against the new one on times."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.logic.model import STATE_FORMAT, HeldInspection, Pending, Seen, VehicleState
from tests.unit.processor_traffic import GOLDEN, _sha, continue_from, differences, normal_state

# The changelog samples: each written by the old code over the traffic's first batches, with
# what that code did next (tests.unit.processor_traffic); "json" values are text, "seconds" hex
SAMPLES = {"json": GOLDEN.parent / "vehicle_state_json_changelog.json",
           "seconds": GOLDEN.parent / "vehicle_state_seconds_changelog.json"}


def _sample(name: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    doc: dict[str, Any] = json.loads(SAMPLES[name].read_text())
    value = str.encode if name == "json" else bytes.fromhex
    return doc, {plate: value(v) for plate, _, v in doc["changelog"]}


@pytest.mark.parametrize("name", SAMPLES)
def test_an_old_changelog_decodes_to_the_same_state(name: str) -> None:
    doc, store = _sample(name)
    if name == "json":
        assert all(v.startswith(b"{") for v in store.values())
    else:  # msgpack of the four items before STATE_FORMAT 2, times as floats
        docs = [msgpack.unpackb(v) for v in store.values()]
        assert all(len(d) == 4 for d in docs)
        assert all(type(s[1]) is float for d in docs for s in d[0].values())
    assert sum(len(VehicleState.decode(v).pending) for v in store.values()) > 50
    assert _sha({p: normal_state(v) for p, v in sorted(store.items())}) == doc["decoded"]
    decoded = [VehicleState.decode(v) for v in store.values()]
    assert all(type(s.t) is int and type(s.seen_at) is int for d in decoded for s in d.seen.values())


@pytest.mark.parametrize("name", SAMPLES)
def test_the_processor_goes_on_from_an_old_changelog_as_the_old_code_did(name: str) -> None:
    doc, store = _sample(name)
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
    assert all(msgpack.unpackb(v)[4] == STATE_FORMAT for v in rewritten)


def _in_seconds(state: VehicleState) -> VehicleState:
    """``state`` with its times in float epoch seconds, as the code before STATE_FORMAT 2 had them."""
    return VehicleState(
        seen={k: replace(v, seen_at=v.seen_at / 1000, t=v.t / 1000) for k, v in state.seen.items()},
        pending=[replace(p, t=p.t / 1000, arrived=p.arrived / 1000) for p in state.pending],
        inspections=[replace(i, t=i.t / 1000, arrived=i.arrived / 1000) for i in state.inspections],
        risk=[[r[0] / 1000, *r[1:]] for r in state.risk])


def _legacy_json(state: VehicleState) -> bytes:
    """The encoding before issue 19 (streams/logic/model.py at 105f284), for the comparison."""
    old = _in_seconds(state)
    doc: dict[str, Any] = {"s": {k: v.pack() for k, v in old.seen.items()},
                           "p": [p.pack() for p in old.pending],
                           "i": [i.pack() for i in old.inspections]}
    if old.risk:
        doc["r"] = old.risk
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _msgpack_seconds(state: VehicleState) -> bytes:
    """The encoding before STATE_FORMAT 2 (streams/logic/model.py at 9a6d94b)."""
    old = _in_seconds(state)
    data: bytes = msgpack.packb([{k: v.pack() for k, v in old.seen.items()},
                                 [p.pack() for p in old.pending],
                                 [i.pack() for i in old.inspections], old.risk])
    return data


text = st.text(max_size=12)  # any code point but lone surrogates: controls, quotes, non-ASCII
times = st.integers(min_value=0, max_value=4 * 10**12)  # epoch ms, to the year 2096
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
def test_msgpack_state_round_trips_what_json_and_seconds_did(state: VehicleState) -> None:
    new = VehicleState.decode(state.encode())
    assert new == VehicleState.decode(_legacy_json(state)) == state
    assert VehicleState.decode(_msgpack_seconds(state)) == state
    assert not state.encode().startswith(b"{")


def test_no_state_decodes_to_a_new_vehicles_own_empty_state() -> None:
    """``decode`` builds a new vehicle's state without ``__init__``: every field, none shared."""
    for data in (None, b""):
        a, b = VehicleState.decode(data), VehicleState.decode(data)
        assert a == VehicleState() and asdict(a) == asdict(VehicleState())  # every slot set
        assert a.seen is not b.seen and a.pending is not b.pending
        assert a.inspections is not b.inspections and a.risk is not b.risk
