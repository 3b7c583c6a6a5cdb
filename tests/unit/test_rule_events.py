"""Rules receive typed events, not dicts (issue 19: "keep it so"): ``Context.event`` is a frozen
``streams.logic.events`` value with one field per raw-schema field and the event time as integer
milliseconds, built by the processor for every trigger that carries an event."""

from __future__ import annotations

import typing
from datetime import timedelta
from typing import Any

import msgspec
import pytest

from bordersync.events import format_time, parse_time
from bordersync.wire.schemas import catalogue
from streams import processor as processor_module
from streams.logic.events import (
    CrossingEvent,
    InspectionEvent,
    crossing_event,
    event_of,
    from_epoch_ms,
    inspection_event,
    time_text,
    to_epoch_ms,
)
from streams.rules import CROSSING_RULES, AlertRule, Context, Finding, Trigger, at
from tests.helpers import crossing, inspection
from tests.unit.streams_support import Harness, event

TYPED = {"CrossingEvent": CrossingEvent, "InspectionEvent": InspectionEvent}


def _ms(iso: str) -> int:
    return round(parse_time(iso).timestamp() * 1000)


def _literal(hint: Any) -> list[str]:
    """The values of ``Literal[...]`` or ``Literal[...] | None``."""
    if typing.get_origin(hint) is typing.Literal:
        return list(typing.get_args(hint))
    return next(_literal(a) for a in typing.get_args(hint) if a is not type(None))


def test_the_typed_events_have_the_raw_schemas_fields() -> None:
    """The raw schema's fields in its order, ``event_time`` as ``event_time_ms``: every required
    one, an inspection's optional ones too (a crossing's are left out for their cost:
    streams.logic.events.CrossingEvent); the enums' symbols are the Literal types' values. A
    schema change fails here, not in a rule."""
    for record in catalogue().latest("raw").schema:
        typed = TYPED[record["name"]]
        fields = [f for f in record["fields"]
                  if typed is InspectionEvent or not isinstance(f["type"], list)]  # required
        names = [f["name"].replace("event_time", "event_time_ms") for f in fields]
        assert [f.name for f in msgspec.structs.fields(typed)] == names
        assert {f.name for f in msgspec.structs.fields(typed) if f.required} == {
            n for f, n in zip(fields, names, strict=True) if not isinstance(f["type"], list)}
        hints = typing.get_type_hints(typed)
        assert hints["event_time_ms"] is int
        for field in fields:
            t = field["type"]
            enum = next(b for b in t if b != "null") if isinstance(t, list) else t
            if isinstance(enum, dict) and enum.get("type") == "enum":
                assert _literal(hints[field["name"]]) == enum["symbols"], field["name"]


def test_built_from_the_validated_dict_with_integer_ms() -> None:
    c = crossing_event(event(crossing(seals=["S1"], gross_mass_kg=24_000)))
    assert c == CrossingEvent("mk-kjf-0001", "crossing", "MK", "MKKJF01",
                              _ms("2026-11-25T10:00:00+01:00"), "SK 1234 AB", "MK",
                              "mk-kjf-booth-1", "EXIT", "TRUCK")
    assert type(c.event_time_ms) is int
    # the processor's epoch ms (the raw reader's) give the same value
    validated = event(crossing(event_time="2026-11-25T09:00:00.999Z"))
    assert crossing_event(validated, to_epoch_ms(validated["event_time"])) == \
        crossing_event(validated)
    i = inspection_event(event(inspection(result="HOLD", findings="x", seals_applied=["S"])))
    assert (i.kind, i.result, i.findings, i.seals_applied, i.measured_mass_kg) == (
        "inspection", "HOLD", "x", ["S"], None)
    assert i.event_time_ms == _ms("2026-11-25T09:55:00Z")
    assert event_of(event(inspection())) == inspection_event(event(inspection()))
    assert isinstance(event_of(event(crossing())), CrossingEvent)
    with pytest.raises(AttributeError):
        c.plate = "OTHER"  # type: ignore[misc]  # frozen: a rule cannot change the event


@pytest.mark.parametrize("iso", ["2026-11-25T09:00:00Z", "2026-11-25T09:00:00.001Z",
                                 "2026-11-25T09:00:00.999Z", "2026-11-25T23:59:59.999Z",
                                 "1969-12-31T23:59:59.999Z", "2026-11-25T09:00:00.123456Z"])
def test_integer_ms_times_are_exact_and_format_as_before(iso: str) -> None:
    when = parse_time(iso)
    ms = to_epoch_ms(when)
    assert type(ms) is int
    assert from_epoch_ms(ms) == when.replace(microsecond=when.microsecond // 1000 * 1000)
    assert from_epoch_ms(ms).utcoffset() == timedelta(0)  # aware, UTC
    assert time_text(ms) == format_time(when)  # byte-identical alert text
    assert ms / 1000 == when.replace(microsecond=when.microsecond // 1000 * 1000).timestamp()


def _spy(trigger: Trigger, seen: list[tuple[Trigger, Any]]) -> AlertRule:
    def check(ctx: Context) -> Finding | None:
        seen.append((trigger, ctx.event))
        return None

    return AlertRule("SPY", trigger, "records what the processor hands a rule", check,
                     lambda _view: [])


def test_the_processor_hands_rules_typed_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the processor: every trigger with an event gets a typed one, integer-ms time."""
    seen: list[tuple[Trigger, Any]] = []
    monkeypatch.setattr(processor_module, "CROSSING_RULES",
                        (_spy(Trigger.CROSSING, seen), *CROSSING_RULES))
    monkeypatch.setattr(processor_module, "rules_at",
                        lambda t: (_spy(t, seen), *at(t)))  # read once, by Processor()
    h = Harness()
    exit_ = crossing(event_time="2026-11-25T09:00:00.250Z", seals=["A"])
    entry = crossing(event_id="al-1", admin="AL", post="ALQTH01", direction="ENTRY",
                     terminal_id="al-qth-1", event_time="2026-11-25T09:06:00.500Z", seals=["B"])
    held = inspection(result="HOLD", event_time="2026-11-25T09:05:00Z")
    resent = {**exit_, "terminal_id": "mk-kjf-booth-2"}  # same id, other content
    out = h.feed(exit_, entry, held, resent)
    assert {a["type"] for a in out["alerts"]} == {"DISCREPANCY", "INSPECTION_HOLD",
                                                  "CONFLICTING_DUPLICATE"}
    got = {(trigger, e.event_id, type(e), e.event_time_ms) for trigger, e in seen
           if e is not None}
    assert got == {
        # CROSSING: only the vehicle's second crossing (its first: no rule needs asking)
        (Trigger.CROSSING, "al-1", CrossingEvent, _ms(entry["event_time"])),
        (Trigger.INSPECTION, "mk-kjf-i-0001", InspectionEvent, _ms(held["event_time"])),
        (Trigger.DUPLICATE, "mk-kjf-0001", CrossingEvent, _ms(exit_["event_time"])),
    }
    assert all(type(e.event_time_ms) is int for _, e in seen if e is not None)
    duplicate = next(e for t, e in seen if t is Trigger.DUPLICATE)
    assert duplicate.terminal_id == "mk-kjf-booth-2"  # the re-sent copy, not the first
    assert {t for t, e in seen if e is None} == {Trigger.MATCHED}  # a pair carries no event
