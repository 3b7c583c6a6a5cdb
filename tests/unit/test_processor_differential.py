"""The processor against the one of the commit named in the golden file (issue 19): byte-identical
output records, equal metric tallies and equal decoded state over the same messy traffic.

The reference is a fingerprint (``tests.unit.processor_traffic``) checked in under tests/data/,
not a copy of the old code; regenerate it only at a commit whose outputs are meant to change,
and say why in that commit.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from streams.processor import BatchResult
from tests.unit.processor_traffic import GOLDEN, differences, fingerprint


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(GOLDEN.read_text())
    return doc


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    return fingerprint()


def test_same_outputs_tallies_and_state_as_the_reference(golden: dict[str, Any],
                                                         run: dict[str, Any]) -> None:
    assert golden["inputs"] == run["inputs"], (
        "the traffic itself changed (simulator or encoder): the fingerprint no longer compares "
        "processors; regenerate it at the reference commit")
    found = differences(golden, run)
    assert not found, "\n".join(found[:20])


def test_the_traffic_has_every_kind_of_mess(golden: dict[str, Any]) -> None:
    tally = golden["tally"]
    for kind in ("exact", "conflicting", "physical"):
        assert tally[f"duplicates['{kind}']"] > 0
    for stage in ("decode", "validate", "signature", "replay"):
        assert tally[f"dlq['raw', '{stage}']"] > 0
    assert any(k.startswith("alerts['UNMATCHED_") for k in tally)
    assert any(k.startswith("risk_hits[") for k in tally)
    for stream in ("matched", "inspections", "raw", "risk", "stats-facts"):
        assert golden["outputs"][stream] > 0


def test_one_changed_output_byte_is_a_difference(golden: dict[str, Any]) -> None:
    """The comparison itself: the last byte of one matched record flipped must be reported."""

    def flip(index: int, result: BatchResult) -> None:
        if index == 2:
            at = next(n for n, o in enumerate(result.outputs) if o.stream == "matched")
            out = result.outputs[at]
            assert out.value is not None
            result.outputs[at] = msgspec.structs.replace(
                out, value=out.value[:-1] + bytes([out.value[-1] ^ 1]))

    found = differences(golden, fingerprint(after=flip))
    assert found == [f"batch 2 outputs: want {golden['batches'][2]['outputs']!r}, "
                     f"got {found[0].split(', got ')[1]}"]
    assert "'matched'" in found[0]
