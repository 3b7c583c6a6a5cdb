"""Codec: round trips, the Confluent wire format, evolution on read, and errors as values."""

from __future__ import annotations

import io
import json
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from bordersync import tail
from bordersync.border import load_border_config
from bordersync.events import MAX_LIST, MAX_STR, InvalidEvent, validate
from bordersync.wire import codec
from bordersync.wire.codec import DecodeError, EncodeError
from bordersync.wire.schemas import catalogue
from tests.helpers import crossing, inspection

BORDER = load_border_config()
T = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
FULL_CROSSING = {
    "trailer_plate": "SK 567 XY", "container_ids": ["MSCU1234567"], "seals": ["S-1", "S-2"],
    "gross_mass_kg": 24150, "declaration_ref": "26MK000000000001A1", "passengers": 1,
}
FULL_INSPECTION = {"findings": "ok", "seals_applied": ["S-3"], "measured_mass_kg": 24010}
ENRICH = {"crossing": "kjafasan-qafe-thane", "plate_normalised": "SK1234AB"}


def _events() -> list[dict[str, Any]]:
    return [
        crossing(),
        crossing(**FULL_CROSSING),
        crossing(priority="GREEN_LANE"),
        crossing(admin="AL", post="ALQTH01", direction="ENTRY", priority="AEO", **FULL_CROSSING),
        inspection(),
        inspection(result="HOLD", **FULL_INSPECTION),
    ]


@pytest.mark.parametrize("event", _events(), ids=lambda e: f"{e['kind']}-{len(e)}")
def test_validated_events_round_trip_on_every_event_stream(event: dict[str, Any]) -> None:
    record = validate(event, BORDER)
    for stream in ("raw", record["kind"]):
        assert codec.decode(stream, codec.encode(stream, record)) == record
    enriched = {**record, **ENRICH}
    stream = f"{record['kind']}s"
    assert codec.decode(stream, codec.encode(stream, enriched)) == enriched


def test_decoded_times_are_aware_utc() -> None:
    record = validate(crossing(event_time="2026-11-25T12:30:00.123+03:00"), BORDER)
    decoded = codec.decode("raw", codec.encode("raw", record))
    assert isinstance(decoded, dict)
    assert decoded["event_time"] == datetime(2026, 11, 25, 9, 30, 0, 123000, tzinfo=UTC)
    assert decoded["event_time"].utcoffset() == timedelta(0)
    # What the streams do with a decoded raw record: validate it again.
    assert validate(decoded, BORDER) == record


def test_confluent_wire_format() -> None:
    record = validate(crossing(priority="AEO"), BORDER)
    data = codec.encode("raw", record)
    magic, schema_id = struct.unpack(">bI", data[:5])
    latest = catalogue().latest("raw")
    assert (magic, schema_id) == (0, latest.schema_id)
    # A plain Avro reader with the registered schema reads the body: nothing bordersync-specific.
    body = schemaless_reader(io.BytesIO(data[5:]), latest.parsed, None)
    assert isinstance(body, dict)
    assert body["priority"] == "AEO" and body["event_id"] == record["event_id"]


def test_ids_are_stable_and_distinct() -> None:
    cat = catalogue()
    ids = [v.schema_id for v in cat.all_versions()]
    assert len(set(ids)) == len(ids)
    assert all(0 < i < 2**31 for i in ids)


def _write(family: str, version: int, record: Any) -> bytes:
    v = catalogue().families[family][version - 1]
    out = io.BytesIO()
    out.write(struct.pack(">bI", 0, v.schema_id))
    schemaless_writer(out, v.parsed, record)
    return out.getvalue()


def test_records_written_with_v1_decode_with_the_current_reader() -> None:
    record = validate(crossing(**FULL_CROSSING), BORDER)
    for family, stream, datum in (
        ("crossing_event", "crossing", record),
        ("raw", "raw", ("bordersync.CrossingEvent", record)),
        ("crossing", "crossings", {**record, **ENRICH}),
    ):
        decoded = codec.decode(stream, _write(family, 1, datum))
        assert isinstance(decoded, dict), decoded
        assert "priority" not in decoded
        assert {k: v for k, v in decoded.items() if k not in ENRICH} == record


def test_skeleton_crossing_bytes_read_on_the_crossings_stream() -> None:
    record = validate(crossing(), BORDER)
    assert codec.decode("crossings", codec.encode("crossing", record)) == record


def _matched() -> dict[str, Any]:
    return {
        "exit_event_id": "e1", "entry_event_id": "e2", "crossing": "kjafasan-qafe-thane",
        "plate": "SK1234AB", "exit_admin": "MK", "entry_admin": "AL", "exit_post": "MKKJF01",
        "entry_post": "ALQTH01", "exit_time": T, "entry_time": T + timedelta(minutes=7),
        "transit_seconds": 420.0, "late": False, "vehicle_type": "TRUCK",
        "discrepancies": [{"field": "seals", "exit_value": "S-1", "entry_value": None}],
        "inspections": [{"event_id": "i1", "admin": "MK", "inspection_type": "XRAY",
                         "result": "CLEARED", "event_time": T - timedelta(minutes=3),
                         "findings": None, "seals_applied": None, "measured_mass_kg": 100}],
        "matched_at": T + timedelta(minutes=8),
    }


def _alert() -> dict[str, Any]:
    return {"alert_id": "ab" * 16, "type": "INSPECTION_HOLD", "crossing": "kjafasan-qafe-thane",
            "plate": "SK1234AB", "event_ids": ["i1"], "detail": "MK XRAY: HOLD", "raised_at": T}


def _stats() -> dict[str, Any]:
    return {"crossing": "kjafasan-qafe-thane", "direction": "ENTRY", "window_start": T,
            "window_end": T + timedelta(minutes=5), "count": 3, "transit_p50_seconds": None,
            "transit_p95_seconds": None, "transit_max_seconds": None, "matched": 0, "unmatched": 3,
            "dwell_p50_seconds": 600.0, "dwell_p95_seconds": 900.0, "dwell_max_seconds": 900.0,
            "dwell_count": 2}


@pytest.mark.parametrize(("stream", "record"),
                         [("matched", _matched()), ("alerts", _alert()), ("stats", _stats())])
def test_derived_records_round_trip(stream: str, record: dict[str, Any]) -> None:
    assert codec.decode(stream, codec.encode(stream, record)) == record


def test_share_records_hold_only_the_permitted_fields() -> None:
    event = validate(crossing(**FULL_CROSSING), BORDER)
    permitted = {k: event[k] for k in ("event_id", "plate", "event_time", "seals")}
    permitted["trailer_plate"] = None  # permitted and sent as null: stays a null
    shared = {"stream": "crossings", "agency": "al-customs", "shared_at": T, "record": permitted}
    decoded = codec.decode("share.al-customs", codec.encode("share", shared))
    assert decoded == shared
    assert isinstance(decoded, dict) and "gross_mass_kg" not in decoded["record"]
    for stream, record in (("matched", _matched()), ("alerts", _alert())):
        few = {k: record[k] for k in list(record)[:4]}
        shared = {"stream": stream, "agency": "mk-customs", "shared_at": T, "record": few}
        assert codec.decode("share", codec.encode("share", shared)) == shared


@pytest.mark.parametrize(("stream", "record", "reason"), [
    ("raw", {**crossing(), "event_time": T, "colour": "red"}, "colour: field not in the schema"),
    ("raw", {**crossing(), "event_time": T, "gross_mass_kg": "24t"}, "gross_mass_kg"),
    ("raw", {**crossing(), "event_time": T, "direction": "SIDEWAYS"}, "SIDEWAYS"),
    ("raw", {**crossing(), "kind": "parade"}, "kind: expected crossing or inspection"),
    ("crossings", {**crossing(), "event_time": T}, "crossing"),
    ("alerts", {**_alert(), "type": "PANIC"}, "PANIC"),
    ("share", {"stream": "dlq", "agency": "x", "shared_at": T, "record": {}}, "cannot share"),
    ("share", {"stream": "alerts", "agency": "x", "shared_at": T, "record": {"secret": 1}},
     "secret: field not in the schema"),
    ("nonsense", {}, "no schema for stream 'nonsense'"),
])
def test_encode_rejects_records_that_do_not_fit(stream: str, record: dict[str, Any],
                                                reason: str) -> None:
    with pytest.raises(EncodeError, match=reason):
        codec.encode(stream, record)


GOOD = codec.encode("raw", validate(crossing(), BORDER))


@pytest.mark.parametrize(("data", "reason"), [
    (None, "empty record"),
    (b"", "empty record"),
    (b"\x00\x01", "truncated: 2 bytes"),
    (b"{\"event_id\": 1}", "magic byte 123, expected 0"),
    (b"\x00\x00\x00\x00\x07" + GOOD[5:], "unknown schema id 7"),
    (GOOD[:-4], "undecodable Avro body (raw v2"),
    (GOOD[:5], "undecodable Avro body"),
    (GOOD + b"\x00\x00", "2 trailing bytes"),
    (GOOD[:5] + b"\xff" * 20, "undecodable Avro body"),
])
def test_undecodable_bytes_are_error_values(data: bytes | None, reason: str) -> None:
    result = codec.decode("raw", data)
    assert isinstance(result, DecodeError)
    assert result.stream == "raw"
    assert reason in result.reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decode_never_raises_on_garbage(data: bytes) -> None:
    for payload in (data, GOOD[:5] + data, b"\x00" + data):
        assert isinstance(codec.decode("raw", payload), (dict, DecodeError))


_text = st.text(min_size=1, max_size=MAX_STR).filter(lambda s: bool(s.strip()))
_int = st.integers(min_value=0, max_value=2**31 - 1)
_list = st.lists(st.text(min_size=1, max_size=40), max_size=MAX_LIST)


@settings(max_examples=150, deadline=None)
@given(plate=_text, terminal=_text, findings=_text, mass=_int, passengers=_int, seals=_list,
       # hypothesis takes naive bounds; the generated values are aware (UTC).
       when=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),  # noqa: DTZ001
                         timezones=st.just(UTC)))
def test_anything_validate_accepts_encodes(plate: str, terminal: str, findings: str, mass: int,
                                           passengers: int, seals: list[str],
                                           when: datetime) -> None:
    """Avro limits (int32, strings, lists, time range) never reject what validation accepted.

    Times travel as timestamp-millis: sub-millisecond digits are the one thing not carried.
    """
    when = when.replace(microsecond=when.microsecond // 1000 * 1000)
    events = [
        crossing(plate=plate, terminal_id=terminal, gross_mass_kg=mass, passengers=passengers,
                 seals=seals or None, event_time=when.isoformat()),
        inspection(plate=plate, findings=findings, measured_mass_kg=mass,
                   seals_applied=seals or None, event_time=when.isoformat()),
    ]
    for event in events:
        record = validate(event, BORDER)
        assert codec.decode("raw", codec.encode("raw", record)) == record


def test_tail_prints_times_as_utc_z() -> None:
    record = codec.decode("raw", GOOD)
    assert isinstance(record, dict)
    assert '"event_time": "2026-11-25T09:00:00.000Z"' in tail.dumps(record)


@pytest.mark.parametrize("field", ["plate", "seals"])
def test_text_avro_cannot_carry_is_rejected_by_validation(field: str) -> None:
    """JSON may hold lone surrogates; Avro strings are UTF-8: validate names the field."""
    text = json.loads('"SK \\ud800 12"')
    event = crossing(**{field: [text] if field == "seals" else text})
    with pytest.raises(InvalidEvent, match=f"^{field}: not valid Unicode"):
        validate(event, BORDER)
