"""Avro schema resolution rules as a static check: can a reader schema read a writer schema?

Implements the resolution rules of the Avro specification (what the Confluent registry calls
BACKWARD when the reader is the newer schema): records match by name, a reader field missing in
the writer needs a default, writer fields missing in the reader are skipped, enum symbols the
reader lacks need a reader default, unions resolve branch by branch, primitives may be promoted.
Pure functions over the JSON form of the schemas.
"""

from __future__ import annotations

from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "enum", "fixed", "error"})
# Writer type -> reader types that can read it (Avro "promotion").
PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}

Names = dict[str, Any]


def _fullname(name: str, namespace: str | None) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def collect_names(schema: Any, namespace: str | None = None, names: Names | None = None) -> Names:
    """Every named type of ``schema`` by full name (definitions may appear only once)."""
    names = {} if names is None else names
    if isinstance(schema, list):
        for branch in schema:
            collect_names(branch, namespace, names)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in NAMED:
            full = _fullname(schema["name"], schema.get("namespace", namespace))
            names[full] = schema
            inner_ns = full.rpartition(".")[0] or None
            for fld in schema.get("fields", []):
                collect_names(fld["type"], inner_ns, names)
        elif kind == "array":
            collect_names(schema["items"], namespace, names)
        elif kind == "map":
            collect_names(schema["values"], namespace, names)
        elif isinstance(kind, (dict, list)):
            collect_names(kind, namespace, names)
    return names


class _Side:
    def __init__(self, schema: Any) -> None:
        self.names = collect_names(schema)

    def resolve(self, schema: Any, namespace: str | None) -> tuple[Any, str | None]:
        """(schema with references replaced by definitions, namespace for nested names)."""
        while True:
            if isinstance(schema, str) and schema not in PRIMITIVES:
                full = _fullname(schema, namespace)
                target = self.names.get(full, self.names.get(schema))
                if target is None:
                    raise ValueError(f"unknown type {schema!r}")
                schema = target
                namespace = full.rpartition(".")[0] or None
                continue
            if isinstance(schema, dict):
                kind = schema.get("type")
                if kind in PRIMITIVES:  # {"type": "long", "logicalType": ...}
                    return kind, namespace
                if isinstance(kind, list) or (
                        isinstance(kind, str) and kind not in NAMED | {"array", "map"}):
                    schema = kind
                    continue
                if kind in NAMED:
                    full = _fullname(schema["name"], schema.get("namespace", namespace))
                    return schema, full.rpartition(".")[0] or None
            return schema, namespace


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, str):
        return schema
    return str(schema["type"])


def _short(name: str) -> str:
    return name.rpartition(".")[2]


class Checker:
    """Collects why ``reader`` cannot read data written with ``writer`` (empty list: it can)."""

    def __init__(self, writer: Any, reader: Any) -> None:
        self.w = _Side(writer)
        self.r = _Side(reader)
        self.writer = writer
        self.reader = reader
        self._active: set[tuple[int, int]] = set()

    def problems(self) -> list[str]:
        return self._check(self.writer, None, self.reader, None, "")

    def _check(self, w: Any, wns: str | None, r: Any, rns: str | None, path: str) -> list[str]:
        w, wns = self.w.resolve(w, wns)
        r, rns = self.r.resolve(r, rns)
        key = (id(w), id(r))
        if key in self._active:  # recursive types: assume compatible while checking the cycle
            return []
        self._active.add(key)
        try:
            return self._check_resolved(w, wns, r, rns, path)
        finally:
            self._active.discard(key)

    def _check_resolved(self, w: Any, wns: str | None, r: Any, rns: str | None,
                        path: str) -> list[str]:
        where = path or "<root>"
        wk, rk = _kind(w), _kind(r)
        if wk == "union":
            out: list[str] = []
            for branch in w:
                out += self._check(branch, wns, r, rns, path)
            return out
        if rk == "union":
            for branch in r:
                if not self._check(w, wns, branch, rns, path):
                    return []
            return [f"{where}: writer type {_describe(w)} matches no branch of the reader union"]
        if wk in PRIMITIVES or rk in PRIMITIVES:
            if rk in PROMOTIONS.get(wk, {wk}) and wk in PRIMITIVES and rk in PRIMITIVES:
                return []
            return [f"{where}: writer type {_describe(w)} cannot be read as {_describe(r)}"]
        if wk != rk:
            return [f"{where}: writer type {wk} cannot be read as {rk}"]
        if wk in NAMED and not _same_name(w, r):
            return [f"{where}: writer {wk} {w['name']} does not match reader {rk} {r['name']}"]
        if wk == "array":
            return self._check(w["items"], wns, r["items"], rns, f"{path}[]")
        if wk == "map":
            return self._check(w["values"], wns, r["values"], rns, f"{path}{{}}")
        if wk == "enum":
            missing = [s for s in w["symbols"] if s not in r["symbols"]]
            if missing and "default" not in r:
                return [f"{where}: enum {r['name']} lost symbols {missing} and has no default"]
            return []
        if wk == "fixed":
            return [] if w["size"] == r["size"] else [f"{where}: fixed size changed"]
        return self._check_record(w, wns, r, rns, path)

    def _check_record(self, w: Any, wns: str | None, r: Any, rns: str | None,
                      path: str) -> list[str]:
        out: list[str] = []
        writer_fields = {f["name"]: f for f in w["fields"]}
        for fld in r["fields"]:
            names = [fld["name"], *fld.get("aliases", [])]
            source = next((writer_fields[n] for n in names if n in writer_fields), None)
            sub = f"{path}.{fld['name']}" if path else fld["name"]
            if source is None:
                if "default" not in fld:
                    out.append(f"{sub}: field added without a default (old records cannot fill it)")
                continue
            out += self._check(source["type"], wns, fld["type"], rns, sub)
        return out


def _same_name(w: Any, r: Any) -> bool:
    names = {_short(r["name"]), *(_short(a) for a in r.get("aliases", []))}
    return _short(w["name"]) in names


def _describe(schema: Any) -> str:
    if isinstance(schema, dict):
        return f"{schema.get('type')} {schema.get('name', '')}".strip()
    return str(schema)


def can_read(writer: Any, reader: Any) -> list[str]:
    """Problems that stop ``reader`` from reading ``writer`` data; empty when compatible."""
    return Checker(writer, reader).problems()
