"""Fuzzing input events: every line gets a valid event or a clear reason, nothing else.

Properties (5,300 generated inputs):
- ``validate`` returns a canonical event or raises ``InvalidEvent`` with a non-empty reason that
  names a field (``field``) or, when ``field`` is None, says what is wrong with the whole record;
  never another exception.
- ``parse_lines`` yields exactly one result per non-blank line, in order, and valid lines between
  garbage lines come out unchanged.
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bordersync.border import load_border_config
from bordersync.events import COMMON_REQUIRED, InvalidEvent, to_json_dict, validate
from producers.publish import parse_lines
from tests.helpers import crossing, inspection
from tests.unit.fuzzing import JSON, MUTATED_EVENTS, SEEDS, fuzz, mutate_event, random_json, random_text

BORDER = load_border_config()
REQUIRED_SOMEWHERE = {*COMMON_REQUIRED, "direction", "vehicle_type", "inspection_type", "result"}


def check(obj: object) -> dict[str, Any] | InvalidEvent:
    try:
        event = validate(obj, BORDER)
    except InvalidEvent as exc:
        assert exc.reason.strip(), f"empty reason for {obj!r}"
        # The field named is one the record has (or lacks but needs); None means the record itself.
        assert exc.field is None or isinstance(exc.field, str), exc
        assert str(exc).strip()
        return exc
    assert isinstance(event, dict)
    assert set(COMMON_REQUIRED) <= set(event)
    assert isinstance(event["event_time"], datetime) and event["event_time"].utcoffset() is not None
    # A valid event stays valid through its JSON form: what publish stores can be re-validated.
    assert validate(json.loads(json.dumps(to_json_dict(event))), BORDER) == event
    return event


@fuzz(2000)
@given(JSON)
def test_any_json_value_is_valid_or_rejected_with_a_reason(obj: object) -> None:
    check(obj)


@fuzz(2000)
@given(MUTATED_EVENTS)
def test_mutated_events_are_valid_or_rejected_with_a_reason(obj: dict[str, Any]) -> None:
    result = check(obj)
    if isinstance(result, InvalidEvent) and result.field is not None:
        # The named field is one the record has, or a required one it lacks.
        assert result.field in obj or result.field in REQUIRED_SOMEWHERE


@fuzz(800)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_text_line_gets_one_result(line: str) -> None:
    results = list(parse_lines([line], BORDER))
    if not line.strip():
        assert results == []
        return
    assert len(results) == 1
    number, result = results[0]
    assert number == 1
    assert isinstance(result, dict | InvalidEvent)
    if isinstance(result, InvalidEvent):
        assert str(result).strip()


def garbage_line(rnd: random.Random) -> str:
    roll = rnd.random()
    if roll < 0.3:
        return random_text(rnd, 80)
    if roll < 0.6:
        return json.dumps(random_json(rnd))
    if roll < 0.9:
        return json.dumps(mutate_event(rnd))
    return json.dumps(crossing())[: rnd.randint(0, 40)]  # a valid record cut short


@fuzz(500)
@given(SEEDS)
def test_valid_records_among_garbage_are_accepted_unchanged(seed: int) -> None:
    rnd = random.Random(seed)
    valid = [crossing(event_id="v-1"), inspection(event_id="v-2"),
             crossing(event_id="v-3", admin="AL", post="ALQTH01", direction="ENTRY")]
    # A garbage line with a newline inside would be several lines; keep one line each.
    lines = [garbage_line(rnd).replace("\n", " ").replace("\r", " ")
             for _ in range(rnd.randint(1, 8))]
    positions = sorted(rnd.sample(range(len(lines) + len(valid)), len(valid)))
    for pos, event in zip(positions, valid, strict=True):
        lines.insert(pos, json.dumps(event))
    results = dict(parse_lines(lines, BORDER))
    for pos, event in zip(positions, valid, strict=True):
        assert results[pos + 1] == validate(event, BORDER), lines
    for number, line in enumerate(lines, start=1):
        assert (number in results) == bool(line.strip()), (number, line)


@pytest.mark.parametrize("line", [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 100_000 + "1" + "}" * 100_000,
], ids=["nested-lists", "nested-objects"])
def test_deeply_nested_json_line_is_rejected_not_crashing(line: str) -> None:
    [(_, result)] = list(parse_lines([line], BORDER))
    assert isinstance(result, InvalidEvent)
    assert "nested too deeply" in str(result)
