"""The codec's splicing path (issue 19): read an input record noting its field ends, build an
output record's fields from those bytes, encode the output with its share projections.

Why apart from ``codec``: it is an optimisation over the codec's own readers and writers, never
a different answer. ``read`` gives the record ``codec.decode`` gives, or None (not canonical,
resolution needed, a registry, anything unusual): then the caller decodes as before. ``chunks``
gives the fields ``codec.encode`` would write, or None. Tested against both and against fastavro
(tests/unit/test_splicing.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bordersync.wire import avro_splice, codec
from bordersync.wire.avro_fast import Encoder, compile_writer
from bordersync.wire.avro_prims import _DOUBLE, _SMALL, _write_string
from bordersync.wire.avro_share import Groups, _Shapes
from bordersync.wire.codec import HEADER, MAGIC, Codec, EncodeError, configure

# (schema id, record branch, [start, end of each field], the record's bytes)
Spans = tuple[int, str, list[int], bytes]
_BODY = HEADER.size  # where a record's body starts: a constant, not a Struct attribute a read
_STRING: Encoder = _write_string  # an extra string field's writer: written inline
# Values written inline by ``PairSplicer``'s chunks, by type: exactly the writer's bytes for
# those values, the writer itself for any other
_INLINE = {'"boolean"': "(b'\\x01' if {v} is True else b'\\x00' if {v} is False else {w}({v}))",
           '"double"': "(P({v}) if type({v}) is float else {w}({v}))",
           "array": "(b'\\x00' if type({v}) is list and not {v} else {w}({v}))"}  # empty: 0
# A span reader's read (avro_splice.SpanReader): the record and its field ends, or None
_Read = Callable[[bytes, int], tuple[Any, ...] | None]


class Splicing:
    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        # fold (None: none) -> a record's first five bytes (magic, schema id) -> its span
        # reader's read (None: never spliced)
        self._readers: dict[avro_splice.Fold | None, dict[bytes, _Read | None]] = {None: {}}
        self._splicers: dict[tuple[int, str, str, tuple[str, ...]], Splicer | None] = {}
        self._pairs: dict[tuple[str, str, int],
                          tuple[Mapping[str, tuple[int, str]], PairSplicer | None]] = {}

    def read(self, stream: str, data: bytes | None, fold: avro_splice.Fold | None = None
             ) -> tuple[Any, ...] | None:
        """The record and its ``Spans``, and with a ``fold`` the items of the fold's result for
        the record, or one None (avro_splice.SpanReader)."""
        if type(data) is not bytes:
            return None
        readers = self._readers.get(fold) or self._readers.setdefault(fold, {})
        head = data[:5]  # keyed by the header's bytes: no int.from_bytes, no magic test a record
        reader = readers[head] if head in readers else self._reader(head, fold)
        # the reader gives the Spans itself (its schema id is a constant of its code); a record
        # that ends after its header: past the end, None
        return None if reader is None else reader(data, _BODY)

    def _reader(self, head: bytes, fold: avro_splice.Fold | None = None) -> _Read | None:
        found = None
        sid = int.from_bytes(head[1:], "big")
        if self.codec.registry is None and len(head) == HEADER.size and head[0] == MAGIC:
            reader = self.codec._readers.get(sid) or self.codec._reader(sid)
            # Only the current version read by the event reader: no resolution, nulls left out.
            if not isinstance(reader, str) and reader.reader is None and reader.fast is not None \
                    and reader.writer.family in ("raw",):
                spans = avro_splice.span_reader(reader.writer.schema, fold, sid)
                found = None if spans is None else spans.read
        self._readers.setdefault(fold, {})[head] = found
        return found

    def chunks(self, stream: str, spans: Spans, names: tuple[str, ...],
               values: Sequence[Any]) -> list[bytes] | None:
        """``stream``'s record as its fields' encodings: the input's own bytes where the field is
        the input's, the extra fields ``names`` with their ``values`` encoded where not; then,
        as the last item, the whole record (header included); None when they do not line up."""
        sid, branch, ends, data = spans
        key = (sid, branch, stream, names)
        splicer = self._splicers.get(key, False)
        if splicer is False:
            splicer = self._splicer(key)
        if splicer is None:
            return None
        try:
            return splicer.chunks(data, ends, values)  # type: ignore[union-attr]
        except Exception:  # an extra value that does not fit: the full encode names it
            return None

    def _splicer(self, key: tuple[int, str, str, tuple[str, ...]]) -> Splicer | None:
        sid, branch, stream, names = key
        found = None
        reader = self.codec._readers.get(sid)
        if self.codec.registry is None and reader is not None and not isinstance(reader, str):
            schema = reader.writer.schema
            branches = [b for b in (schema if isinstance(schema, list) else [schema])
                        if isinstance(b, dict) and _full(b) == branch]
            try:
                writer = self.codec._writer(stream)
            except EncodeError:
                writer = None
            if branches and writer is not None and writer.header is not None:
                found = splicer(branches[0], writer.version.schema, names, writer.header)
        self._splicers[key] = found
        return found

    def pair_chunks(self, in_stream: str, out_stream: str, sides: Sequence[Sequence[bytes]],
                    record: Mapping[str, Any], sources: Mapping[str, tuple[int, str]]
                    ) -> list[bytes] | None:
        """``out_stream``'s record as field chunks and the whole record last, the ``sources``
        fields taken from ``sides`` (chunks of two ``in_stream`` records, as ``chunks`` gives
        them): ``PairSplicer``.
        None when the schemas do not line up or the record does not fit (the full encode
        then names the error). ``sources`` is a constant of the caller: its identity keys it."""
        key = (in_stream, out_stream, id(sources))
        found = self._pairs.get(key)
        if found is None or found[0] is not sources:  # kept with it: its id is not reused
            found = self._pairs[key] = (sources, self._pair(in_stream, out_stream, sources))
        pair = found[1]
        if pair is None:
            return None
        try:
            return pair.chunks(sides, record)
        except Exception:
            return None

    def _pair(self, in_stream: str, out_stream: str, sources: Mapping[str, tuple[int, str]]
              ) -> PairSplicer | None:
        if self.codec.registry is not None:
            return None
        try:
            out = self.codec._writer(out_stream)
            if out.header is None:
                return None
            return PairSplicer(self.codec._writer(in_stream).version.schema,
                               out.version.schema, sources, out.header)
        except Exception:  # any schema we did not foresee
            return None

    def encode(self, stream: str, record: dict[str, Any], groups: Groups, now: Any,
               chunks: Sequence[bytes] | None) -> tuple[bytes, list[list[bytes]]] | None:
        """The record and its share projections (``avro_share``) from ``chunks`` (``chunks``'s
        or ``pair_chunks``'s) when given, else from the record; None when there is no such path
        (the caller encodes in full)."""
        if groups:
            shared = self.codec.shared_encoder(stream)
            return None if shared is None else shared.encode(record, groups, now, chunks)
        if chunks is None:
            return None
        # Every key of a spliced record is a field of ``stream`` (``Splicer`` checked it once);
        # its bytes are the chunks' last item
        return chunks[-1], []


class Splicer:
    """An output record's field chunks from an input record's bytes: the input's slice for each
    output field of the same type, the encoding of ``extra`` values (in ``extra_names`` order) or
    of the field's default for the others; then the whole record, ``header`` first. Built once
    per (input branch, output schema)."""

    def __init__(self, in_schema: Any, out_schema: Any, extra_names: Sequence[str],
                 header: bytes) -> None:
        ins, outs = _Shapes(in_schema), _Shapes(out_schema)
        in_ns = in_schema.get("namespace", "")
        out_ns = out_schema.get("namespace", "")
        in_fields = {f["name"]: (i, ins.of(f["type"], in_ns))
                     for i, f in enumerate(in_schema["fields"])}
        out_names = [f["name"] for f in out_schema["fields"]]
        if not in_fields.keys() <= set(out_names) or set(extra_names) & in_fields.keys():
            raise ValueError("an input field the output lacks, or given twice")
        count = len(in_fields)
        writers: dict[str, Encoder] = {}
        defaults: list[bytes] = []
        picks: list[int] = []
        for f in out_schema["fields"]:
            name = f["name"]
            if name in in_fields:
                index, shape = in_fields[name]
                if outs.of(f["type"], out_ns) != shape:
                    raise ValueError(f"{name}: types differ")
                picks.append(index)
                continue
            writer = compile_writer(f["type"])  # None for a reference to a named type
            if writer is None:
                raise ValueError(f"{name}: not compilable alone")
            if name in extra_names:
                picks.append(count + list(extra_names).index(name))
                writers[name] = _STRING if f["type"] == "string" else writer
            elif "default" in f:
                defaults.append(writer(f["default"]))
                picks.append(-len(defaults))  # the default's chunk: -1, -2...
            else:
                raise ValueError(f"{name}: required and not given")
        if writers.keys() != set(extra_names) or len(picks) < 2:
            raise ValueError("an extra value the output lacks")
        # ``chunks(d, ends, extra)``: one generated function, a list display of the output's
        # fields in order, each the input's slice, an extra value's encoding or a default's
        # (slicing every input field, then picking, cost more), then the record: one join of
        # the header, one slice per run of input fields that follow each other in both (each
        # item of a bytes join costs a buffer and its release) and the rest. The ends unpacked
        # into locals first: a slice then takes two loads, not two subscripts (a list of other
        # than ``count + 1`` ends raises). Raises (ValueError, TypeError) when an extra value
        # does not fit its field. Only indices and bytes go in the source.
        scope: dict[str, Any] = {"join": b"".join, "S": _SMALL}
        parts: list[str] = []
        whole: list[str | bytes] = [header]  # the record's join: source, or a constant
        lines = [f"    {', '.join(f'e{i}' for i in range(count + 1))}, = e",
                 f"    {''.join(f'x{j}, ' for j in range(len(extra_names)))}= x"]
        for at, p in enumerate(picks):
            if 0 <= p < count:
                run = at > 0 and 0 <= picks[at - 1] == p - 1
                solo = not run and not (at + 1 < len(picks) and picks[at + 1] == p + 1)
                if run:  # the previous field's slice, to this field's end
                    whole[-1] = f"{str(whole[-1]).rpartition(':')[0]}:e{p + 1}]"
                if solo:  # alone in its run: sliced once, for both
                    lines.append(f"    f{at} = d[e{p}:e{p + 1}]")
                    parts.append(f"f{at}")
                    whole.append(f"f{at}")
                else:
                    parts.append(f"d[e{p}:e{p + 1}]")
                    if not run:
                        whole.append(f"d[e{p}:e{p + 1}]")
            elif p >= 0:
                j = p - count
                if writers[extra_names[j]] is _STRING:  # inline: no call, no cache of plates
                    # a str's UTF-8 after its length (one of 1,024 first; past: an IndexError,
                    # and the full encode)
                    lines += (f"    f{at} = x{j}.encode()", f"    f{at} = S[len(f{at})] + f{at}")
                else:
                    scope[f"X{j}"] = writers[extra_names[j]]
                    lines.append(f"    f{at} = X{j}(x{j})")
                parts.append(f"f{at}")
                whole.append(f"f{at}")
            else:
                parts.append(repr(defaults[-p - 1]))
                whole.append(defaults[-p - 1])
        exec("\n".join(["def chunks(d, e, x):", *lines,
                         f"    return [{', '.join(parts)}, join(({_items(whole)},))]"]), scope)
        self.chunks: Callable[[bytes, list[int], Sequence[Any]], list[bytes]] = scope["chunks"]


def _items(pieces: Sequence[str | bytes]) -> str:
    """Source of a join's items, each run of constants one constant (one item fewer each)."""
    out: list[str | bytes] = []
    for piece in pieces:
        if isinstance(piece, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += piece
        else:
            out.append(piece)
    return ", ".join(p if isinstance(p, str) else repr(p) for p in out)


def splicer(in_schema: Any, out_schema: Any, extra_names: Sequence[str], header: bytes
            ) -> Splicer | None:
    try:
        return Splicer(in_schema, out_schema, extra_names, header)
    except Exception:  # any schema we did not foresee (avro_share's checks raise their own)
        return None


class PairSplicer:
    """A record's field chunks from the chunks of two records of another stream (issue 19: the
    matched record from its two crossings' spliced chunks): a field named in ``sources`` is the
    chunk of (side, field) when the two types encode alike (``avro_share._Shapes``), after a
    union index when the output's type is ``["null", T]`` of that type; every other field is
    encoded from the record; then the whole record, ``header`` first. Built once per (streams,
    sources); raises for schemas that do not line up (``Splicing.pair_chunks`` then says
    None)."""

    def __init__(self, in_schema: Any, out_schema: Any, sources: Mapping[str, tuple[int, str]],
                 header: bytes) -> None:
        ins, outs = _Shapes(in_schema), _Shapes(out_schema)
        in_ns, out_ns = in_schema.get("namespace", ""), out_schema.get("namespace", "")
        index = {f["name"]: (i, ins.of(f["type"], in_ns))
                 for i, f in enumerate(in_schema["fields"])}
        # ``chunks(sides, record)``: one generated function, a list display of the output's
        # fields in order (a loop over a plan cost a tuple unpacking and a test per field).
        # Only indices and repr()'d field names go in the source.
        scope: dict[str, Any] = {"join": b"".join, "H": header, "P": _DOUBLE.pack}
        parts: list[str] = []
        lines = ["    s0, s1 = sides"]
        for f in out_schema["fields"]:
            name, kind = f["name"], f["type"]
            if name in sources:
                side, field = sources[name]
                if side not in (0, 1):
                    raise ValueError(f"{name}: side {side} of two")
                at, shape = index[field]
                if outs.of(kind, out_ns) == shape:
                    parts.append(f"s{side}[{at}]")
                    continue
                if isinstance(kind, list) and len(kind) == 2 and kind[0] == "null" \
                        and outs.of(kind[1], out_ns) == shape:
                    parts.append(f"b'\\x02' + s{side}[{at}]")
                    continue
                raise ValueError(f"{name}: types differ")
            writer = compile_writer(kind)
            if writer is None:
                raise ValueError(f"{name}: not compilable alone")
            w = f"W{len(parts)}"
            scope[w] = writer
            inline = _INLINE.get("array" if isinstance(kind, dict) and kind.get("type") == "array"
                                 else json.dumps(kind, sort_keys=True))
            if inline is None:
                parts.append(f"{w}(r[{name!r}])")
            else:  # the common values without a call, the rest by the writer (its checks)
                lines.append(f"    v{len(parts)} = r[{name!r}]")
                parts.append(inline.format(v=f"v{len(parts)}", w=w))
        exec("\n".join(["def chunks(sides, r):", *lines, f"    c = [{', '.join(parts)}]",
                         "    c.append(H + join(c))", "    return c"]), scope)
        # Raises (KeyError, ValueError, TypeError) when the record lacks or misfits a field.
        self.chunks: Callable[[Sequence[Sequence[bytes]], Mapping[str, Any]], list[bytes]] = \
            scope["chunks"]


def _full(branch: dict[str, Any]) -> str:
    name: str = branch["name"]
    return name if "." in name else f"{branch.get('namespace', '')}.{name}".lstrip(".")


_current: tuple[Codec | None, Splicing | None] = (None, None)


def current() -> Splicing:
    """The splicing of the module-level codec (``codec.configure`` may replace that codec)."""
    global _current
    bound, found = _current
    if found is None or bound is not codec._default:
        bound = codec._default or configure()
        _current = (bound, found := Splicing(bound))
    return found
