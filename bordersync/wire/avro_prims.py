"""Avro binary primitives for the compiled codec (``bordersync.wire.avro_fast``): zig-zag varints,
strings, doubles, booleans and timestamp-millis, written and read exactly as fastavro does (the
codec's tests compare bytes with fastavro). Split from the compiler so each stays small."""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes, int], tuple[Any, int]]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLI = timedelta(milliseconds=1)
_DOUBLE = struct.Struct("<d")
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_MISSING = object()


class Unsupported(Exception):
    """A schema construct this module does not compile (the codec uses fastavro instead)."""


class FieldError(ValueError):
    """A value that does not fit its schema; ``path`` names the field."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


def _zigzag(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    if 0x800000000 <= n < 0x40000000000:
        # Six bytes: every millisecond timestamp from 1971 to 2248, the most frequent long here.
        return ((n & 0x7F) | ((n & 0x3F80) << 1) | ((n & 0x1FC000) << 2) | ((n & 0xFE00000) << 3)
                | ((n & 0x7F0000000) << 4) | ((n & 0x3F800000000) << 5)
                | 0x8080808080).to_bytes(6, "little")
    out = []
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [_zigzag(i) for i in range(1024)]


def write_long(n: int) -> bytes:
    if 0 <= n < 1024:
        return _SMALL[n]
    if not _LONG_MIN <= n <= _LONG_MAX:
        raise ValueError(f"{n} out of the Avro long range")
    return _zigzag(n)


def _write_int(n: int) -> bytes:
    if type(n) is not int or not _INT_MIN <= n <= _INT_MAX:
        raise ValueError(f"{n!r} is not a 32-bit int")
    return write_long(n)


def _write_long(n: int) -> bytes:
    if type(n) is not int:
        raise ValueError(f"{n!r} is not an integer")
    return write_long(n)


def _write_string(s: str) -> bytes:
    b = s.encode()
    n = len(b)
    return (_SMALL[n] if n < 1024 else write_long(n)) + b


_CACHED_STRINGS = 512


def _cached_string_writer() -> Encoder:
    """A string writer for one schema site that remembers its first distinct values.

    Codes, post ids, crossings and agency names repeat on every record; ids and plates fill the
    cache once and then only cost the lookup. Bounded, never cleared: no churn, no leak.
    """
    cache: dict[str, bytes] = {}
    get = cache.get

    def write_string(s: str) -> bytes:
        try:
            b = get(s)
        except TypeError:  # unhashable: not a string, fails as the plain writer does
            return _write_string(s)
        if b is None:  # _write_string's, inline: a miss (ids, plates) costs no further call
            data = s.encode()
            n = len(data)
            b = (_SMALL[n] if n < 1024 else write_long(n)) + data
            if len(cache) < _CACHED_STRINGS and type(s) is str:
                cache[s] = b
        return b

    return write_string


def _write_double(x: float) -> bytes:
    if type(x) not in (float, int):
        raise ValueError(f"{x!r} is not a number")
    return _DOUBLE.pack(x)


def _write_boolean(v: bool) -> bytes:
    if type(v) is not bool:
        raise ValueError(f"{v!r} is not a boolean")
    return b"\x01" if v else b"\x00"


def _not_null(v: Any) -> bytes:
    raise ValueError(f"{v!r} is not null")


def _write_timestamp(v: datetime | int) -> bytes:
    if type(v) is int:
        return write_long(v)
    if v.tzinfo is not UTC and v.utcoffset() is None:  # type: ignore[union-attr]
        raise ValueError(f"naive datetime {v!r}: times must be timezone-aware")
    return write_long((v - EPOCH) // MILLI)  # type: ignore[operator]


def _timestamp_writer() -> Encoder:
    """A timestamp writer for one schema site; the batch's ``now`` repeats on every record."""
    last: list[Any] = [None, b""]

    def write_timestamp(v: datetime | int) -> bytes:
        if v is last[0]:
            return last[1]  # type: ignore[no-any-return]
        b = _write_timestamp(v)
        if type(v) is datetime:
            last[0], last[1] = v, b
        return b

    return write_timestamp


def read_long(d: bytes, p: int) -> tuple[int, int]:
    b = d[p]
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), p + 1
    n = b & 0x7F
    shift = 7
    p += 1
    while True:
        b = d[p]
        p += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return (n >> 1) ^ -(n & 1), p
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _read_string(d: bytes, p: int) -> tuple[str, int]:
    b = d[p]
    if b < 0x80 and not b & 1:  # lengths under 64: one byte, the common case
        end = p + 1 + (b >> 1)
        if end > len(d):
            raise ValueError("string beyond the end of the record")
        return d[p + 1:end].decode(), end
    n, p = read_long(d, p)
    end = p + n
    if n < 0 or end > len(d):
        raise ValueError(f"string length {n} beyond the end of the record")
    return d[p:end].decode(), end


def _read_double(d: bytes, p: int) -> tuple[float, int]:
    return _DOUBLE.unpack_from(d, p)[0], p + 8


def _read_boolean(d: bytes, p: int) -> tuple[bool, int]:
    b = d[p]
    if b > 1:
        raise ValueError(f"boolean byte {b}")
    return b == 1, p + 1


def _read_int(d: bytes, p: int) -> tuple[int, int]:
    n, p = read_long(d, p)
    if not _INT_MIN <= n <= _INT_MAX:
        raise ValueError(f"int {n} out of range")
    return n, p


def _read_timestamp(d: bytes, p: int) -> tuple[datetime, int]:
    n, p = read_long(d, p)
    return EPOCH + MILLI * n, p  # = timedelta(milliseconds=n), without parsing a keyword


def _read_null(d: bytes, p: int) -> tuple[None, int]:
    return None, p


_PRIMITIVE_WRITERS: dict[str, Encoder] = {
    "null": lambda v: b"" if v is None else _not_null(v), "boolean": _write_boolean,
    "int": _write_int, "long": _write_long, "double": _write_double, "string": _write_string,
}
_PRIMITIVE_READERS: dict[str, Decoder] = {
    "null": _read_null, "boolean": _read_boolean, "int": _read_int, "long": read_long,
    "double": _read_double, "string": _read_string,
}
