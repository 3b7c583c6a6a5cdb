"""Fuzzing the codec: whatever bytes arrive on a topic, ``decode`` returns a record or a
``DecodeError`` with a reason, never an exception (2,800 generated inputs plus every truncation
of real encodings and oversized records).

Written against the public API only: "valid encodings" come from ``codec.encode`` of validated
events, so these properties hold for whichever wire format the codec uses.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bordersync.border import load_border_config
from bordersync.events import validate
from bordersync.wire import codec
from bordersync.wire.codec import DecodeError
from tests.helpers import crossing, inspection
from tests.unit.fuzzing import SEEDS, fuzz

BORDER = load_border_config()
STREAMS = ["raw", "crossings", "inspections", "matched", "alerts", "share.mk-customs"]
EVENTS = [
    validate(crossing(), BORDER),
    validate(crossing(event_id="mk-2", seals=["S1", "S2"], container_ids=["MSCU1234567"],
                      gross_mass_kg=24_000, trailer_plate="SK 99 AB", passengers=1), BORDER),
    validate(inspection(), BORDER),
    validate(inspection(event_id="mk-i-2", result="HOLD", findings="seal broken",
                        seals_applied=["N1"], measured_mass_kg=23_950), BORDER),
]
ENCODED = [codec.encode("raw", e) for e in EVENTS]


def check(stream: str, data: bytes | None) -> dict[str, Any] | DecodeError:
    result = codec.decode(stream, data)
    assert isinstance(result, dict | DecodeError), type(result)
    if isinstance(result, DecodeError):
        assert result.reason.strip()
    return result


def test_valid_encodings_round_trip() -> None:
    for event, data in zip(EVENTS, ENCODED, strict=True):
        decoded = check("raw", data)
        assert isinstance(decoded, dict)
        assert decoded["event_id"] == event["event_id"]
        assert validate(decoded, BORDER) == event


@fuzz(1200)
@given(st.sampled_from(STREAMS), st.binary(max_size=300))
def test_random_bytes_never_raise(stream: str, data: bytes) -> None:
    check(stream, data)


def mutate(data: bytes, rnd: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rnd.randint(1, 6)):
        op = rnd.random()
        pos = rnd.randrange(len(out) + 1)
        if op < 0.4 and out:
            out[min(pos, len(out) - 1)] ^= 1 << rnd.randrange(8)
        elif op < 0.6:
            out[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif op < 0.8:
            del out[pos:pos + rnd.randint(1, 8)]
        else:
            # Varint-ish garbage: long lengths and counts are how decoders get tricked.
            out[pos:pos] = b"\xff\xff\xff\xff\x0f" if rnd.random() < 0.5 else b"\x80" * 9 + b"\x01"
    return bytes(out)


@fuzz(1200)
@given(SEEDS)
def test_mutated_valid_encodings_never_raise(seed: int) -> None:
    rnd = random.Random(seed)
    check("raw", mutate(rnd.choice(ENCODED), rnd))


@fuzz(400)
@given(st.integers(min_value=0, max_value=2**32 - 1), st.sampled_from(range(len(ENCODED))),
       st.sampled_from(STREAMS))
def test_wrong_schema_ids_never_raise(schema_id: int, which: int, stream: str) -> None:
    # Whatever the format, replacing the first five bytes with magic 0 + another id must not crash.
    data = ENCODED[which]
    check(stream, struct.pack(">bI", 0, schema_id) + data[5:])


def test_every_truncation_of_valid_encodings_is_an_error_or_a_record() -> None:
    for data in ENCODED:
        for cut in range(len(data)):
            result = check("raw", data[:cut])
            if cut < 5:
                assert isinstance(result, DecodeError), (cut, result)


def test_records_of_one_stream_read_as_another_never_raise() -> None:
    for data in ENCODED:
        for stream in STREAMS:
            check(stream, data)


@pytest.mark.parametrize("size", [1 << 20, 4 << 20])
def test_oversized_records_never_raise(size: int) -> None:
    check("raw", b"\x00" * size)
    check("raw", ENCODED[0] + b"\x00" * size)
    check("raw", ENCODED[0][:5] + b"\xfe\xff\xff\xff\x0f" + b"A" * size)
    big = dict(EVENTS[0], declaration_ref="x" * 200, seals=["s" * 200] * 64)
    check("raw", codec.encode("raw", big) + b"\x01" * size)


def test_empty_and_tombstone_records_are_errors() -> None:
    assert isinstance(check("raw", None), DecodeError)
    assert isinstance(check("raw", b""), DecodeError)
