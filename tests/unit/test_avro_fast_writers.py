"""The compiled writers' shortcuts (per-site string caches, the timestamp fast paths, the
unrolled varint, per-field chunks) write exactly fastavro's bytes."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from bordersync.wire.avro_fast import FieldError, compile_chunk_writer, compile_writer, write_long
from bordersync.wire.schemas import SchemaVersion, catalogue

_SCHEMA = {
    "type": "record", "name": "R", "fields": [
        {"name": "s", "type": "string"},
        {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "o", "type": ["null", "string"], "default": None},
        {"name": "a", "type": {"type": "array", "items": "string"}},
        {"name": "ot", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
         "default": None},
    ],
}
# hypothesis bounds are naive by design; every generated value gets one of the zones below.
_TIMES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),  # noqa: DTZ001
                      timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                                 timezone(-timedelta(hours=11))]))


def _fastavro(schema: Any, value: Any) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, parse_schema(schema), value)
    return out.getvalue()


@pytest.mark.parametrize("n", [0, 1, -1, 63, -64, 64, 1023, 1024, 2**34 - 1, 2**34, -(2**34),
                               2**41 - 1, 2**41, -(2**41), -(2**41) - 1, 1_764_064_800_123,
                               -1_764_064_800_123, 2**63 - 1, -(2**63)])
def test_varint_boundaries_match_fastavro(n: int) -> None:
    assert write_long(n) == _fastavro("long", n)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=70), _TIMES, st.none() | st.text(max_size=5),
                          st.lists(st.text(max_size=3), max_size=4), st.none() | _TIMES),
                min_size=1, max_size=30))
def test_one_writer_over_many_records_matches_fastavro(rows: list[Any]) -> None:
    """The same compiled writer for every record: caches filled by earlier records never leak
    into later ones (repeated and distinct values, the same datetime object twice)."""
    writer, chunks = compile_writer(_SCHEMA), compile_chunk_writer(_SCHEMA)
    assert writer is not None and chunks is not None
    for s, t, o, a, ot in rows + rows[:3]:
        record = {"s": s, "t": t, "o": o, "a": a, "ot": ot}
        expected = _fastavro(_SCHEMA, record)
        assert writer(record) == expected
        assert b"".join(chunks(record)) == expected
        assert len(chunks(record)) == len(_SCHEMA["fields"])


def test_string_cache_is_bounded_and_exact() -> None:
    writer = compile_writer("string")
    assert writer is not None
    values = [f"v{i % 700}-é" for i in range(3000)]
    assert [writer(v) for v in values] == [_fastavro("string", v) for v in values]


def test_timestamp_int_and_datetime_agree() -> None:
    writer = compile_writer({"type": "long", "logicalType": "timestamp-millis"})
    assert writer is not None
    when = datetime(2026, 11, 25, 10, 0, 0, 999_999, tzinfo=UTC)
    ms = 1_795_600_800_999
    assert writer(when) == writer(ms) == writer(when) == _fastavro({"type": "long"}, ms)
    with pytest.raises(ValueError, match="naive datetime"):
        writer(datetime(2026, 11, 25))  # noqa: DTZ001 - the naive time under test


@pytest.mark.parametrize("value", [b"bytes", 5, ["a"], {"a": 1}, None])
def test_non_strings_fail_as_before(value: Any) -> None:
    writer = compile_writer({"type": "record", "name": "S", "fields": [{"name": "s",
                                                                        "type": "string"}]})
    assert writer is not None
    with pytest.raises(FieldError, match=r"^s: .* does not fit"):
        writer({"s": value})


@pytest.mark.parametrize("version", [v for v in catalogue().all_versions()
                                     if isinstance(v.schema, dict)], ids=lambda v: v.label)
def test_chunks_join_to_the_record(version: SchemaVersion) -> None:
    path = catalogue().root / "golden" / version.family / f"v{version.version}.json"
    chunks = compile_chunk_writer(version.schema)
    assert chunks is not None
    for body in (bytes.fromhex(b) for b in json.loads(path.read_text())["binary"]):
        record = schemaless_reader(io.BytesIO(body), version.parsed, None,
                                   return_record_name=True)
        assert isinstance(record, dict)
        assert b"".join(chunks(record)) == body


def test_chunk_writer_only_for_records() -> None:
    assert compile_chunk_writer("string") is None
    assert compile_chunk_writer([{"type": "record", "name": "A", "fields": []}]) is None
