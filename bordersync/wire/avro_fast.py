"""Avro binary encoders/decoders compiled once per schema into closures.

Why: fastavro's per-call overhead (schema bookkeeping on every ``schemaless_*`` call) made it 2-3x
slower than these closures for bordersync's small records, and the codec is on every hot path.
Scope: the types bordersync schemas use (null, boolean, int, long, double, string, enum, array,
record, unions with tuple notation, timestamp-millis). ``compile_writer``/``compile_reader``
return None for anything else and the codec falls back to fastavro, which also does every
writer -> reader schema resolution. The output is byte-for-byte fastavro's (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import call
from typing import Any

from bordersync.wire.avro_prims import (
    _MISSING,
    _PRIMITIVE_READERS,
    _PRIMITIVE_WRITERS,
    EPOCH,
    MILLI,
    Decoder,
    Encoder,
    FieldError,
    Unsupported,
    _cached_string_writer,
    _read_timestamp,
    _timestamp_writer,
    read_long,
    write_long,
)

ChunkWriter = Callable[[dict[str, Any]], list[bytes]]  # one encoded chunk per record field

__all__ = ["EPOCH", "MILLI", "ChunkWriter", "Decoder", "Encoder", "FieldError", "Unsupported",
           "compile_chunk_writer", "compile_reader", "compile_writer", "read_long", "write_long"]

class _Compiler:
    """Walks a schema (JSON form) once; named types are compiled once and reused by name."""

    def __init__(self, skip_nulls: bool = False) -> None:
        self.writers: dict[str, Encoder] = {}
        self.readers: dict[str, Decoder] = {}
        self.skip_nulls = skip_nulls

    @staticmethod
    def _full(name: str, namespace: str) -> str:
        return name if "." in name or not namespace else f"{namespace}.{name}"

    def _named(self, name: str, namespace: str, table: dict[str, Any]) -> str:
        for candidate in (self._full(name, namespace), name):
            if candidate in table:
                return candidate
        raise Unsupported(f"unknown named type {name!r}")

    def writer(self, schema: Any, ns: str = "") -> Encoder:
        if isinstance(schema, str):
            if schema == "string":
                return _cached_string_writer()
            if schema in _PRIMITIVE_WRITERS:
                return _PRIMITIVE_WRITERS[schema]
            full = self._named(schema, ns, self.writers)
            return lambda v: self.writers[full](v)
        if isinstance(schema, list):
            return self._union_writer(schema, ns)
        kind = schema["type"]
        if schema.get("logicalType") == "timestamp-millis" and kind == "long":
            return _timestamp_writer()
        if "logicalType" in schema:
            raise Unsupported(f"logical type {schema['logicalType']}")
        if kind == "enum":
            table = {s: write_long(i) for i, s in enumerate(schema["symbols"])}
            full = self._full(schema["name"], schema.get("namespace", ns))

            def write_enum(v: str) -> bytes:
                try:
                    return table[v]
                except (KeyError, TypeError):
                    raise ValueError(f"{v!r} is not a symbol of {schema['name']}") from None

            self.writers[full] = write_enum
            return write_enum
        if kind == "array":
            item = self.writer(schema["items"], ns)

            def write_array(v: list[Any]) -> bytes:
                if type(v) not in (list, tuple):
                    raise ValueError(f"expected a list, got {type(v).__name__}")
                if not v:
                    return b"\x00"
                return write_long(len(v)) + b"".join([item(x) for x in v]) + b"\x00"

            return write_array
        if kind == "record":
            return self._record_writer(schema, ns)
        if kind in _PRIMITIVE_WRITERS:
            return self.writer(kind, ns)
        raise Unsupported(f"type {kind!r}")

    def _union_writer(self, schema: list[Any], ns: str) -> Encoder:
        if len(schema) == 2 and schema[0] == "null":
            inner = self.writer(schema[1], ns)

            def write_optional(v: Any) -> bytes:
                return b"\x00" if v is None else b"\x02" + inner(v)

            return write_optional
        branches: dict[str, tuple[bytes, Encoder]] = {}
        for index, branch in enumerate(schema):
            if not isinstance(branch, dict) or branch.get("type") != "record":
                raise Unsupported("unions other than [null, T] must hold records")
            full = self._full(branch["name"], branch.get("namespace", ns))
            branches[full] = (write_long(index), self.writer(branch, ns))

        def write_union(v: Any) -> bytes:
            if type(v) is not tuple or v[0] not in branches:
                raise ValueError(f"union value must be (record name, record), got {type(v).__name__}")
            prefix, enc = branches[v[0]]
            return prefix + enc(v[1])

        return write_union

    def _record_writer(self, schema: Any, ns: str) -> Encoder:
        full = self._full(schema["name"], schema.get("namespace", ns))
        self.writers[full] = lambda v: write_record(v)  # recursive references
        chunks = self.record_chunks(schema, ns)

        def write_record(v: dict[str, Any]) -> bytes:
            return b"".join(chunks(v))

        self.writers[full] = write_record
        return write_record

    def record_chunks(self, schema: Any, ns: str = "") -> ChunkWriter:
        full = self._full(schema["name"], schema.get("namespace", ns))
        inner_ns = full.rpartition(".")[0]
        fields = [(f["name"], self.writer(f["type"], inner_ns), f.get("default", _MISSING))
                  for f in schema["fields"]]
        names = [name for name, _, _ in fields]
        encoders = [enc for _, enc, _ in fields]
        defaults = [default for _, _, default in fields]

        def record_chunks(v: dict[str, Any]) -> list[bytes]:
            try:
                # C-level loops: (encoder, value) pairs without a Python frame per field.
                return list(map(call, encoders, map(v.get, names, defaults)))
            except Exception:
                raise _explain(v, fields) from None

        return record_chunks

    def reader(self, schema: Any, ns: str = "") -> Decoder:
        if isinstance(schema, str):
            if schema in _PRIMITIVE_READERS:
                return _PRIMITIVE_READERS[schema]
            full = self._named(schema, ns, self.readers)
            return lambda d, p: self.readers[full](d, p)
        if isinstance(schema, list):
            return self._union_reader(schema, ns)
        kind = schema["type"]
        if schema.get("logicalType") == "timestamp-millis" and kind == "long":
            return _read_timestamp
        if "logicalType" in schema:
            raise Unsupported(f"logical type {schema['logicalType']}")
        if kind == "enum":
            symbols = list(schema["symbols"])
            count = len(symbols)

            def read_enum(d: bytes, p: int) -> tuple[str, int]:
                i, p = read_long(d, p)
                if not 0 <= i < count:
                    raise ValueError(f"enum index {i} out of range")
                return symbols[i], p

            self.readers[self._full(schema["name"], schema.get("namespace", ns))] = read_enum
            return read_enum
        if kind == "array":
            return self._array_reader(self.reader(schema["items"], ns))
        if kind == "record":
            return self._record_reader(schema, ns)
        if kind in _PRIMITIVE_READERS:
            return _PRIMITIVE_READERS[kind]
        raise Unsupported(f"type {kind!r}")

    @staticmethod
    def _array_reader(item: Decoder) -> Decoder:
        def read_array(d: bytes, p: int) -> tuple[list[Any], int]:
            out: list[Any] = []
            while True:
                n, p = read_long(d, p)
                if n == 0:
                    return out, p
                if n < 0:  # a block with its byte size, which we do not need
                    n = -n
                    _, p = read_long(d, p)
                if n > len(d) - p:
                    raise ValueError(f"array block of {n} items beyond the end of the record")
                for _ in range(n):
                    x, p = item(d, p)
                    out.append(x)

        return read_array

    def _union_reader(self, schema: list[Any], ns: str) -> Decoder:
        if len(schema) == 2 and schema[0] == "null":
            inner = self.reader(schema[1], ns)

            def read_optional(d: bytes, p: int) -> tuple[Any, int]:
                b = d[p]
                if b == 0:
                    return None, p + 1
                if b == 2:
                    return inner(d, p + 1)
                raise ValueError(f"union index byte {b} out of range")

            return read_optional
        branches = [self.reader(b, ns) for b in schema]
        count = len(branches)

        def read_union(d: bytes, p: int) -> tuple[Any, int]:
            i, p = read_long(d, p)
            if not 0 <= i < count:
                raise ValueError(f"union index {i} out of range")
            return branches[i](d, p)

        return read_union

    def _record_reader(self, schema: Any, ns: str) -> Decoder:
        full = self._full(schema["name"], schema.get("namespace", ns))
        inner_ns = full.rpartition(".")[0]
        self.readers[full] = lambda d, p: read_record(d, p)  # recursive references
        fields = [(f["name"], self.reader(f["type"], inner_ns)) for f in schema["fields"]]

        def read_record(d: bytes, p: int) -> tuple[dict[str, Any], int]:
            out: dict[str, Any] = {}
            for name, read in fields:
                out[name], p = read(d, p)
            return out, p

        def read_record_without_nulls(d: bytes, p: int) -> tuple[dict[str, Any], int]:
            out: dict[str, Any] = {}
            for name, read in fields:
                value, p = read(d, p)
                if value is not None:
                    out[name] = value
            return out, p

        chosen = read_record_without_nulls if self.skip_nulls else read_record
        self.readers[full] = chosen
        return chosen


def _explain(record: Any, fields: list[tuple[str, Encoder, Any]]) -> FieldError:
    """The first field that does not encode, for an error message that names it."""
    if not isinstance(record, dict):
        return FieldError("", f"expected a record (dict), got {type(record).__name__}")
    for name, enc, default in fields:
        value = record.get(name, default)
        if value is _MISSING:
            return FieldError(name, "required field missing")
        try:
            enc(value)
        except FieldError as exc:
            return FieldError(f"{name}.{exc.path}" if exc.path else name, exc.reason)
        except Exception as exc:
            return FieldError(name, f"{value!r} does not fit: {exc}")
    return FieldError("", "record does not fit its schema")


def compile_writer(schema: Any) -> Encoder | None:
    try:
        return _Compiler().writer(schema)
    except Unsupported:
        return None


def compile_chunk_writer(schema: Any) -> ChunkWriter | None:
    """For a record schema: the encoded fields in schema order (their join is the record)."""
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return None
    try:
        return _Compiler().record_chunks(schema)
    except Unsupported:
        return None


def compile_reader(schema: Any, skip_nulls: bool = False) -> Decoder | None:
    """``skip_nulls``: records leave out null fields (absent optional input-event fields)."""
    try:
        return _Compiler(skip_nulls).reader(schema)
    except Unsupported:
        return None
