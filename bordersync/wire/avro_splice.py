"""Output records spliced from the input record's Avro bytes (issue 19).

Why: a crossing or inspection goes out as its input event plus two fields; re-encoding every
field it carries unchanged was the largest single cost of the stream processor. Here the input is
read once by a reader that also notes where each field ends (this module), and an output field
whose type is the input field's (structurally, ``avro_share._Shapes``) is that slice of the
input's bytes (``splicing.Splicer``).

Only where the input is **canonically** encoded: minimal varints (lengths, longs, ints, enum and
union indices, block counts) and every array in one block with a positive count. Those are the
bytes an encoder writes, so the slice equals what re-encoding the decoded value gives. Any other
valid encoding (an Avro writer may split arrays in blocks, give block sizes or pad varints) makes
``read`` return None and the caller takes the general path: decode, then encode in full.
The reader also gives up on anything unusual (errors included) so the general path says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bordersync.wire.avro_fast import EPOCH, MILLI

# (value, p) -> (value, end); raises on anything the general reader should look at instead
_Read = Callable[[bytes, int], tuple[Any, int]]
Spans = tuple[str, list[int]]  # (record branch's full name, [start, end of field 0, end of 1...])
# A field as a fold sees it: (name, how the reader reads it inline, optional, enum symbols).
FoldField = tuple[str, str | None, bool, tuple[str, ...]]
# A fold: for a branch's fields, (test, result items, scope) or None (no fold for that branch).
Fold = Callable[[list[FoldField]], tuple[str, str, dict[str, Any]] | None]


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


class SpanReader:
    """Reads a union of records (the raw topic's schema) or one record, nulls left out as the
    event reader does, with the end of every field; None for anything not canonical.

    ``read`` is one function generated from the schema (``_generate``): the union index, then the
    branch's fields in order, strings, enums and optional strings inline in their one-byte-length
    form, everything else through the field's reader from ``_reader``. Why: a call and a tuple
    per field, then a call per branch, were most of the read."""

    def __init__(self, schema: Any, fold: Fold | None = None, sid: int | None = None) -> None:
        branches = schema if isinstance(schema, list) else [schema]
        named: dict[str, _Read] = {}
        parsed: list[tuple[str, list[tuple[str, Any, _Read]]]] = []
        for branch in branches:
            if not isinstance(branch, dict) or branch.get("type") != "record":
                raise _Unsupported("not a record")
            ns = branch.get("namespace", "")
            full = branch["name"] if "." in branch["name"] else f"{ns}.{branch['name']}".lstrip(".")
            fields = [(f["name"], f["type"], _reader(f["type"], named, full.rpartition(".")[0]))
                      for f in branch["fields"]]
            parsed.append((full, fields))
        # Not canonical, or not valid at all (any exception): None, the general path decides.
        self.read: Callable[[bytes, int], tuple[Any, ...] | None] = _generate(
            parsed, named, isinstance(schema, list), fold, sid)


def _short_string(pad: str, p0: str, p1: str, store: str, otherwise: str) -> list[str]:
    """Generated lines reading a string at ``p0`` whose length fits the one-byte varint inline
    (``store`` formats the decoded value into a statement), its end into ``p1``, anything else
    by ``otherwise``."""
    # ``not b & 0x81``: below 0x80 and even (a length, not a negative count). A length past
    # the end is not checked here: the slice is short, the end lands past the end, and the next
    # field's ``d[...]`` raises or the read's final ``!= n`` refuses; the read gives None
    # either way, as the field's reader would.
    return [f"{pad}b = d[{p0}]",
            f"{pad}if not b & 0x81:",
            f"{pad}    {p1} = {p0} + 1 + (b >> 1)",
            f"{pad}    {store.format(f'd[{p0} + 1:{p1}].decode()')}",
            f"{pad}else:",
            f"{pad}    {otherwise}"]


def _varint(pad: str, v: str, p0: str, p1: str) -> list[str]:
    """Generated lines reading a zig-zag varint at ``p0`` into ``v`` as ``_read_long`` does
    (its minimal form only, at most nine bytes), without its call, its end into ``p1``: the
    event time and mass each event."""
    return [f"{pad}b = d[{p0}]",
            f"{pad}if b < 0x80:",
            f"{pad}    {v} = (b >> 1) ^ -(b & 1); {p1} = {p0} + 1",
            f"{pad}else:",
            f"{pad}    {v} = b & 0x7F; s = 7; p = {p0} + 1",
            f"{pad}    while True:",
            f"{pad}        b = d[p]; p += 1",
            f"{pad}        {v} |= (b & 0x7F) << s",
            f"{pad}        if b < 0x80: break",
            f"{pad}        s += 7",
            f"{pad}        if s > 56: raise _NotCanonical",
            f"{pad}    if b == 0: raise _NotCanonical",
            f"{pad}    {v} = ({v} >> 1) ^ -({v} & 1); {p1} = p"]


def _inline(schema: Any, named: dict[str, _Read], ns: str, read: str, lines: list[str],
            pad: str, scope: dict[str, Any], enums: dict[str, Any], v: str, slow: str,
            p0: str, p1: str) -> tuple[str | None, tuple[str, ...]]:
    """Lines setting ``v`` (a local's name) and the field's end ``p1`` from its start ``p0``
    (another local: ``p`` is the scratch position): inline for the common one-byte forms, the
    field's reader (``read``, a global of the generated code) for the rest, followed by
    ``slow``. Constants go in ``scope`` (the generated code's globals); ``enums``: the branch's
    enum schemas by name. Returns the inline form's kind and an enum's symbols (``FoldField``).
    Why start and end locals rather than one position: the spans need every end anyway."""
    kind = schema if isinstance(schema, str) else None
    if isinstance(schema, dict) and schema.get("type") == "enum" and "logicalType" not in schema:
        kind = "enum"
    elif isinstance(kind, str) and kind not in _PRIMITIVES:
        full = next((f for f in (f"{ns}.{kind}" if ns and "." not in kind else kind, kind)
                     if f in named), None)
        kind = None
        if full is not None and full in enums:
            kind, schema = "enum", enums[full]
    if kind == "string":
        lines += _short_string(pad, p0, p1, f"{v} = {{}}", f"{v}, {p1} = {read}(d, {p0}){slow}")
        return "string", ()
    if kind == "enum":
        symbols = f"S{len(scope)}"  # the scope only grows: a new name
        scope[symbols] = tuple(schema["symbols"])
        lines += [f"{pad}b = d[{p0}]",
                  f"{pad}if not b & 1 and b < {min(2 * len(schema['symbols']), 0x80)}:",
                  f"{pad}    {v} = {symbols}[b >> 1]; {p1} = {p0} + 1",
                  f"{pad}else:",
                  f"{pad}    {v}, {p1} = {read}(d, {p0}){slow}"]
        return "enum", scope[symbols]
    if isinstance(schema, dict) and schema.get("type") == "array" \
            and schema.get("items") == "string":
        # One block of a count under 64 (then every item as a string above); the rest, empty
        # arrays included, through the field's reader.
        lines += [f"{pad}b = d[{p0}]",
                  f"{pad}if not b & 0x81 and b:",
                  f"{pad}    c = b >> 1; p = {p0} + 1",
                  f"{pad}    if c > n - p: raise _NotCanonical",
                  f"{pad}    {v} = []",
                  f"{pad}    for _ in range(c):",
                  *_short_string(pad + "        ", "p", "q", f"{v}.append({{}}); p = q",
                                 f"x, p = _read_string(d, p); {v}.append(x){slow}"),
                  f"{pad}    if d[p] != 0: raise _NotCanonical",
                  f"{pad}    {p1} = p + 1",
                  f"{pad}else:",
                  f"{pad}    {v}, {p1} = {read}(d, {p0}){slow}"]
        return "strings", ()
    if isinstance(schema, dict) and schema.get("logicalType") == "timestamp-millis" \
            and schema.get("type") == "long":
        # the milliseconds kept in ``m`` + the local's name (a fold reads them)
        lines += [*_varint(pad, f"m{v}", p0, p1), f"{pad}{v} = EPOCH + MILLI * m{v}"]
        return "timestamp", ()
    if kind == "int" or (isinstance(schema, dict) and schema.get("type") == "int"
                         and "logicalType" not in schema):
        lines += [*_varint(pad, v, p0, p1),
                  f"{pad}if not -0x80000000 <= {v} <= 0x7FFFFFFF: raise _NotCanonical"]
        return "int", ()
    if kind == "long" or (isinstance(schema, dict) and schema.get("type") == "long"
                          and "logicalType" not in schema):
        lines += _varint(pad, v, p0, p1)
        return "long", ()
    lines.append(f"{pad}{v}, {p1} = {read}(d, {p0}){slow}")
    return None, ()


def _generate(branches: list[tuple[str, list[tuple[str, Any, _Read]]]], named: dict[str, _Read],
              union: bool, fold: Fold | None = None, sid: int | None = None
              ) -> Callable[[bytes, int], tuple[Any, ...] | None]:
    """The reader as Python source: a union's index (one byte inline), then per branch its
    fields in order, an optional field's value kept when not None (so the dict's order is the
    field order, as the closures' reader gave; no other field's reader gives None), then the
    spans. Any exception (past the end, not canonical, invalid) gives None.

    With a ``fold`` (``SpanReader``), field ``i``'s value is also the local ``x<i>`` (None when
    an optional field is null; for a timestamp, its milliseconds ``mx<i>``), and ``f`` is 1
    once a field took its reader rather than the inline form; after the spans the read then
    gives the items of the fold's result (an expression list: no tuple of its own) where ``f``
    is 0 and its test holds, else one None. With a
    schema id ``sid``, the spans are ``(sid, branch, ends, d)`` (``splicing.Spans``)."""
    scope: dict[str, Any] = {"_NotCanonical": _NotCanonical, "EPOCH": EPOCH, "MILLI": MILLI,
                             "_read_long": _read_long, "_read_string": _read_string}
    lines = ["def read(d, p):", "  try:", "    n = len(d)"]
    if union:
        lines += ["    b = d[p]", "    if not b & 0x81:", "        index = b >> 1; p += 1",
                  "    else:", "        index, p = _read_long(d, p)"]
    for k, (full, fields) in enumerate(branches):
        ns = full.rpartition(".")[0]
        enums = _enum_schemas(fields, ns)
        scope[f"NAME{k}"] = full
        if union:
            lines.append(f"    if index == {k}:")
        pad = "        " if union else "    "
        lines += [f"{pad}out = {{}}", f"{pad}e0 = p"]
        if fold is not None:
            lines.append(f"{pad}f = 0")
        seen: list[FoldField] = []
        for i, (name, schema, read) in enumerate(fields):
            reader = f"R{k}_{i}"
            scope[reader] = read
            v, slow = ("v", "") if fold is None else (f"x{i}", "; f = 1")
            optional = isinstance(schema, list) and len(schema) == 2 and schema[0] == "null"
            start, end = f"e{i}", f"e{i + 1}"
            if optional:
                lines += [f"{pad}b = d[{start}]", f"{pad}if b == 0:", f"{pad}    {end} = {start} + 1"]
                if fold is not None:
                    lines.append(f"{pad}    {v} = None")
                lines += [f"{pad}elif b == 2:", f"{pad}    p = {start} + 1"]
                how, symbols = _inline(schema[1], named, ns, f"{reader}_", lines, pad + "    ",
                                       scope, enums, v, slow, "p", end)
                scope[f"{reader}_"] = _reader(schema[1], named, ns)
                lines += [f"{pad}    out[{name!r}] = {v}", f"{pad}else:",
                          f"{pad}    raise _NotCanonical"]
            else:
                how, symbols = _inline(schema, named, ns, reader, lines, pad, scope, enums, v,
                                       slow, start, end)
                lines.append(f"{pad}out[{name!r}] = {v}")
            seen.append((name, how, optional, symbols))
        ends = ", ".join(f"e{i}" for i in range(len(fields) + 1))
        spans = f"(NAME{k}, [{ends}])" if sid is None else f"({sid!r}, NAME{k}, [{ends}], d)"
        lines += [f"{pad}if e{len(fields)} != n:", f"{pad}    raise _NotCanonical"]
        plan = None if fold is None else fold(seen)
        if plan is None:
            lines.append(f"{pad}return out, {spans}" + ("" if fold is None else ", None"))
            continue
        test, result, more = plan
        if any(scope.get(key, value) != value for key, value in more.items()):
            raise _Unsupported("fold globals")  # a name of the reader's own
        scope.update(more)
        lines += [f"{pad}if f or not ({test}):",
                  f"{pad}    return out, {spans}, None", f"{pad}return out, {spans}, {result}"]
    lines += ["    return None", "  except Exception:", "    return None"]
    exec("\n".join(lines), scope)  # generated from the schema only: field names are repr()'d
    generated: Callable[[bytes, int], tuple[Any, ...] | None] = scope["read"]
    return generated


def _enum_schemas(fields: list[tuple[str, Any, _Read]], ns: str) -> dict[str, Any]:
    """Enum schemas defined in these fields by full name, so a later reference inlines too."""
    found: dict[str, Any] = {}

    def walk(schema: Any) -> None:
        if isinstance(schema, list):
            for branch in schema:
                walk(branch)
        elif isinstance(schema, dict):
            if schema.get("type") == "enum":
                name = schema["name"]
                found[name if "." in name else f"{schema.get('namespace', ns)}.{name}"
                      .lstrip(".")] = schema
            elif schema.get("type") == "array":
                walk(schema["items"])

    for _, schema, _ in fields:
        walk(schema)
    return found


def span_reader(schema: Any, fold: Fold | None = None, sid: int | None = None
                ) -> SpanReader | None:
    try:
        return SpanReader(schema, fold, sid)
    except (_Unsupported, KeyError, TypeError, AttributeError):
        return None
