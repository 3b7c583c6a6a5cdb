"""The codec's splicing path (issue 19): read an input record noting its field ends, build an
output record's fields from those bytes, encode the output with its share projections.

Why apart from ``codec``: it is an optimisation over the codec's own readers and writers, never
a different answer. ``read`` gives the record ``codec.decode`` gives, or None (not canonical,
resolution needed, a registry, anything unusual): then the caller decodes as before. ``chunks``
gives the fields ``codec.encode`` would write, or None. Tested against both and against fastavro
(tests/unit/test_splicing.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bordersync.wire import avro_splice, codec
from bordersync.wire.avro_share import Groups
from bordersync.wire.codec import HEADER, MAGIC, Codec, EncodeError, configure

# (schema id, record branch, [start, end of each field], the record's bytes)
Spans = tuple[int, str, list[int], bytes]


class Splicing:
    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self._readers: dict[int, avro_splice.SpanReader | None] = {}
        self._splicers: dict[tuple[int, str, str, tuple[str, ...]], avro_splice.Splicer | None] = {}

    def read(self, stream: str, data: bytes | None) -> tuple[dict[str, Any], Spans] | None:
        if type(data) is not bytes or len(data) <= HEADER.size or data[0] != MAGIC:
            return None
        sid = int.from_bytes(data[1:5], "big")
        reader = self._readers.get(sid, False)
        if reader is False:
            reader = self._reader(sid)
        if reader is None:
            return None
        got = reader.read(data, HEADER.size)  # type: ignore[union-attr]
        if got is None:
            return None
        return got[0], (sid, got[1][0], got[1][1], data)

    def _reader(self, sid: int) -> avro_splice.SpanReader | None:
        found = None
        if self.codec.registry is None:
            reader = self.codec._readers.get(sid) or self.codec._reader(sid)
            # Only the current version read by the event reader: no resolution, nulls left out.
            if not isinstance(reader, str) and reader.reader is None and reader.fast is not None \
                    and reader.writer.family in ("raw",):
                found = avro_splice.span_reader(reader.writer.schema)
        self._readers[sid] = found
        return found

    def chunks(self, stream: str, spans: Spans, extra: Mapping[str, Any]) -> list[bytes] | None:
        """``stream``'s record as its fields' encodings: the input's own bytes where the field is
        the input's, ``extra`` encoded where not; None when they do not line up."""
        sid, branch, ends, data = spans
        key = (sid, branch, stream, tuple(extra))
        splicer = self._splicers.get(key, False)
        if splicer is False:
            splicer = self._splicer(key)
        if splicer is None:
            return None
        try:
            return splicer.chunks(data, ends, tuple(extra.values()))  # type: ignore[union-attr]
        except Exception:  # an extra value that does not fit: the full encode names it
            return None

    def _splicer(self, key: tuple[int, str, str, tuple[str, ...]]) -> avro_splice.Splicer | None:
        sid, branch, stream, names = key
        found = None
        reader = self.codec._readers.get(sid)
        if self.codec.registry is None and reader is not None and not isinstance(reader, str):
            schema = reader.writer.schema
            branches = [b for b in (schema if isinstance(schema, list) else [schema])
                        if isinstance(b, dict) and _full(b) == branch]
            try:
                out = self.codec._writer(stream).version.schema
            except EncodeError:
                out = None
            if branches and out is not None:
                found = avro_splice.splicer(branches[0], out, names)
        self._splicers[key] = found
        return found

    def encode(self, stream: str, record: dict[str, Any], groups: Groups, now: Any,
               chunks: Sequence[bytes] | None) -> tuple[bytes, list[list[bytes]]] | None:
        """The record and its share projections (``avro_share``) from ``chunks`` when given, else
        from the record; None when there is no such path (the caller encodes in full)."""
        if groups:
            shared = self.codec.shared_encoder(stream)
            return None if shared is None else shared.encode(record, groups, now, chunks)
        if chunks is None:
            return None
        # Every key of a spliced record is a field of ``stream`` (``Splicer`` checked it once).
        writer = self.codec._writers.get(stream) or self.codec._writer(stream)
        if writer.header is None:
            return None
        return writer.header + b"".join(chunks), []


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
