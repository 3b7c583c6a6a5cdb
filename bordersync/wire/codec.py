"""Codec entry points: logical stream + record <-> bytes in the Confluent Avro wire format.

Wire format: magic byte 0, 4-byte big-endian schema id, Avro binary body (schemaless), so any
Confluent-compatible consumer can read bordersync topics. Schema ids come from a Confluent Schema
Registry when ``schema_registry_url`` is set, otherwise from the schema fingerprint (see
``bordersync.wire.schemas`` and docs/schemas.md).

Decoding never raises: undecodable bytes come back as a ``DecodeError`` value that the caller
routes to the DLQ (errors as data).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any

from fastavro import schemaless_reader, schemaless_writer

from bordersync.wire import avro_share
from bordersync.wire.avro_fast import Decoder, Encoder, FieldError, compile_reader, compile_writer
from bordersync.wire.avro_share import SharedEncoder
from bordersync.wire.schemas import EVENT_FAMILIES, Catalogue, SchemaVersion, catalogue, stream_family

if TYPE_CHECKING:
    from bordersync.settings import Settings
    from bordersync.wire.registry import Registry

MAGIC = 0
HEADER = struct.Struct(">bI")
# Union branches picked explicitly (fastavro tuple notation) instead of trial validation.
RAW_BRANCHES = {"crossing": "bordersync.CrossingEvent", "inspection": "bordersync.InspectionEvent"}
SHARE_BRANCHES = {
    "crossings": "bordersync.share.SharedCrossing",
    "inspections": "bordersync.share.SharedInspection",
    "matched": "bordersync.share.SharedMatched",
    "alerts": "bordersync.share.SharedAlert",
    "risk": "bordersync.share.SharedRisk",
}
# Codec stream -> logical stream whose topic carries it (registry subjects: "<topic>-value").
TOPIC_STREAMS = {"crossing": "crossings", "inspection": "inspections"}

Record = dict[str, Any]


@dataclass(frozen=True)
class DecodeError:
    stream: str
    reason: str


class EncodeError(ValueError):
    """A record that does not fit its stream's schema; the message names the record and the field."""


def _field_names(schema: Any) -> frozenset[str]:
    return frozenset(f["name"] for f in schema["fields"])


def _branches(union: Any, namespace: str) -> dict[str, frozenset[str]]:
    """Record branches of a union by full name (a branch inherits the enclosing namespace)."""
    return {f"{b.get('namespace', namespace)}.{b['name']}": _field_names(b)
            for b in union if isinstance(b, dict)}


def _unknown(record: Record, allowed: frozenset[str]) -> None:
    # fastavro silently skips keys the schema lacks; a field nobody can read is data lost.
    if not record.keys() <= allowed:
        raise EncodeError(f"{sorted(record.keys() - allowed)[0]}: field not in the schema")


def _preparer(family: str, schema: Any) -> Callable[[Record], Any]:
    """Shapes a caller's record for fastavro without copying it (unions get tuple notation)."""
    if family == "raw":
        by_kind = {kind: (name, _branches(schema, '')[name]) for kind, name in RAW_BRANCHES.items()}

        def prepare_raw(record: Record) -> Any:
            branch = by_kind.get(record.get("kind"))  # type: ignore[arg-type]
            if branch is None:
                raise EncodeError(f"kind: expected crossing or inspection, got {record.get('kind')!r}")
            _unknown(record, branch[1])
            return (branch[0], record)

        return prepare_raw
    if family == "share":
        union = next(f["type"] for f in schema["fields"] if f["name"] == "record")
        inner_fields = _branches(union, schema.get("namespace", ""))
        outer = frozenset({"stream", "agency", "shared_at", "record"})

        def prepare_share(record: Record) -> Any:
            _unknown(record, outer)
            name = SHARE_BRANCHES.get(record["stream"])
            if name is None:
                raise EncodeError(f"stream: cannot share stream {record['stream']!r}")
            inner = record["record"]
            _unknown(inner, inner_fields[name])
            return {"stream": record["stream"], "agency": record["agency"],
                    "shared_at": record["shared_at"], "fields": list(inner), "record": (name, inner)}

        return prepare_share
    allowed = _field_names(schema)

    def prepare(record: Record) -> Any:
        _unknown(record, allowed)
        return record

    return prepare


def _drop_nulls(value: Record) -> Record:
    return {k: v for k, v in value.items() if v is not None}


def _unshare(value: Record) -> Record:
    inner = value.pop("record")
    fields = value.pop("fields")
    # Only the permitted fields exist in the shared record; the projection's nulls are not data.
    value["record"] = {k: inner[k] for k in fields if k in inner}
    return value


def _identity(value: Record) -> Record:
    return value


def _post(family: str) -> Callable[[Record], Record]:
    if family in EVENT_FAMILIES:
        return _drop_nulls
    if family == "share":
        return _unshare
    return _identity


def post_process(family: str, value: Record) -> Record:
    """What ``decode`` returns for ``value`` as fastavro read it (a copy)."""
    return _post(family)(dict(value))


@dataclass(frozen=True)
class _Writer:
    stream: str
    version: SchemaVersion
    prepare: Callable[[Record], Any]
    header: bytes | None  # None: the id depends on the registry subject
    fast: Encoder | None  # compiled body encoder; None: fastavro


@dataclass(frozen=True)
class _Reader:
    writer: SchemaVersion
    reader: Any  # parsed reader schema, None when the writer is the current version
    post: Callable[[Record], Record]
    fast: Decoder | None  # compiled body decoder when no resolution is needed; None: fastavro


class Codec:
    """Encoders and decoders bound to one schema catalogue (and optionally a registry)."""

    def __init__(self, cat: Catalogue, registry: Registry | None = None,
                 topic: Callable[[str], str] | None = None) -> None:
        self.catalogue = cat
        self.registry = registry
        self._topic = topic or (lambda stream: stream)
        self._writers: dict[str, _Writer] = {}
        self._readers: dict[int, _Reader] = {}
        self._shared: dict[str, SharedEncoder | None] = {}

    def _writer(self, stream: str) -> _Writer:
        family = stream_family(stream)
        if family is None or family not in self.catalogue.families:
            raise EncodeError(f"no schema for stream {stream!r}")
        version = self.catalogue.latest(family)
        header = None if self.registry else HEADER.pack(MAGIC, version.schema_id)
        writer = _Writer(stream, version, _preparer(family, version.schema), header,
                         _compiled(version, compile_writer))
        self._writers[stream] = writer
        return writer

    def _subject(self, stream: str, record: Record) -> str:
        if stream_family(stream) == "share":
            logical = f"share.{record['agency']}"
        else:
            logical = TOPIC_STREAMS.get(stream, stream)
        return f"{self._topic(logical)}-value"

    def encode(self, stream: str, record: Record) -> bytes:
        writer = self._writers.get(stream) or self._writer(stream)
        try:
            datum = writer.prepare(record)
            header = writer.header
            if header is None:
                assert self.registry is not None
                sid = self.registry.register(self._subject(stream, record), writer.version)
                header = HEADER.pack(MAGIC, sid)
            if writer.fast is not None:
                return header + writer.fast(datum)
            out = BytesIO()
            out.write(header)
            schemaless_writer(out, writer.version.parsed, datum)
        except (EncodeError, FieldError) as exc:
            raise EncodeError(f"{stream} record {_name(record)}: {exc}") from None
        except Exception as exc:
            raise EncodeError(f"{stream} record {_name(record)} does not fit {writer.version.label}: "
                              f"{type(exc).__name__}: {exc}") from exc
        return out.getvalue()

    def encode_share_copies(self, record: Record, agencies: list[str]) -> list[bytes]:
        """One share record for agencies whose projections are identical (same agreed fields).

        Encoded once; the agency, the share schema's second field right after ``stream`` (both
        strings), is spliced in for the others. With a registry each agency's subject has its
        own id, so every copy is encoded in full.
        """
        first = self.encode("share", {**record, "agency": agencies[0]})
        if len(agencies) == 1 or self.registry is not None or not self._share_splicable():
            return [first, *(self.encode("share", {**record, "agency": a}) for a in agencies[1:])]
        start = HEADER.size + len(_avro_string(record["stream"]))
        end = start + len(_avro_string(agencies[0]))
        head, tail = first[:start], first[end:]
        return [first, *(head + _avro_string(a) + tail for a in agencies[1:])]

    def _share_splicable(self) -> bool:
        fields = self.catalogue.latest("share").schema["fields"]
        return [(f["name"], f["type"]) for f in fields[:2]] == [("stream", "string"),
                                                                ("agency", "string")]

    def shared_encoder(self, stream: str) -> SharedEncoder | None:
        """``stream``'s records together with their share projections, one encode of the fields
        for all (``bordersync.wire.avro_share``); None when the schemas do not line up or a registry
        gives every agency's subject its own id: then ``encode`` + ``encode_share_copies``."""
        if stream in self._shared:
            return self._shared[stream]
        encoder = None
        branch = SHARE_BRANCHES.get(stream)
        if branch is not None and self.registry is None:
            try:
                record, share = self._writer(stream), self._writer("share")
            except EncodeError:
                pass
            else:
                assert record.header is not None and share.header is not None
                encoder = avro_share.build(stream, record.header, record.version.schema,
                                           share.header, share.version.schema, branch)
        self._shared[stream] = encoder
        return encoder

    def _reader(self, sid: int) -> _Reader | str:
        version: SchemaVersion | None = None
        if self.registry is not None:
            try:
                version = self.registry.writer(sid, self.catalogue)
            except Exception as exc:
                # Not cached: the registry may be back for the next record.
                return f"schema id {sid}: schema registry unavailable or schema unusable: {exc}"
        if version is None:
            version = self.catalogue.by_id.get(sid)
        if version is None:
            return f"unknown schema id {sid} (not a bordersync schema version)"
        latest = self.catalogue.families.get(version.family)
        reader_parsed = None
        if latest and latest[-1].fingerprint != version.fingerprint:
            reader_parsed = latest[-1].parsed
        post = _post(version.family)
        fast = None
        if reader_parsed is None:
            fast = _compiled(version, compile_reader)
            if fast is not None and post is _drop_nulls:
                fast, post = _compiled(version, _compile_event_reader), _identity
        reader = _Reader(version, reader_parsed, post, fast)
        self._readers[sid] = reader
        return reader

    def decode(self, stream: str, data: bytes | None) -> Record | DecodeError:
        if not data:
            return DecodeError(stream, "empty record (no bytes or a tombstone)")
        if len(data) < HEADER.size:
            return DecodeError(stream, f"truncated: {len(data)} bytes, shorter than the 5-byte header")
        if data[0] != MAGIC:
            return DecodeError(stream, f"not Confluent Avro wire format: magic byte {data[0]}, expected 0")
        sid = int.from_bytes(data[1:5], "big")
        reader = self._readers.get(sid) or self._reader(sid)
        if isinstance(reader, str):
            return DecodeError(stream, reader)
        try:
            if reader.fast is not None:
                value, end = reader.fast(data if type(data) is bytes else bytes(data), HEADER.size)
            else:
                body = BytesIO(data)
                body.seek(HEADER.size)
                value = schemaless_reader(body, reader.writer.parsed, reader.reader)
                end = body.tell()
        except Exception as exc:
            return DecodeError(stream, f"undecodable Avro body ({reader.writer.label}, schema id {sid}): "
                                       f"{type(exc).__name__}: {exc}")
        if end != len(data):
            return DecodeError(stream, f"{len(data) - end} trailing bytes after a "
                                       f"{reader.writer.label} record (schema id {sid})")
        if not isinstance(value, dict):
            return DecodeError(stream, f"{reader.writer.label} body is not a record")
        try:
            return reader.post(value)
        except Exception as exc:  # a reader's shape we did not expect: still data, not a crash
            return DecodeError(stream, f"{reader.writer.label} record of unexpected shape: {exc!r}")


_COMPILED: dict[tuple[str, str], Any] = {}


def _compile_event_reader(schema: Any) -> Decoder | None:
    return compile_reader(schema, skip_nulls=True)


def _compiled(version: SchemaVersion, compiler: Callable[[Any], Any]) -> Any:
    """One compiled encoder/decoder per schema per process (None when only fastavro can)."""
    key = (version.fingerprint + version.text(), compiler.__name__)
    if key not in _COMPILED:
        _COMPILED[key] = compiler(version.schema)
    return _COMPILED[key]


def _name(record: object) -> str:
    if isinstance(record, dict):
        for key in ("event_id", "alert_id", "exit_event_id"):
            if isinstance(record.get(key), str):
                return repr(record[key])
    return "(unnamed)"


_default: Codec | None = None


def configure(settings: Settings | None = None) -> Codec:
    """Bind the module-level codec to ``settings`` (registry URL, topic names); lazy by default."""
    global _default
    from bordersync.settings import Settings

    settings = settings or Settings()
    registry = None
    if settings.schema_registry_url:
        from bordersync.wire.registry import Registry

        registry = Registry(settings.schema_registry_url)
    _default = Codec(catalogue(), registry, settings.topic)
    return _default


def encode(stream: str, record: Record) -> bytes:
    return (_default or configure()).encode(stream, record)


def encode_share_copies(record: Record, agencies: list[str]) -> list[bytes]:
    return (_default or configure()).encode_share_copies(record, agencies)


def shared_encoder(stream: str) -> SharedEncoder | None:
    return (_default or configure()).shared_encoder(stream)


def _avro_string(value: str) -> bytes:
    data = value.encode("utf-8")
    n = len(data)
    out = bytearray()
    z = (n << 1) ^ (n >> 63)
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out) + data


def decode(stream: str, data: bytes | None) -> Record | DecodeError:
    return (_default or configure()).decode(stream, data)
