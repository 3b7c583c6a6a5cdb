"""The Avro schema catalogue: every version of every record family shipped in ``avro/``.

Layout: ``avro/<family>/v<N>.avsc`` (N = 1, 2, ...; the highest is the current reader and writer) and
``avro/golden/<family>/v<N>.json`` (records written with that version, see ``bordersync.wire.evolution``).
Schemas are parsed once per process; each version gets an id derived from its fingerprint so every
process agrees on ids without a registry (see docs/schemas.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

# Logical stream (codec name) -> schema family.
STREAM_FAMILIES: dict[str, str] = {
    "raw": "raw",
    "crossing": "crossing_event",
    "inspection": "inspection_event",
    "crossings": "crossing",
    "inspections": "inspection",
    "matched": "matched",
    "alerts": "alert",
    "stats": "stats",
    "share": "share",
    "risk": "risk",
}
# Families whose absent optional fields mean "not reported": decode drops nulls so a record
# round-trips to exactly what ``events.validate`` returned.
EVENT_FAMILIES = frozenset({"raw", "crossing_event", "inspection_event", "crossing", "inspection"})
GOLDEN_DIR = "golden"
_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")


class SchemaCatalogueError(RuntimeError):
    """The shipped schemas are unusable (bad JSON, bad Avro, id collision)."""


@dataclass(frozen=True)
class SchemaVersion:
    family: str
    version: int
    path: Path
    schema: Any = field(repr=False)  # the .avsc JSON as written (what a registry receives)
    parsed: Any = field(repr=False)  # fastavro's parsed form, reused for every record
    canonical: str = field(repr=False)
    fingerprint: str = ""
    schema_id: int = 0

    @property
    def label(self) -> str:
        return f"{self.family} v{self.version}"

    def text(self) -> str:
        return json.dumps(self.schema, separators=(",", ":"))


@dataclass(frozen=True)
class Catalogue:
    root: Path
    families: dict[str, tuple[SchemaVersion, ...]]
    by_id: dict[int, SchemaVersion]
    by_fingerprint: dict[str, SchemaVersion]

    def latest(self, family: str) -> SchemaVersion:
        return self.families[family][-1]

    def all_versions(self) -> list[SchemaVersion]:
        return [v for versions in self.families.values() for v in versions]


def stream_family(stream: str) -> str | None:
    """Family of a codec stream name; ``share.<agency>`` reads as ``share``."""
    if stream.startswith("share."):
        stream = "share"
    return STREAM_FAMILIES.get(stream)


def schema_id_of(fp_hex: str) -> int:
    """Stable positive 31-bit id: the 64-bit CRC-64-AVRO fingerprint folded (xor of halves)."""
    value = int(fp_hex, 16)
    return ((value >> 32) ^ value) & 0x7FFFFFFF


def default_root() -> Path:
    """``bordersync/wire/avro_schemas`` in a wheel, the repository's ``avro/`` in an editable install."""
    packaged = Path(__file__).with_name("avro_schemas")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "avro"


def load_version(family: str, version: int, path: Path) -> SchemaVersion:
    try:
        schema = json.loads(path.read_text("utf-8"))
        parsed = parse_schema(schema)
        canonical = to_parsing_canonical_form(parsed)
    except Exception as exc:
        raise SchemaCatalogueError(f"{path}: not a valid Avro schema: {exc}") from exc
    fp = fingerprint(canonical, "CRC-64-AVRO")
    return SchemaVersion(family, version, path, schema, parsed, canonical, fp, schema_id_of(fp))


def load_catalogue(root: Path) -> Catalogue:
    families: dict[str, tuple[SchemaVersion, ...]] = {}
    if not root.is_dir():
        raise SchemaCatalogueError(f"schema directory {root} does not exist")
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != GOLDEN_DIR):
        numbered = []
        for path in folder.glob("v*.avsc"):
            match = _VERSION_FILE.match(path.name)
            if match is None:
                raise SchemaCatalogueError(f"{path}: schema files are named v<N>.avsc")
            numbered.append((int(match.group(1)), path))
        numbered.sort()
        if not numbered:
            continue
        if [n for n, _ in numbered] != list(range(1, len(numbered) + 1)):
            raise SchemaCatalogueError(f"{folder}: versions must be v1..vN without gaps")
        families[folder.name] = tuple(load_version(folder.name, n, p) for n, p in numbered)
    by_id: dict[int, SchemaVersion] = {}
    by_fp: dict[str, SchemaVersion] = {}
    for version in (v for vs in families.values() for v in vs):
        clash = by_id.get(version.schema_id)
        if clash is not None and clash.fingerprint != version.fingerprint:
            raise SchemaCatalogueError(f"schema id collision: {clash.label} and {version.label}")
        # Identical canonical forms in two families share an id; the first family owns it.
        by_id.setdefault(version.schema_id, version)
        by_fp.setdefault(version.fingerprint, version)
    return Catalogue(root, families, by_id, by_fp)


@cache
def catalogue() -> Catalogue:
    """The shipped catalogue, loaded once per process."""
    return load_catalogue(default_root())
