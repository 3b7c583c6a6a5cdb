"""The processor's fast paths (records and share projections from one encoding, the cheaper
validation, digests and tallies) change no byte: the same batches through the general path
(an injected ``encode``, which takes none of them) give the same outputs, state and tallies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bordersync.border import load_border_config
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from bordersync.wire import codec
from streams.processor import BatchResult, InRecord, Processor, _Batch, partition_for
from tooling.bench.load import event_pair

NOW = datetime(2026, 11, 25, 12, 0, 0, 123_456, tzinfo=UTC)


def _events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i in range(120):
        exit_, entry = event_pair(i, NOW - timedelta(hours=1))
        if i % 7 == 0:  # discrepancies
            entry = {**entry, "gross_mass_kg": 30_000, "seals": ["Z1"], "trailer_plate": "TT ü"}
        if i % 11 == 0:
            exit_ = {**exit_, "container_ids": ["MSCU1234567"], "passengers": 2,
                     "priority": "AEO", "declaration_ref": "26MK00000000000Ω1"}
        if i % 5 == 0:
            events.append({
                "event_id": f"i-{i}", "kind": "inspection", "admin": "MK", "post": "MKKJF01",
                "event_time": exit_["event_time"] - timedelta(minutes=3),
                "plate": exit_["plate"], "nationality": "MK", "terminal_id": "mk-xray",
                "inspection_type": "XRAY", "result": ["HOLD", "CLEARED"][i % 2],
                **({"findings": "señal 🚚", "seals_applied": ["N1"]} if i % 10 == 0 else {})})
        events.append(exit_)
        if i % 9 == 0:
            events.append(exit_)  # exact duplicate
            events.append({**exit_, "terminal_id": "other"})  # conflicting duplicate
            events.append({**exit_, "event_id": exit_["event_id"] + "p"})  # physical duplicate
        if i % 3:
            events.append(entry)
    return events


def _records() -> list[InRecord]:
    records: list[InRecord] = []
    for event in _events():
        key = normalise_plate(event["plate"]).encode()
        part = partition_for(key, 4)
        records.append(InRecord(key, codec.encode("raw", event), [], "raw", part, len(records)))
        if len(records) % 31 == 0:
            records.append(InRecord(key, b"\x00\x00\x00\x00\x01junk", [], "raw", part,
                                    len(records)))
            records.append(InRecord(key, codec.encode("raw", {**event, "admin": "XX"}), [],
                                    "raw", part, len(records)))
    return records


def _snapshot(result: BatchResult) -> Any:
    return ([(o.stream, o.key, o.value, o.headers, o.partition) for o in result.outputs],
            result.state, result.owner, result.tally.counts, result.tally.observations)


def _run(processor: Processor) -> list[Any]:
    records = _records()
    state: dict[str, bytes] = {}
    snapshots = []
    for n, i in enumerate(range(0, len(records), 100)):
        result = processor.process(records[i:i + 100], NOW + timedelta(seconds=n), state.get)
        snapshots.append(_snapshot(result))
        for plate, value in result.state.items():
            if value is None:
                state.pop(plate, None)
            else:
                state[plate] = value
    swept = processor.sweep([(p, 0, v) for p, v in sorted(state.items())], NOW + timedelta(hours=3))
    return [*snapshots, _snapshot(swept)]


def test_fast_and_general_paths_agree() -> None:
    border = load_border_config()
    fast = _run(Processor(Settings(), border, 4))
    general = _run(Processor(Settings(), border, 4, encode=lambda s, r: codec.encode(s, r)))
    assert fast == general
    streams = {o[0] for snapshot in fast for o in snapshot[0]}
    assert {"crossings", "inspections", "matched", "alerts", "dlq"} <= streams
    assert any(s.startswith("share.") for s in streams)


def test_a_record_that_does_not_fit_raises_the_general_paths_error() -> None:
    """The fast path steps aside; ``encode`` raises the error naming the field, and ``process``
    dead-letters the input with that message (tests/unit/test_matching.py)."""
    processor = Processor(Settings(), load_border_config(), 4)
    exit_, _ = event_pair(1, NOW)
    bad = {**exit_, "crossing": "kjafasan-qafe-thane", "plate_normalised": "SK0001AA",
           "gross_mass_kg": "heavy"}
    with pytest.raises(codec.EncodeError) as fast:
        processor._emit(_Batch(lambda _p: None), "crossings", "kjafasan-qafe-thane", b"K", bad,
                        NOW, None)
    with pytest.raises(codec.EncodeError) as general:
        codec.encode("crossings", bad)
    assert str(fast.value) == str(general.value)
    assert "gross_mass_kg" in str(fast.value)


def test_output_records_are_immutable_values_outside_the_collector() -> None:
    """OutRecord is a msgspec Struct built in C (streams.batch): frozen and compared by value
    like the named tuple it was, and untracked by the cyclic collector (``gc=False``), which is
    sound only while its fields cannot refer back to it."""
    import gc

    import msgspec

    from streams.processor import OutRecord

    built = OutRecord.builder(["crossings", "share.al-customs"])(b"K", [b"a", b"b"])
    assert built == (OutRecord("crossings", b"K", b"a"), OutRecord("share.al-customs", b"K", b"b"))
    assert [(o.headers, o.partition) for o in built] == [(None, None), (None, None)]
    record = OutRecord("raw", b"K", b"v", [("h", b"1")], 3)
    assert not gc.is_tracked(record)
    with pytest.raises(AttributeError):
        record.value = b"w"  # type: ignore[misc]
    assert msgspec.structs.replace(record, value=b"w").value == b"w"
