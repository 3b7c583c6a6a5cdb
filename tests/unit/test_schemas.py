"""Schema catalogue, compatibility rules and ``bordersync schemas check``."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bordersync import cli
from bordersync.events import DIRECTIONS, INSPECTION_TYPES, RESULTS, VEHICLE_TYPES
from bordersync.wire.compat import can_read
from bordersync.wire.evolution import check, write_golden
from bordersync.wire.schemas import (
    STREAM_FAMILIES,
    SchemaCatalogueError,
    catalogue,
    default_root,
    load_catalogue,
    schema_id_of,
    stream_family,
)
from streams.rules import alert_types

ROOT = Path(__file__).resolve().parents[2]


def _fields(schema: Any) -> dict[str, Any]:
    return {f["name"]: f for f in schema["fields"]}


def _enum_symbols(field_type: Any) -> list[str]:
    t = field_type[1] if isinstance(field_type, list) else field_type
    return list(t["symbols"])


def test_catalogue_has_every_stream_and_a_real_v2() -> None:
    cat = catalogue()
    assert cat.root == ROOT / "avro"
    assert set(STREAM_FAMILIES.values()) == set(cat.families)
    assert len(cat.families["crossing_event"]) == 2
    assert stream_family("share.al-customs") == "share"
    assert stream_family("dlq") is None


def test_schemas_follow_the_contract() -> None:
    cat = catalogue()
    crossing = _fields(cat.latest("crossing_event").schema)
    assert _enum_symbols(crossing["direction"]["type"]) == list(DIRECTIONS)
    assert _enum_symbols(crossing["vehicle_type"]["type"]) == list(VEHICLE_TYPES)
    assert _enum_symbols(crossing["priority"]["type"]) == ["NONE", "GREEN_LANE", "AEO"]
    assert crossing["priority"]["default"] is None
    inspection = _fields(cat.latest("inspection_event").schema)
    assert _enum_symbols(inspection["inspection_type"]["type"]) == list(INSPECTION_TYPES)
    assert _enum_symbols(inspection["result"]["type"]) == list(RESULTS)
    alert = _fields(cat.latest("alert").schema)
    assert _enum_symbols(alert["type"]["type"]) == list(alert_types())  # the rule table
    for version in cat.all_versions():
        assert '"logicalType": "timestamp-millis"' in json.dumps(version.schema)
        records = version.schema if isinstance(version.schema, list) else [version.schema]
        for record in records:
            assert record.get("doc"), f"{version.label}: {record['name']} undocumented"
            for fld in record["fields"]:
                assert fld.get("doc"), f"{version.label}: field {fld['name']} undocumented"


def test_derived_schemas_stay_in_step_with_the_event_schemas() -> None:
    """raw and crossings/inspections repeat the event fields; they must not drift apart."""
    cat = catalogue()
    crossing_event = cat.latest("crossing_event").schema
    inspection_event = cat.latest("inspection_event").schema
    assert cat.latest("raw").schema == [crossing_event, inspection_event]
    for family, event in (("crossing", crossing_event), ("inspection", inspection_event)):
        fields = _fields(cat.latest(family).schema)
        assert set(fields) == set(_fields(event)) | {"crossing", "plate_normalised"}
    share_union = _fields(cat.latest("share").schema)["record"]["type"]
    projected = {b["name"]: set(_fields(b)) for b in share_union}
    assert projected["SharedCrossing"] == set(_fields(cat.latest("crossing").schema))
    assert projected["SharedInspection"] == set(_fields(cat.latest("inspection").schema))
    assert projected["SharedMatched"] == set(_fields(cat.latest("matched").schema))
    assert projected["SharedAlert"] == set(_fields(cat.latest("alert").schema))


def test_fingerprint_ids_fold_the_crc64() -> None:
    assert schema_id_of("ffffffffffffffff") == 0
    assert schema_id_of("00000000ffffffff") == 0x7FFFFFFF
    assert schema_id_of("0000000100000000") == 1


def test_wheel_layout_is_found(tmp_path: Path) -> None:
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    assert build["targets"]["wheel"]["force-include"]["avro"] == "bordersync/wire/avro_schemas"
    packaged = tmp_path / "bordersync" / "wire" / "avro_schemas"
    shutil.copytree(ROOT / "avro", packaged)
    cat = load_catalogue(packaged)
    assert {v.schema_id for v in cat.all_versions()} == set(catalogue().by_id)
    assert default_root() == ROOT / "avro"  # editable install: the repository's directory


# --- compatibility rules ---------------------------------------------------------------------

def _record(*fields: dict[str, Any], name: str = "R") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "t", "fields": list(fields)}


def _enum(*symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": "E", "symbols": list(symbols), **extra}


@pytest.mark.parametrize(("writer", "reader", "problem"), [
    (_record({"name": "a", "type": "int"}), _record({"name": "a", "type": "long"}), None),
    (_record({"name": "a", "type": "long"}), _record({"name": "a", "type": "int"}),
     "a: writer type long cannot be read as int"),
    (_record({"name": "a", "type": "int"}),
     _record({"name": "a", "type": "int"}, {"name": "b", "type": "string"}),
     "b: field added without a default"),
    (_record({"name": "a", "type": "int"}),
     _record({"name": "a", "type": "int"}, {"name": "b", "type": ["null", "string"], "default": None}),
     None),
    (_record({"name": "a", "type": "int"}, {"name": "b", "type": "string"}),
     _record({"name": "a", "type": "int"}), None),  # removed field: the reader skips it
    (_record({"name": "e", "type": _enum("A", "B")}), _record({"name": "e", "type": _enum("A")}),
     "lost symbols ['B']"),
    (_record({"name": "e", "type": _enum("A", "B")}),
     _record({"name": "e", "type": _enum("A", default="A")}), None),
    (_record({"name": "e", "type": ["null", "string"]}), _record({"name": "e", "type": "string"}),
     "writer type null cannot be read as string"),
    (_record({"name": "e", "type": "string"}), _record({"name": "e", "type": ["null", "string"]}),
     None),
    (_record({"name": "a", "type": "int"}), _record({"name": "a", "type": "int"}, name="S"),
     "does not match reader record S"),
    (_record({"name": "x", "type": {"type": "array", "items": "int"}}),
     _record({"name": "x", "type": {"type": "array", "items": "string"}}),
     "x[]: writer type int cannot be read as string"),
])
def test_compatibility_rules(writer: Any, reader: Any, problem: str | None) -> None:
    problems = can_read(writer, reader)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_every_shipped_version_reads_every_earlier_one() -> None:
    for versions in catalogue().families.values():
        for j, reader in enumerate(versions):
            for writer in versions[:j]:
                assert can_read(writer.schema, reader.schema) == []


# --- bordersync schemas check -----------------------------------------------------------------

def test_schemas_check_passes_on_the_shipped_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    assert check(catalogue()).problems == []
    assert cli.main(["schemas", "check"]) == 0
    out = capsys.readouterr().out
    assert "schemas check OK" in out and "crossing_event: 2 version(s)" in out


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "avro"
    shutil.copytree(ROOT / "avro", root)
    return root


def _add_alert_v2(root: Path, added: dict[str, Any]) -> int:
    """A next alert version (v2 when only v1 ships) with ``added``; returns its number."""
    latest = max(int(p.stem[1:]) for p in (root / "alert").glob("v*.avsc"))
    schema = json.loads((root / "alert" / f"v{latest}.avsc").read_text())
    schema["fields"].append(added)
    (root / "alert" / f"v{latest + 1}.avsc").write_text(json.dumps(schema))
    return latest + 1


def test_incompatible_v2_is_detected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _copy(tmp_path)
    new = _add_alert_v2(root, {"name": "severity", "type": "string", "doc": "no default"})
    problems = check(load_catalogue(root)).problems
    assert any(f"alert: v{new} cannot read v1: severity: field added without a default" in p
               for p in problems), problems
    # ... and old golden records no longer decode with the new reader.
    assert any("alert v1 golden #1: current reader cannot decode it" in p for p in problems)
    assert cli.main(["schemas", "check", "--dir", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"FAIL alert: v{new} cannot read v1" in err and "schemas check FAILED" in err


def test_compatible_v2_needs_its_own_golden_records(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    new = _add_alert_v2(root, {"name": "severity", "type": ["null", "string"], "default": None,
                               "doc": "optional"})
    cat = load_catalogue(root)
    assert check(cat).problems == [
        f"alert v{new}: no golden records ({root}/golden/alert/v{new}.json)"]
    v1 = json.loads((root / "golden" / "alert" / "v1.json").read_text())
    from bordersync.wire.codec import Codec

    old = Codec(load_catalogue(ROOT / "avro")).decode(
        "alerts", bytes.fromhex("00") + cat.families["alert"][0].schema_id.to_bytes(4, "big")
        + bytes.fromhex(v1["binary"][0]))
    assert isinstance(old, dict)
    write_golden(cat, cat.latest("alert"), [{**old, "severity": "high"}])
    assert check(load_catalogue(root)).problems == []


def test_editing_a_published_version_is_detected(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "stats" / "v1.avsc"
    schema = json.loads(path.read_text())
    schema["fields"][4]["type"] = "int"  # count: long -> int, in place
    path.write_text(json.dumps(schema))
    problems = check(load_catalogue(root)).problems
    assert any("a published version was edited" in p for p in problems), problems


def test_enum_symbol_removed_is_detected(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    schema = json.loads((root / "stats" / "v1.avsc").read_text())
    schema["fields"][1]["type"]["symbols"] = ["EXIT"]
    (root / "stats" / "v2.avsc").write_text(json.dumps(schema))
    problems = check(load_catalogue(root)).problems
    assert any("lost symbols ['ENTRY']" in p for p in problems), problems


def test_broken_catalogues_fail_clearly(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "stats" / "v4.avsc").write_text("{}")  # stats ships v1 and v2
    with pytest.raises(SchemaCatalogueError, match="without gaps"):
        load_catalogue(root)
    (root / "stats" / "v3.avsc").write_text("{not json")
    with pytest.raises(SchemaCatalogueError, match="not a valid Avro schema"):
        load_catalogue(root)
    assert cli.main(["schemas", "check", "--dir", str(root)]) == 1


def test_docs_list_every_schema_and_field() -> None:
    doc = (ROOT / "docs" / "schemas.md").read_text()
    for family, versions in catalogue().families.items():
        assert f"`{family}`" in doc
        records = versions[-1].schema if isinstance(versions[-1].schema, list) else [versions[-1].schema]
        for record in records:
            for fld in record["fields"]:
                assert f"`{fld['name']}`" in doc, f"docs/schemas.md misses {family}.{fld['name']}"
