"""The span reader's field readers (``avro_splice``): one closure per field schema, each
reading only the canonical encoding (``avro_splice``'s docstring says why) and raising on
anything else. The generated reader inlines the common forms and calls these for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bordersync.wire.avro_fast import EPOCH, MILLI

# (value, p) -> (value, end); raises on anything the general reader should look at instead
_Read = Callable[[bytes, int], tuple[Any, int]]


class _NotCanonical(Exception):
    pass


class _Unsupported(Exception):
    pass


def _read_long(d: bytes, p: int) -> tuple[int, int]:
    """A zig-zag varint in its minimal form only (no trailing 0x00 continuation byte), of at
    most nine bytes (beyond every timestamp and int: the general path decides). The loop is
    here rather than a call to the general reader's: two varints an event (time, mass)."""
    b = d[p]
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), p + 1
    n = b & 0x7F
    shift = 7
    p += 1
    while True:
        b = d[p]  # past the end: IndexError, and the read gives None
        p += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift > 56:  # a tenth byte
            raise _NotCanonical
    if b == 0:  # padded
        raise _NotCanonical
    return (n >> 1) ^ -(n & 1), p


def _read_string(d: bytes, p: int) -> tuple[str, int]:
    b = d[p]
    if b < 0x80 and not b & 1:  # lengths under 64: one byte, the common case
        p += 1
        end = p + (b >> 1)
    else:
        n, p = _read_long(d, p)
        end = p + n
        if n < 0:
            raise _NotCanonical
    if end > len(d):
        raise _NotCanonical
    return d[p:end].decode(), end


def _read_int(d: bytes, p: int) -> tuple[int, int]:
    n, p = _read_long(d, p)
    if not -(2**31) <= n < 2**31:
        raise _NotCanonical
    return n, p


def _read_timestamp(d: bytes, p: int) -> tuple[Any, int]:
    n, p = _read_long(d, p)
    return EPOCH + MILLI * n, p  # = timedelta(milliseconds=n), without parsing a keyword


def _read_boolean(d: bytes, p: int) -> tuple[bool, int]:
    b = d[p]
    if b > 1:
        raise _NotCanonical
    return b == 1, p + 1


_PRIMITIVES: dict[str, _Read] = {"string": _read_string, "int": _read_int, "long": _read_long,
                                 "boolean": _read_boolean}


def _reader(schema: Any, named: dict[str, _Read], ns: str) -> _Read:
    """Doubles, bytes, maps, nested records and general unions are left to the general path."""
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        for full in (f"{ns}.{schema}" if ns and "." not in schema else schema, schema):
            if full in named:
                return named[full]
        raise _Unsupported(schema)
    if isinstance(schema, list):
        if len(schema) != 2 or schema[0] != "null":
            raise _Unsupported("union")
        inner = _reader(schema[1], named, ns)

        def read_optional(d: bytes, p: int) -> tuple[Any, int]:
            b = d[p]
            if b == 0:
                return None, p + 1
            if b != 2:
                raise _NotCanonical
            return inner(d, p + 1)

        return read_optional
    kind = schema["type"]
    if kind == "long" and schema.get("logicalType") == "timestamp-millis":
        return _read_timestamp
    if "logicalType" in schema:
        raise _Unsupported(schema["logicalType"])
    if kind == "enum":
        return _enum_reader(schema, named, ns)
    if kind == "array":
        return _array_reader(_reader(schema["items"], named, ns))
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    raise _Unsupported(kind)


def _enum_reader(schema: Any, named: dict[str, _Read], ns: str) -> _Read:
    symbols = list(schema["symbols"])
    count = len(symbols)

    def read_enum(d: bytes, p: int) -> tuple[str, int]:
        i, p = _read_long(d, p)
        if not 0 <= i < count:
            raise _NotCanonical
        return symbols[i], p

    name = schema["name"]
    named[name if "." in name else f"{schema.get('namespace', ns)}.{name}".lstrip(".")] = read_enum
    return read_enum


def _array_reader(item: _Read) -> _Read:
    def read_array(d: bytes, p: int) -> tuple[list[Any], int]:
        n, p = _read_long(d, p)
        if n == 0:
            return [], p
        if n < 0 or n > len(d) - p:  # a block with its byte size, or beyond the end
            raise _NotCanonical
        out = []
        for _ in range(n):
            x, p = item(d, p)
            out.append(x)
        if d[p] != 0:  # a second block
            raise _NotCanonical
        return out, p + 1

    return read_array
