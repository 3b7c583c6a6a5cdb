"""The compiled encoders/decoders (bordersync.wire.avro_fast) are byte-for-byte fastavro."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from bordersync.wire.avro_fast import FieldError, compile_reader, compile_writer, read_long, write_long
from bordersync.wire.schemas import SchemaVersion, catalogue

VERSIONS = catalogue().all_versions()


def _golden(version: SchemaVersion) -> list[bytes]:
    path = catalogue().root / "golden" / version.family / f"v{version.version}.json"
    return [bytes.fromhex(b) for b in json.loads(path.read_text())["binary"]]


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.label)
def test_golden_records_read_and_write_identically(version: SchemaVersion) -> None:
    writer, reader = compile_writer(version.schema), compile_reader(version.schema)
    assert writer is not None and reader is not None
    for body in _golden(version):
        expected = schemaless_reader(io.BytesIO(body), version.parsed, None)
        value, end = reader(body, 0)
        assert (value, end) == (expected, len(body))
        # fastavro names union branches on request; that is the codec's tuple notation.
        named = schemaless_reader(io.BytesIO(body), version.parsed, None, return_record_name=True)
        assert writer(named) == body


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_longs_match_fastavro(n: int) -> None:
    out = io.BytesIO()
    schemaless_writer(out, parse_schema("long"), n)
    assert write_long(n) == out.getvalue()
    assert read_long(out.getvalue(), 0) == (n, len(out.getvalue()))


_SCHEMA = {
    "type": "record", "name": "R", "fields": [
        {"name": "s", "type": "string"}, {"name": "i", "type": "int"},
        {"name": "d", "type": "double"}, {"name": "b", "type": "boolean"},
        {"name": "o", "type": ["null", "string"], "default": None},
        {"name": "a", "type": {"type": "array", "items": "string"}},
        {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}


@settings(max_examples=100, deadline=None)
@given(s=st.text(), i=st.integers(min_value=-(2**31), max_value=2**31 - 1),
       d=st.floats(allow_nan=False), b=st.booleans(), o=st.none() | st.text(),
       a=st.lists(st.text(max_size=20), max_size=70),
       t=st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999))  # datetime range
def test_records_match_fastavro(s: str, i: int, d: float, b: bool, o: str | None, a: list[str],
                                t: int) -> None:
    record: dict[str, Any] = {"s": s, "i": i, "d": d, "b": b, "o": o, "a": a, "t": t}
    out = io.BytesIO()
    schemaless_writer(out, parse_schema(_SCHEMA), record)
    writer, reader = compile_writer(_SCHEMA), compile_reader(_SCHEMA)
    assert writer is not None and reader is not None
    assert writer(record) == out.getvalue()
    assert reader(out.getvalue(), 0)[0] == schemaless_reader(
        io.BytesIO(out.getvalue()), parse_schema(_SCHEMA), None)


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("i", 2**31, "is not a 32-bit int"),
    ("i", True, "is not a 32-bit int"),
    ("b", 1, "is not a boolean"),
    ("a", "abc", "expected a list"),
    ("s", None, "does not fit"),
])
def test_values_that_do_not_fit_name_the_field(field: str, value: Any, reason: str) -> None:
    record = {"s": "x", "i": 1, "d": 1.0, "b": True, "a": [], "t": 0, field: value}
    writer = compile_writer(_SCHEMA)
    assert writer is not None
    with pytest.raises(FieldError, match=f"^{field}: .*{reason}"):
        writer(record)


def test_unsupported_schemas_fall_back() -> None:
    assert compile_writer({"type": "fixed", "name": "F", "size": 4}) is None
    assert compile_reader({"type": "map", "values": "string"}) is None


@pytest.mark.parametrize("data", [b"", b"\x80", b"\x0a", b"\x02", b"\xff" * 11])
def test_truncated_bodies_raise(data: bytes) -> None:
    reader = compile_reader(_SCHEMA)
    assert reader is not None
    with pytest.raises((ValueError, IndexError)):
        reader(data, 0)
