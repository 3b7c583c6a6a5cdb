"""Outputs spliced from the input's Avro bytes (bordersync.wire.avro_splice, .splicing) are the
bytes of a full encode, and only canonically encoded input is spliced: padded varints, arrays in
several blocks or with block sizes are valid Avro (fastavro reads them) that the general path
decodes and re-encodes, to the same outputs as the canonical form of the same record."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bordersync.border import load_border_config
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from bordersync.wire import codec, splicing
from bordersync.wire.avro_fast import EPOCH, MILLI
from bordersync.wire.avro_prims import read_long, write_long
from bordersync.wire.avro_splice import _NotCanonical, _read_long, span_reader
from bordersync.wire.codec import HEADER, RAW_BRANCHES
from streams.processor import InRecord, Processor, partition_for
from tooling.bench.load import event_pair

NOW = datetime(2026, 11, 25, 12, 0, 0, 123_000, tzinfo=UTC)
_TEXT = st.text(min_size=1, max_size=70)  # past 63 bytes: a two-byte length
_LIST = st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=70)  # 64+: two-byte count


def _raw_schema() -> Any:
    return codec.configure().catalogue.latest("raw").schema


def _varint(n: int, pad: bool) -> bytes:
    """``n`` zig-zag encoded; padded: one more byte than needed (a trailing 0x00 group)."""
    data = write_long(n)
    return data[:-1] + bytes([data[-1] | 0x80, 0]) if pad else data


def _write(schema: Any, value: Any, pad: Callable[[], bool], named: dict[str, Any]) -> bytes:
    """Valid Avro, not necessarily canonical: ``pad()`` decides each varint and array block."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if schema == "string":
        data = value.encode()
        return _varint(len(data), pad()) + data
    if schema in ("int", "long"):
        return _varint(value, pad())
    if isinstance(schema, list):  # [null, T] here; its index unpadded: the codec's readers
        # take only 0x00 and 0x02 there (an input nobody's encoder writes), whichever path
        return b"\x00" if value is None else b"\x02" + _write(schema[1], value, pad, named)
    kind = schema["type"]
    if kind == "long":  # timestamp-millis
        return _varint((value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1),
                       pad())
    if kind == "enum":
        named[schema["name"]] = schema
        return _varint(schema["symbols"].index(value), pad())
    if kind == "array":
        out = b""
        rest = list(value)
        while rest:  # blocks of one item or of all that is left, with or without their size
            block, rest = (rest[:1], rest[1:]) if pad() else (rest, [])
            items = b"".join(_write(schema["items"], v, pad, named) for v in block)
            out += (_varint(-len(block), pad()) + _varint(len(items), pad()) if pad()
                    else _varint(len(block), pad())) + items
        return out + _varint(0, pad())
    return b"".join(_write(f["type"], value.get(f["name"]), pad, named) for f in schema["fields"])


def _raw(event: dict[str, Any], pad: Callable[[], bool]) -> bytes:
    union = _raw_schema()
    index = [b["name"] for b in union].index(RAW_BRANCHES[event["kind"]].split(".")[1])
    body = _varint(index, pad()) + _write(union[index], event, pad, {})
    return codec.encode("raw", event)[:HEADER.size] + body


def _never() -> bool:
    return False


def _crossing(draw: st.DrawFn) -> dict[str, Any]:
    exit_, _ = event_pair(draw(st.integers(0, 500)), NOW)
    for name, values in {"trailer_plate": _TEXT, "container_ids": _LIST, "seals": _LIST,
                         "gross_mass_kg": st.integers(0, 2**31 - 1), "declaration_ref": _TEXT,
                         "passengers": st.integers(0, 9), "priority": st.just("AEO")}.items():
        if draw(st.booleans()):
            exit_[name] = draw(values)
        else:
            exit_.pop(name, None)
    exit_["plate"] = draw(st.sampled_from([exit_["plate"], "SK 1234 AB", "ШК-1234"]))
    return exit_


def test_the_test_writer_writes_canonical_avro_unless_told_otherwise() -> None:
    exit_, _ = event_pair(3, NOW)
    exit_ |= {"seals": ["A", "B"], "passengers": 70}
    assert _raw(exit_, _never) == codec.encode("raw", exit_)
    padded = _raw(exit_, lambda: True)
    assert padded != codec.encode("raw", exit_)
    assert splicing.current().read("raw", padded) is None
    assert codec.decode("raw", padded) == codec.decode("raw", codec.encode("raw", exit_))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_spliced_crossings_are_the_full_encode_and_fastavros(data: st.DataObject) -> None:
    event = data.draw(st.composite(lambda d: _crossing(d))())
    value = codec.encode("raw", event)
    got = splicing.current().read("raw", value)
    assert got is not None
    assert got[0] == codec.decode("raw", value)
    extra = {"crossing": "c-1", "plate_normalised": normalise_plate(event["plate"])}
    chunks = splicing.current().chunks("crossings", got[1], tuple(extra), tuple(extra.values()))
    assert chunks is not None
    full = codec.encode("crossings", {**got[0], **extra})
    assert value[:HEADER.size] != full[:HEADER.size]  # another schema: another id
    assert full[HEADER.size:] == b"".join(chunks[:-1])
    assert full == chunks[-1]  # the whole record last, from fewer pieces
    schema = codec.configure().catalogue.latest("crossing").parsed
    oracle = io.BytesIO()
    schemaless_writer(oracle, schema, {**got[0], **extra})
    assert oracle.getvalue() == b"".join(chunks[:-1])


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_non_canonical_input_is_never_spliced_and_reads_the_same(data: st.DataObject) -> None:
    event = data.draw(st.composite(lambda d: _crossing(d))())
    value = _raw(event, lambda: data.draw(st.booleans()))
    parsed = codec.configure().catalogue.latest("raw").parsed

    def fastavro(data: bytes) -> Any:
        return schemaless_reader(io.BytesIO(data[HEADER.size:]), parsed, parsed)

    assert fastavro(value) == fastavro(codec.encode("raw", event))  # valid Avro, the same record
    got = splicing.current().read("raw", value)
    if value == codec.encode("raw", event):
        assert got is not None
    else:
        assert got is None
    assert codec.decode("raw", value) == codec.decode("raw", codec.encode("raw", event))


def test_non_canonical_input_gives_the_outputs_of_its_canonical_form() -> None:
    """Through the processor: padded varints and arrays in blocks take the general path; every
    output byte, tally and state is that of the same events encoded canonically (spliced)."""
    border = load_border_config()
    events = []
    for i in range(40):
        exit_, entry = event_pair(i, NOW - timedelta(hours=1))
        exit_ |= {"seals": ["S1", "S2", "S3"], "container_ids": ["MSCU1234567"],
                  "trailer_plate": "TT ü" * 20}
        events += [exit_, entry]

    def run(pad: Callable[[], bool]) -> Any:
        records = []
        for n, event in enumerate(events):
            key = normalise_plate(event["plate"]).encode()
            records.append(InRecord(key, _raw(event, pad), [], "raw", partition_for(key, 4), n))
        result = Processor(Settings(), border, 4).process(records, NOW, lambda _p: None)
        return ([(o.stream, o.key, o.value, o.headers) for o in result.outputs], result.state,
                result.tally.counts)

    flip = iter(range(10**6))
    canonical, padded = run(_never), run(lambda: next(flip) % 3 == 0)
    assert canonical == padded
    assert any(stream.startswith("share.") for stream, *_ in canonical[0])


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_spliced_matched_records_are_those_of_the_general_path(data: st.DataObject) -> None:
    """The matched record spliced from its two crossings' chunks (splicing.PairSplicer) and its
    share projections are the bytes of the general path (an injected encoder: full encodes)."""
    exit_ = data.draw(st.composite(lambda d: _crossing(d))())
    entry = {**data.draw(st.composite(lambda d: _crossing(d))()),
             "event_id": exit_["event_id"] + "-n", "admin": "AL", "post": "ALQTH01",
             "terminal_id": "al-qth-booth-1", "direction": "ENTRY", "plate": exit_["plate"],
             "event_time": exit_["event_time"] + timedelta(minutes=data.draw(st.integers(-5, 9))),
             "vehicle_type": data.draw(st.sampled_from(["TRUCK", "CAR", "BUS", "VAN", "OTHER"]))}
    key = normalise_plate(exit_["plate"]).encode()
    records = [InRecord(key, codec.encode("raw", e), [], "raw", partition_for(key, 4), n)
               for n, e in enumerate((exit_, entry))]
    border = load_border_config()

    def run(processor: Processor) -> Any:
        result = processor.process(records, NOW, lambda _p: None)
        return [(o.stream, o.key, o.value, o.headers) for o in result.outputs]

    spliced = run(Processor(Settings(), border, 4))
    assume(any(stream == "matched" for stream, *_ in spliced))  # not e.g. a blank field refused
    assert spliced == run(Processor(Settings(), border, 4, encode=lambda s, r: codec.encode(s, r)))


@settings(max_examples=400, deadline=None)
@given(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=3), st.booleans(),
       st.integers(0, 12))
def test_the_canonical_varint_reader_is_the_general_one_and_refuses_the_rest(
        n: int, tail: bytes, pad: bool, cut: int) -> None:
    """``_read_long`` against the general reader: the same value and end for a minimal
    varint of up to nine bytes; padded or longer: refused; cut short: an error either way."""
    data = _varint(n, pad) + tail
    varint = len(_varint(n, pad))
    if not pad and varint <= 9:
        assert read_long(data, 0) == (n, varint)
        assert _read_long(b"\x07" + data, 1) == (n, 1 + varint)
    else:
        with pytest.raises(_NotCanonical):
            _read_long(data, 0)
    if cut < varint:
        with pytest.raises((_NotCanonical, IndexError)):
            _read_long(data[:cut], 0)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_record_cut_short_or_with_a_length_past_its_end_is_never_spliced(
        data: st.DataObject) -> None:
    """The generated reader does not check each inline string's length against the record's
    end: a short record, or one whose last string claims more bytes than are left, must still
    read None (the general path then refuses it too)."""
    event = data.draw(st.composite(lambda d: _crossing(d))())
    value = codec.encode("raw", event)
    cut = data.draw(st.integers(HEADER.size + 1, len(value) - 1))
    assert splicing.current().read("raw", value[:cut]) is None
    grown = bytearray(value)
    at = data.draw(st.integers(HEADER.size + 1, len(value) - 1))
    grown[at] = min(0x7E, grown[at] + 2) & 0x7E  # another one-byte length or index, if any
    got = splicing.current().read("raw", bytes(grown))
    if got is not None:  # still a canonical record: then the general reader's record
        assert got[0] == codec.decode("raw", bytes(grown))


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**63), 2**63 - 1), st.booleans(), st.integers(0, 12),
       st.sampled_from(["long", "int", {"type": "long", "logicalType": "timestamp-millis"}]))
def test_the_generated_varint_read_is_the_canonical_reader(n: int, pad: bool, cut: int,
                                                             kind: Any) -> None:
    """The span reader's inline varint (longs, ints, timestamps) against ``_read_long`` and
    the general reader: the same value where both read it; padded, over nine bytes, out of an
    int's range or cut short: None."""
    reader = span_reader({"type": "record", "name": "R", "fields": [{"name": "x", "type": kind}]})
    assert reader is not None
    data = _varint(n, pad)
    got = reader.read(data, 0)
    try:
        want, end = _read_long(data, 0)
        fits = end == len(data) and (kind != "int" or -(2**31) <= want < 2**31)
        if not isinstance(kind, str):
            want = EPOCH + MILLI * want  # past datetime's years: OverflowError, read as None
    except (_NotCanonical, IndexError, OverflowError):
        fits = False
    if not fits:
        assert got is None
    else:
        assert got is not None
        value = got[0]["x"]
        assert value == want
        assert got[1] == ("R", [0, len(data)])
    if cut < len(data):
        assert reader.read(data[:cut], 0) is None


def test_a_splicer_joins_runs_of_input_fields_defaults_and_extras_to_the_record() -> None:
    """The record (the chunks' last item) from one slice per run of input fields in the same
    order, single fields, extras and defaults between them: the bytes fastavro writes."""
    def record(name: str, fields: list[tuple[str, Any, Any]]) -> dict[str, Any]:
        return {"type": "record", "name": name, "fields": [
            {"name": n, "type": t, **({} if d is None else {"default": d})} for n, t, d in fields]}

    ins = record("In", [("a", "string", None), ("b", "long", None), ("c", "string", None),
                        ("d", "long", None), ("e", "string", None)])
    out = record("Out", [("z", "long", 7), ("a", "string", None), ("b", "long", None),
                         ("x", "string", None), ("c", "string", None), ("e", "string", None),
                         ("d", "long", None), ("y", "string", "dflt")])
    value = {"a": "α", "b": -3, "c": "", "d": 2**40, "e": "e" * 70}
    data = io.BytesIO()
    schemaless_writer(data, ins, value)
    body = data.getvalue()
    ends, at = [0], 0
    for reader in ("string", "long", "string", "long", "string"):
        n, at = read_long(body, at)
        at += n if reader == "string" else 0
        ends.append(at)
    chunks = splicing.Splicer(ins, out, ["x"], b"HEAD").chunks
    for extra in ("xx", "ü" * 511):  # the string written inline: a one- and a two-byte length
        spliced = chunks(body, ends, [extra])
        expected = io.BytesIO()
        schemaless_writer(expected, out, {**value, "x": extra, "z": 7, "y": "dflt"})
        assert b"".join(spliced[:-1]) == expected.getvalue()
        assert spliced[-1] == b"HEAD" + expected.getvalue()
    for misfit in ("x" * 1024, None, b"xx"):  # past the inline lengths, not a str: refused
        with pytest.raises((IndexError, AttributeError)):
            chunks(body, ends, [misfit])


def test_pair_values_written_inline_are_the_writers_bytes_and_misfits_still_raise() -> None:
    """``PairSplicer`` writes a float, a bool and an empty list without a call: the writer's
    bytes; an int transit goes to the writer (the same double), a non-bool ``late`` or a
    non-list array to its refusal."""
    side = {"type": "record", "name": "Side", "fields": [{"name": "a", "type": "string"}]}
    out = {"type": "record", "name": "Out", "fields": [
        {"name": "a", "type": "string"}, {"name": "t", "type": "double"},
        {"name": "late", "type": "boolean"},
        {"name": "xs", "type": {"type": "array", "items": "string"}}]}
    chunks = splicing.PairSplicer(side, out, {"a": (1, "a")}, b"H").chunks
    for t, late, xs in ((1.5, True, []), (2, False, ["a"]), (-0.0, True, ("b", "c"))):
        data = io.BytesIO()
        schemaless_writer(data, out, {"a": "y", "t": t, "late": late, "xs": xs})
        got = chunks(([b"\x02x"], [b"\x02y"]), {"t": t, "late": late, "xs": xs})
        assert got[-1] == b"H" + data.getvalue() == b"H" + b"".join(got[:-1])
    for t, late, xs in ((1.0, 1, []), ("1", True, []), (1.0, True, None), (1.0, True, "")):
        with pytest.raises(ValueError):
            chunks(([b"\x02x"], [b"\x02y"]), {"t": t, "late": late, "xs": xs})
