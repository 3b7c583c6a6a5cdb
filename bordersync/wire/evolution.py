"""``bordersync schemas check``: every schema version stays readable by every later one.

Two checks per family, over all versions in ``avro/``:
1. BACKWARD_TRANSITIVE, statically: for every pair of versions i < j, reader vj can resolve
   writer vi (``bordersync.wire.compat``).
2. Golden records: ``avro/golden/<family>/v<N>.json`` holds records written with vN, both in
   Avro JSON encoding (reviewable) and as the exact binary body. The file pins vN's fingerprint,
   so a past version edited in place is caught; every body must decode through the codec (wire
   format, schema id, resolution to the current reader) to the same values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from io import BytesIO, StringIO
from pathlib import Path
from typing import Any

from fastavro import json_reader, json_writer, schemaless_reader, schemaless_writer

from bordersync.wire.codec import HEADER, MAGIC, Codec, DecodeError, post_process
from bordersync.wire.compat import can_read
from bordersync.wire.schemas import GOLDEN_DIR, Catalogue, SchemaVersion


@dataclass
class CheckReport:
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def golden_path(cat: Catalogue, version: SchemaVersion) -> Path:
    return cat.root / GOLDEN_DIR / version.family / f"v{version.version}.json"


def write_golden(cat: Catalogue, version: SchemaVersion, records: list[Any]) -> Path:
    """Freeze ``records`` (Python values; unions may use fastavro tuple notation) as vN goldens."""
    text = StringIO()
    json_writer(text, version.parsed, records)
    bodies = []
    for record in records:
        body = BytesIO()
        schemaless_writer(body, version.parsed, record)
        bodies.append(body.getvalue().hex())
    doc = {
        "schema": version.label,
        "fingerprint": version.fingerprint,
        "records": [json.loads(line) for line in text.getvalue().splitlines()],
        "binary": bodies,
    }
    path = golden_path(cat, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return path


def _same_values(old: Any, new: Any) -> bool:
    """Equal on everything both sides have (fields a newer reader adds are not compared)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return all(_same_values(old[k], new[k]) for k in old.keys() & new.keys())
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_same_values(a, b) for a, b in zip(old, new, strict=True))
    return bool(old == new)


def _check_golden(cat: Catalogue, codec: Codec, version: SchemaVersion) -> list[str]:
    path = golden_path(cat, version)
    label = version.label
    if not path.exists():
        return [f"{label}: no golden records ({path})"]
    try:
        doc = json.loads(path.read_text("utf-8"))
        records, bodies = doc["records"], [bytes.fromhex(b) for b in doc["binary"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{label}: unreadable golden file {path}: {exc}"]
    if doc.get("fingerprint") != version.fingerprint:
        return [f"{label}: {path.name} was written with a different schema (fingerprint "
                f"{doc.get('fingerprint')} != {version.fingerprint}): a published version was edited; "
                "add a new version instead"]
    if not records or len(records) != len(bodies):
        return [f"{label}: golden file needs records and one binary body per record"]
    try:
        expected = list(json_reader(StringIO("\n".join(json.dumps(r) for r in records)),
                                    version.parsed))
    except Exception as exc:
        return [f"{label}: golden JSON does not match the schema: {exc}"]
    problems = []
    header = HEADER.pack(MAGIC, version.schema_id)
    for number, (want, body) in enumerate(zip(expected, bodies, strict=True), start=1):
        written = schemaless_reader(BytesIO(body), version.parsed, None)
        if not isinstance(written, dict) or written != want:
            problems.append(f"{label} golden #{number}: binary body and JSON record differ")
            continue
        decoded = codec.decode(version.family, header + body)
        if isinstance(decoded, DecodeError):
            problems.append(f"{label} golden #{number}: current reader cannot decode it: "
                            f"{decoded.reason}")
        elif not _same_values(post_process(version.family, written), decoded):
            problems.append(f"{label} golden #{number}: current reader changes its values")
    return problems


def check(cat: Catalogue) -> CheckReport:
    report = CheckReport()
    codec = Codec(cat)
    for family, versions in cat.families.items():
        for j, reader in enumerate(versions):
            for writer in versions[:j]:
                for problem in can_read(writer.schema, reader.schema):
                    report.problems.append(
                        f"{family}: v{reader.version} cannot read v{writer.version}: {problem}")
        for version in versions:
            report.problems += _check_golden(cat, codec, version)
        ids = ", ".join(f"v{v.version}={v.schema_id}" for v in versions)
        report.notes.append(f"{family}: {len(versions)} version(s), ids {ids}")
    return report
