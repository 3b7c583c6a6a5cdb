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
The field readers it calls for the uncommon forms: ``avro_splice_fields``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bordersync.wire.avro_fast import EPOCH, MILLI
from bordersync.wire.avro_splice_fields import (
    _PRIMITIVES,
    _NotCanonical,
    _Read,
    _read_long,
    _read_string,
    _reader,
    _Unsupported,
)

__all__ = ["Fold", "FoldField", "SpanReader", "Spans", "_NotCanonical", "_read_long", "span_reader"]

Spans = tuple[str, list[int]]  # (record branch's full name, [start, end of field 0, end of 1...])
# A field as a fold sees it: (name, how the reader reads it inline, optional, enum symbols).
FoldField = tuple[str, str | None, bool, tuple[str, ...]]
# A fold: for a branch's fields, (test, result items, scope) or None (no fold for that branch).
Fold = Callable[[list[FoldField]], tuple[str, str, dict[str, Any]] | None]


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
        if fold is not None:  # strings as Latin-1 slices, this read where in doubt (_generate)
            self.read = _generate(parsed, named, isinstance(schema, list), fold, sid, self.read)


# A string's first byte -> 1 + its length where that byte is all of it (even, under 0x80: a
# length under 64, not a negative count), else 0: one subscript rather than two tests.
_HEAD = tuple(0 if b & 0x81 else 1 + (b >> 1) for b in range(256))


def _short_string(pad: str, p0: str, p1: str, store: str, otherwise: str,
                  text: str = "d[{}:{}].decode()") -> list[str]:
    """Generated lines reading a string at ``p0`` whose length fits the one-byte varint inline
    (``store`` formats the decoded value into a statement), its end into ``p1``, anything else
    by ``otherwise``."""
    # ``H``: the read's local of ``_HEAD``. A length past the end is not checked here: the
    # slice is short, the end lands past the end, and the next field's ``d[...]`` raises or
    # the read's final ``!= n`` refuses; the read gives None either way, as the field's
    # reader would.
    return [f"{pad}k = H[d[{p0}]]",
            f"{pad}if k:",
            f"{pad}    {p1} = {p0} + k",
            f"{pad}    {store.format(text.format(f'{p0} + 1', p1))}",
            f"{pad}else:",
            f"{pad}    {otherwise}"]


def _varint(pad: str, v: str, p0: str, p1: str, bits: int = 64) -> list[str]:
    """Generated lines reading a zig-zag varint at ``p0`` into ``v`` as ``_read_long`` does
    (its minimal form only, at most nine bytes), without its call, its end into ``p1``: the
    event time (six bytes) and mass each event. Unrolled, a ``while`` run once for its
    ``break``: the loop's shift and position counting cost more than the bytes' reading.
    ``bits`` 32: an int's range checked, only past four bytes (fewer hold under 2**28)."""
    lines = [f"{pad}b = d[{p0}]",
             f"{pad}if b < 0x80:",
             f"{pad}    {v} = (b >> 1) ^ -(b & 1); {p1} = {p0} + 1",
             f"{pad}else:"]
    # the bytes added whole, their continuation bits (every byte's but the last) taken off
    # once at the end: no mask a byte
    lines += [f"{pad}    {v} = b", f"{pad}    while True:"]
    for k in range(1, 9):
        high = sum(0x80 << 7 * j for j in range(k))
        lines.append(f"{pad}        b = d[{p0} + {k}]; {v} += b << {7 * k}")
        if k < 4 or bits == 64:
            lines.append(f"{pad}        if b < 0x80: {p1} = {p0} + {k + 1}; {v} -= {high:#x}; break")
        else:  # zig-zag of an int: under 2**32
            lines += [f"{pad}        if b < 0x80:",
                      f"{pad}            {p1} = {p0} + {k + 1}; {v} -= {high:#x}",
                      f"{pad}            if {v} >> {bits}: raise _NotCanonical",
                      f"{pad}            break"]
    return [*lines, f"{pad}        raise _NotCanonical",  # a tenth byte
            f"{pad}    if b == 0: raise _NotCanonical",  # padded
            f"{pad}    {v} = ({v} >> 1) ^ -({v} & 1)"]


def _inline(schema: Any, named: dict[str, _Read], ns: str, read: str, lines: list[str],
            pad: str, scope: dict[str, Any], enums: dict[str, Any], v: str, slow: str,
            p0: str, p1: str, text: str = "d[{}:{}].decode()"
            ) -> tuple[str | None, tuple[str, ...]]:
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
        lines += _short_string(pad, p0, p1, f"{v} = {{}}", f"{v}, {p1} = {read}(d, {p0}){slow}",
                               text)
        return "string", ()
    if kind == "enum":
        symbols = f"S{len(scope)}"  # the scope only grows: a new name
        # by the index's one byte (even, under 0x80): its symbol; None for any other byte
        scope[symbols] = tuple(schema["symbols"][b >> 1] if not b & 1 and b < 0x80
                               and b >> 1 < len(schema["symbols"]) else None for b in range(256))
        lines += [f"{pad}{v} = {symbols}[d[{p0}]]",
                  f"{pad}if {v} is not None:",
                  f"{pad}    {p1} = {p0} + 1",
                  f"{pad}else:",
                  f"{pad}    {v}, {p1} = {read}(d, {p0}){slow}"]
        return "enum", tuple(schema["symbols"])
    if isinstance(schema, dict) and schema.get("type") == "array" \
            and schema.get("items") == "string":
        # One block of a count under 64 (then every item as a string above); the rest, empty
        # arrays included, through the field's reader.
        # One item (a seal, most often): its list built at once, no loop and append.
        lines += [f"{pad}b = d[{p0}]",
                  f"{pad}if not b & 0x81 and b:",
                  f"{pad}    p = {p0} + 1",
                  f"{pad}    if b == 2:",
                  *_short_string(pad + "        ", "p", "q", f"{v} = [{{}}]; p = q",
                                 f"x, p = _read_string(d, p); {v} = [x]{slow}", text),
                  f"{pad}    else:",
                  f"{pad}        c = b >> 1",
                  f"{pad}        if c > n - p: raise _NotCanonical",
                  f"{pad}        {v} = []",
                  f"{pad}        for _ in range(c):",
                  *_short_string(pad + "            ", "p", "q", f"{v}.append({{}}); p = q",
                                 f"x, p = _read_string(d, p); {v}.append(x){slow}", text),
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
        lines += _varint(pad, v, p0, p1, 32)
        return "int", ()
    if kind == "long" or (isinstance(schema, dict) and schema.get("type") == "long"
                          and "logicalType" not in schema):
        lines += _varint(pad, v, p0, p1)
        return "long", ()
    lines.append(f"{pad}{v}, {p1} = {read}(d, {p0}){slow}")
    return None, ()


def _generate(branches: list[tuple[str, list[tuple[str, Any, _Read]]]], named: dict[str, _Read],
              union: bool, fold: Fold | None = None, sid: int | None = None,
              exact: Callable[[bytes, int], tuple[Any, ...] | None] | None = None
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
    schema id ``sid``, the spans are ``(sid, branch, ends, d)`` (``splicing.Spans``).

    Given the ``exact`` read (a fold's, as above), the inline strings are slices of the record
    decoded as Latin-1 once (``s``), not a bytes slice and a UTF-8 decode each: the same string
    where its bytes are ASCII. The fold's text is then encoded as ASCII (``_ENC``): it holds
    every string of a record it digests (escaping keeps anything not ASCII), so a string not
    ASCII raises there; that, any other exception and a fold not taken give the ``exact`` read
    of the record (the UTF-8 strings, or None)."""
    scope: dict[str, Any] = {"_NotCanonical": _NotCanonical, "EPOCH": EPOCH, "MILLI": MILLI,
                             "_read_long": _read_long, "_read_string": _read_string,
                             "_ENC": "utf-8" if exact is None else "ascii", "EXACT": exact,
                             "_HEAD": _HEAD}
    lines = ["def read(d, p):", "  try:", "    n = len(d); H = _HEAD"]
    text, doubt = "d[{}:{}].decode()", "None"
    if exact is not None:
        lines += ["    start = p", "    s = d.decode('latin-1')"]
        text, doubt = "s[{}:{}]", "EXACT(d, start)"
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
        lines.append(f"{pad}e0 = p")
        if fold is not None:
            lines.append(f"{pad}f = 0")
        seen: list[FoldField] = []
        # The fields before the first optional one go in one dict display (``out``) after
        # them, a store each cost more; any later field is stored when present.
        first = next((i for i, (_, t, _) in enumerate(fields) if _optional(t)), len(fields))
        for i, (name, schema, read) in enumerate(fields):
            optional = _optional(schema)
            if i == first:
                lines.append(pad + _display(fields[:first]))
            reader = f"R{k}_{i}"
            scope[reader] = read
            v, slow = f"x{i}", ("" if fold is None else "; f = 1")
            start, end = f"e{i}", f"e{i + 1}"
            if optional:
                lines += [f"{pad}b = d[{start}]", f"{pad}if b == 0:", f"{pad}    {end} = {start} + 1"]
                if fold is not None:
                    lines.append(f"{pad}    {v} = None")
                lines += [f"{pad}elif b == 2:", f"{pad}    p = {start} + 1"]
                how, symbols = _inline(schema[1], named, ns, f"{reader}_", lines, pad + "    ",
                                       scope, enums, v, slow, "p", end, text)
                scope[f"{reader}_"] = _reader(schema[1], named, ns)
                lines += [f"{pad}    out[{name!r}] = {v}", f"{pad}else:",
                          f"{pad}    raise _NotCanonical"]
            else:
                how, symbols = _inline(schema, named, ns, reader, lines, pad, scope, enums, v,
                                       slow, start, end, text)
                if i > first:
                    lines.append(f"{pad}out[{name!r}] = {v}")
            seen.append((name, how, optional, symbols))
        if first == len(fields):
            lines.append(pad + _display(fields))
        ends = ", ".join(f"e{i}" for i in range(len(fields) + 1))
        spans = f"(NAME{k}, [{ends}])" if sid is None else f"({sid!r}, NAME{k}, [{ends}], d)"
        lines += [f"{pad}if e{len(fields)} != n:", f"{pad}    raise _NotCanonical"]
        plan = None if fold is None else fold(seen)
        if plan is None and exact is not None:
            lines.append(f"{pad}return {doubt}")
            continue
        if plan is None:
            lines.append(f"{pad}return out, {spans}" + ("" if fold is None else ", None"))
            continue
        test, result, more = plan
        if any(scope.get(key, value) != value for key, value in more.items()):
            raise _Unsupported("fold globals")  # a name of the reader's own
        scope.update(more)
        doubted = f"out, {spans}, None" if exact is None else doubt
        lines += [f"{pad}if f or not ({test}):",
                  f"{pad}    return {doubted}", f"{pad}return out, {spans}, {result}"]
    lines += ["    return None", "  except Exception:", f"    return {doubt}"]
    exec("\n".join(lines), scope)  # generated from the schema only: field names are repr()'d
    generated: Callable[[bytes, int], tuple[Any, ...] | None] = scope["read"]
    return generated


def _optional(schema: Any) -> bool:
    return isinstance(schema, list) and len(schema) == 2 and schema[0] == "null"


def _display(fields: list[tuple[str, Any, _Read]]) -> str:
    """``out`` as a dict display of these fields' locals (``x<index>``), in field order."""
    return f"out = {{{', '.join(f'{name!r}: x{i}' for i, (name, _, _) in enumerate(fields))}}}"


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
