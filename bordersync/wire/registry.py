"""Schema ids through a Confluent Schema Registry (``BORDERSYNC_SCHEMA_REGISTRY_URL``).

Subjects follow TopicNameStrategy (``<topic>-value``). Writers register the current version of
their family once per subject (the registry enforces its compatibility level); readers fetch the
writer schema by id and resolve it against the current reader of the same family.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from bordersync.wire.schemas import Catalogue, SchemaVersion, schema_id_of


class Registry:
    """Caching wrapper around ``confluent_kafka.schema_registry.SchemaRegistryClient``."""

    def __init__(self, url: str, conf: dict[str, Any] | None = None) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self._client = SchemaRegistryClient({"url": url, **(conf or {})})
        self._registered: dict[tuple[str, str], int] = {}
        self._writers: dict[int, SchemaVersion | None] = {}

    def register(self, subject: str, version: SchemaVersion) -> int:
        key = (subject, version.fingerprint)
        sid = self._registered.get(key)
        if sid is None:
            from confluent_kafka.schema_registry import Schema

            sid = int(self._client.register_schema(subject, Schema(version.text(), "AVRO")))
            self._registered[key] = sid
        return sid

    def writer(self, sid: int, cat: Catalogue) -> SchemaVersion | None:
        """The writer schema of ``sid``; None when the registry does not know the id.

        Raises when the registry cannot be asked (the caller reports that per record).
        """
        if sid in self._writers:
            return self._writers[sid]
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            schema = self._client.get_schema(sid)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                self._writers[sid] = None
                return None
            raise
        found = match_schema(str(schema.schema_str), cat)
        self._writers[sid] = found
        return found


def match_schema(text: str, cat: Catalogue) -> SchemaVersion:
    """A registry schema as a catalogue version: ours when the fingerprint is known, otherwise
    a writer from a newer producer, resolved by the family whose current schema has its name."""
    schema = json.loads(text)
    parsed = parse_schema(schema)
    canonical = to_parsing_canonical_form(parsed)
    fp = fingerprint(canonical, "CRC-64-AVRO")
    known = cat.by_fingerprint.get(fp)
    if known is not None:
        return known
    name = _top_name(schema)
    family = next((f for f, vs in cat.families.items() if _top_name(vs[-1].schema) == name), "unknown")
    return SchemaVersion(family, 0, Path("<registry>"), schema, parsed, canonical, fp, schema_id_of(fp))


def _top_name(schema: Any) -> str:
    if isinstance(schema, list):
        return "|".join(sorted(_top_name(branch) for branch in schema))
    if isinstance(schema, dict):
        name = str(schema.get("name", schema.get("type")))
        namespace = schema.get("namespace")
        return f"{namespace}.{name}" if namespace and "." not in name else name
    return str(schema)
