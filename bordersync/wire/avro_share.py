"""A record and its share projections from one encoding of the record's fields.

Why: a share record (avro/share/v1.avsc) carries the same fields as the record it projects, each
as ``["null", T]``. Encoding every projection in full cost more than everything else the stream
processor does; here each field of the record is encoded once (``compile_chunk_writer``) and a
projection is stitched from those chunks: ``0x02 + chunk`` for an agreed field whose record type
is ``T``, the chunk itself when the record's type is already ``["null", T]``, ``0x00`` for the
rest. Built only when the two schemas line up field by field (checked once, structurally);
otherwise ``build`` returns None and the codec encodes every projection in full. The bytes are
those of ``Codec.encode`` (tested against it and against fastavro).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from bordersync.wire.avro_fast import ChunkWriter, compile_chunk_writer, compile_writer, write_long

Groups = Sequence[tuple[Sequence[str], Sequence[str]]]  # (agreed fields, agencies) per group
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NULL, _SOME = b"\x00", b"\x02"
_ROUTES_KEPT = 4096
# ``make(the record's field chunks then its bytes, every copy's head)``: the record's and every
# copy's bytes (``SharedEncoder._route``)
_Make = Callable[[Sequence[bytes], tuple[bytes, ...]], list[bytes]]
_SHARE_HEAD = [("stream", "string"), ("agency", "string"),
               ("shared_at", ("long", "timestamp-millis")), ("fields", ("array", "string"))]


class _Mismatch(Exception):
    pass


class _Shapes:
    """What decides a type's encoding, named types inlined: equal shapes, equal bytes."""

    def __init__(self, schema: Any) -> None:
        self.named: dict[str, Any] = {}
        self._collect(schema, "")

    @staticmethod
    def _full(name: str, ns: str) -> str:
        return name if "." in name or not ns else f"{ns}.{name}"

    def _collect(self, schema: Any, ns: str) -> None:
        if isinstance(schema, list):
            for branch in schema:
                self._collect(branch, ns)
        elif isinstance(schema, dict):
            kind = schema.get("type")
            if kind in ("record", "enum", "fixed"):
                full = self._full(schema["name"], schema.get("namespace", ns))
                self.named[full] = schema
                ns = full.rpartition(".")[0]
            for f in schema.get("fields", []):
                self._collect(f["type"], ns)
            for key in ("items", "values"):
                if key in schema:
                    self._collect(schema[key], ns)

    def of(self, schema: Any, ns: str, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return schema
            for full in (self._full(schema, ns), schema):
                if full in self.named:
                    return ("ref", full) if full in seen else self.of(self.named[full], ns, seen)
            raise _Mismatch(f"unknown type {schema!r}")
        if isinstance(schema, list):
            return ("union", *(self.of(b, ns, seen) for b in schema))
        kind = schema["type"]
        if "logicalType" in schema:
            return (kind, schema["logicalType"])
        if kind == "array":
            return ("array", self.of(schema["items"], ns, seen))
        if kind == "enum":
            return ("enum", *schema["symbols"])
        if kind == "record":
            full = self._full(schema["name"], schema.get("namespace", ns))
            inner = full.rpartition(".")[0]
            return ("record", *((f["name"], self.of(f["type"], inner, (*seen, full)),
                                 json.dumps(f.get("default", "<none>"), sort_keys=True))
                                for f in schema["fields"]))
        if kind in _PRIMITIVES:
            return kind
        raise _Mismatch(f"type {kind!r}")


class _Route:
    """The groups; their ``make``; per agency, its copy's head up to ``shared_at`` and the rest
    of the head (its group's ``fields`` array and union index); the heads of one ``shared_at``'s
    bytes (the batch's ``now``: once a batch)."""

    __slots__ = ("at", "groups", "heads", "make", "parts")

    def __init__(self, groups: Groups, make: _Make, parts: list[tuple[bytes, bytes]]) -> None:
        self.groups, self.make, self.parts = groups, make, parts
        self.at: bytes | None = None
        self.heads: tuple[bytes, ...] = ()

    def at_heads(self, at: bytes) -> tuple[bytes, ...]:
        self.at, self.heads = at, tuple(start + at + rest for start, rest in self.parts)
        return self.heads


class SharedEncoder:
    """Encodes a stream's record and, per group of agencies, its share projections."""

    def __init__(self, stream: str, record_header: bytes, record_schema: Any, share_header: bytes,
                 share_schema: Any, branch: str) -> None:
        chunks = compile_chunk_writer(record_schema)
        if chunks is None or compile_writer(share_schema) is None:
            raise _Mismatch("not compilable")
        self._chunks: ChunkWriter = chunks
        self._record_header = record_header
        self._prefix = share_header + _string(stream)
        fields = record_schema["fields"]
        self._names = [f["name"] for f in fields]
        self._allowed = frozenset(self._names)
        self._required = frozenset(f["name"] for f in fields if "default" not in f)
        self._optional = tuple(f["name"] for f in fields if "default" in f)
        self._wrap, self._union_index = _line_up(record_schema, share_schema, branch)
        self._routes: dict[tuple[int, tuple[bool, ...]], _Route] = {}
        timestamp = compile_writer({"type": "long", "logicalType": "timestamp-millis"})
        assert timestamp is not None
        self._timestamp = timestamp
        self._at: Any = None
        self._at_bytes = b""

    def encode(self, record: dict[str, Any], groups: Groups, shared_at: Any,
               fields: Sequence[bytes] | None = None) -> tuple[bytes, list[list[bytes]]] | None:
        """The record's bytes and, per group, one share record per agency; None when the record
        does not fit (the caller's full encode then raises the error that names the field).
        ``fields``: the record's fields already encoded, then the whole record's bytes (spliced
        from its input, ``splicing``, whose ``Splicer`` checked once that every input field is
        one of the record's)."""
        values = self.encode_flat(record, groups, shared_at, fields)
        if values is None:
            return None
        copies, at = [], 1
        for _, agencies in groups:
            copies.append(values[at:at + len(agencies)])
            at += len(agencies)
        return values[0], copies

    def encode_flat(self, record: dict[str, Any], groups: Groups, shared_at: Any,
                    fields: Sequence[bytes] | None = None) -> list[bytes] | None:
        """``encode``'s bytes in one flat list: the record's, then every group's copies in order
        (the processor zips them with its output streams in C, no loop of its own)."""
        try:
            if fields is None:
                if not record.keys() <= self._allowed:
                    return None
                fields = self._chunks(record)
                fields.append(self._record_header + b"".join(fields))
            if shared_at is not self._at:
                self._at_bytes, self._at = self._timestamp(shared_at), shared_at
        except Exception:
            return None
        # By the identity of the groups (the router's, one list per stream and crossing):
        # hashing their field names per record cost more than the lookup. The route holds the
        # groups, so their id is not reused meanwhile.
        signature = tuple(map(record.__contains__, self._optional))
        route = self._routes.get((id(groups), signature))
        if route is None or route.groups is not groups:
            route = self._route(groups, signature)
        at = self._at_bytes
        return route.make(fields, route.heads if route.at is at else route.at_heads(at))

    def _route(self, groups: Groups, signature: tuple[bool, ...]) -> _Route:
        """Per group, per field the record's chunk, null or a union index and the chunk: the
        tail of its copies; and the head of each agency's copy (header, stream, agency,
        ``shared_at``, the share's ``fields`` array and union index: ``_Route.at_heads``). Made
        into one generated function, ``make``: a join per group of a tuple of locals and
        constants, then a list display of the record and every head + tail (a loop of maps cost
        more). Only indices and bytes go in its source."""
        present = self._required | {n for n, p in zip(self._optional, signature, strict=True) if p}
        scope: dict[str, Any] = {"join": b"".join, "S": _SOME.join}
        arrays: list[bytes] = []  # per group: its share's ``fields`` array and union index
        bodies: list[list[int | bytes]] = []  # per group: a chunk's index or a constant, in order
        for agreed, _ in groups:
            shared = [n for n in dict.fromkeys(agreed) if n in present]  # the share's `fields`
            names = [write_long(len(shared)), *map(_string, shared), _NULL] if shared else [_NULL]
            arrays.append(b"".join(names) + self._union_index)
            body: list[int | bytes] = []
            for i, name in enumerate(self._names):
                if name not in shared:
                    body.append(_NULL)
                elif self._wrap[i]:
                    body += (_SOME, i)
                else:
                    body.append(i)
            bodies.append(body)
        # The pieces every group's body starts with (agencies agree on the first fields more
        # often than not): joined once, one item of each group's join (each item of a bytes
        # join costs a buffer and its release)
        common = 0
        while len(bodies) > 1 and common < len(bodies[0]) \
                and all(len(b) > common and b[common] == bodies[0][common] for b in bodies):
            common += 1
        lines = [f"    {''.join(f'c{i}, ' for i in range(len(self._names)))}r = c"]
        if common > 2:
            lead, pieces = _lead(bodies[0][:common])
            lines.append(f"    p = {_join(pieces)}")
            bodies = [[-1, *b[common:]] for b in bodies]
            arrays = [a + lead for a in arrays]
        values = ["r"]
        parts: list[tuple[bytes, bytes]] = []  # per agency: its head before and after shared_at
        for g, ((_, agencies), body) in enumerate(zip(groups, bodies, strict=True)):
            lead, pieces = _lead(body)
            lines.append(f"    t{g} = {_join(pieces)}")
            for a in agencies:
                values.append(f"h{len(parts)} + t{g}")
                parts.append((self._prefix + _string(a), arrays[g] + lead))
        # the heads (header, stream, agency, shared_at, fields array, union index) are one
        # constant of a batch: one item, not three, of each copy
        if parts:
            lines.insert(1, f"    {''.join(f'h{i}, ' for i in range(len(parts)))}= h")
        # ``c`` unpacked into locals once: a tuple display of locals and constants per tail costs
        # a fraction of an itemgetter's subscript per pick (it was ~11k instructions an event)
        exec("\n".join(["def make(c, h):", *lines, f"    return [{', '.join(values)}]"]),
             scope)
        route = _Route(groups, scope["make"], parts)
        if len(self._routes) < _ROUTES_KEPT:  # the router's groups: a handful per stream
            self._routes[(id(groups), signature)] = route
        return route


def _line_up(record_schema: Any, share_schema: Any, branch: str) -> tuple[list[bool], bytes]:
    """Per field, whether the share needs a union index before the record's chunk (the record's
    type is T) or not (already ``["null", T]``); and the branch's union index."""
    shares = _Shapes(share_schema)
    records = _Shapes(record_schema)
    ns = share_schema.get("namespace", "")
    head = share_schema["fields"]
    got = [(f["name"], shares.of(f["type"], ns)) for f in head[:4]]
    if got != _SHARE_HEAD or len(head) != 5 or head[4]["name"] != "record":
        raise _Mismatch("share record head")
    union = head[4]["type"]
    names = [shares._full(b["name"], b.get("namespace", ns)) if isinstance(b, dict) else b
             for b in union]
    if branch not in names:
        raise _Mismatch(f"no branch {branch}")
    index = names.index(branch)
    branch_fields = shares.named[branch]["fields"]
    fields = record_schema["fields"]
    if [f["name"] for f in branch_fields] != [f["name"] for f in fields]:
        raise _Mismatch("field names or order")
    record_ns = record_schema.get("namespace", "")
    branch_ns = branch.rpartition(".")[0]
    wrap = []
    for out, share in zip(fields, branch_fields, strict=True):
        kind = share["type"]
        if not (isinstance(kind, list) and len(kind) == 2 and kind[0] == "null"
                and share.get("default", "") is None):
            raise _Mismatch(f"{share['name']}: not an optional field")
        want_shape = shares.of(kind[1], branch_ns)
        out_type = out["type"]
        if isinstance(out_type, list) and len(out_type) == 2 and out_type[0] == "null":
            if records.of(out_type[1], record_ns) != want_shape:
                raise _Mismatch(f"{out['name']}: types differ")
            wrap.append(False)
        elif records.of(out_type, record_ns) == want_shape:
            wrap.append(True)
        else:
            raise _Mismatch(f"{out['name']}: types differ")
    return wrap, write_long(index)


def build(stream: str, record_header: bytes, record_schema: Any, share_header: bytes,
          share_schema: Any, branch: str) -> SharedEncoder | None:
    try:
        return SharedEncoder(stream, record_header, record_schema, share_header, share_schema,
                             branch)
    except (_Mismatch, KeyError, TypeError, AttributeError):  # any schema we did not foresee
        return None


_RUN = 4  # wrapped fields in a row from which a separator join (``S``) pays


def _lead(pieces: list[int | bytes]) -> tuple[bytes, list[Any]]:
    """Pieces that start with ``_RUN`` or more wrapped fields (union index, chunk) as their
    first union index (for the heads) and one run of chunks, joined with that index as the
    separator: one item a chunk, not two; else the pieces as they are."""
    at = 0
    while at + 1 < len(pieces) and pieces[at] == _SOME and isinstance(pieces[at + 1], int) \
            and pieces[at + 1] >= 0:  # type: ignore[operator]
        at += 2
    if at < 2 * _RUN:
        return b"", pieces
    return _SOME, [tuple(pieces[1:at:2]), *pieces[at:]]


def _join(pieces: list[Any]) -> str:
    """Source of the bytes of ``pieces``: one join, or the run's separator join alone."""
    if len(pieces) == 1 and isinstance(pieces[0], tuple):
        return f"S(({''.join(f'c{i}, ' for i in pieces[0])}))"
    return f"join(({_items(pieces)},))"


def _items(pieces: Sequence[Any]) -> str:
    """Source of a join's items: ``c{i}`` a chunk, ``p`` (-1) the common pieces, a run of
    chunks (a tuple) their separator join, runs of constants as one constant (one item fewer
    each)."""
    out: list[str] = []
    run = b""
    for piece in pieces:
        if isinstance(piece, bytes):
            run += piece
            continue
        if run:
            out.append(repr(run))
            run = b""
        if isinstance(piece, tuple):
            out.append(_join([piece]))
        else:
            out.append("p" if piece < 0 else f"c{piece}")
    if run:
        out.append(repr(run))
    return ", ".join(out)


def _string(value: str) -> bytes:
    data = value.encode()
    return write_long(len(data)) + data
