"""What every agency should hold, from the simulator's truth — and how far its share topic and its
Redis read model are from that. Pure (unit-tested in tests/unit/test_soaktruth.py).

The old soak compared each read model only with its own share topic, so a record that never
reached the topic (or a field that leaked into it) went unnoticed. Here both are compared with the
*truth* filtered by the agency's agreement (bordersync/data/border.json): the agency gets the
records of every crossing where its administration is a side (or the crossings its agreement
lists), only of the streams its agreement lists, and only the agreed fields.

Keys compared: crossings and inspections by ``event_id``, matched by ``(exit, entry)``, alerts by
``(type, sorted event ids)`` (alert ids are the worker's). An ``UNMATCHED_*`` alert for events the
truth pairs is the sweep-timing artefact docs/producers.md allows (a crash held the partner back
past the grace), here as in ``faults.check``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bordersync.border import BorderConfig

STREAMS = ("crossings", "inspections", "matched", "alerts")
Key = tuple[str, ...]
# The data-protection rules of streams/logic/sharing.py, restated from the contract (the core does
# not import the stream processor): an alert whose type tells an inspection's result goes only
# to agencies whose inspections agreement has ``result``; ``matched.inspections`` only to those
# whose inspections agreement covers every field of such an entry.
RESULT_ALERTS = frozenset({"INSPECTION_HOLD"})
NESTED_INSPECTION_FIELDS = frozenset({"event_id", "admin", "inspection_type", "result",
                                      "event_time", "findings", "seals_applied",
                                      "measured_mass_kg"})


@dataclass
class Holding:
    """What one agency holds (a share topic or a read model): keys per stream, field leaks."""

    keys: dict[str, set[Key]] = field(default_factory=lambda: {s: set() for s in STREAMS})
    leaks: set[str] = field(default_factory=set)  # "stream.field" outside the agreement
    foreign: int = 0  # records of a crossing or stream the agency is not entitled to

    def add(self, stream: str, record: Mapping[str, Any], agreed: frozenset[str] | None) -> None:
        if stream not in self.keys or agreed is None:
            self.foreign += 1
            return
        self.leaks |= {f"{stream}.{f}" for f in record if f not in agreed}
        key = record_key(stream, record)
        if key is not None:
            self.keys[stream].add(key)


def record_key(stream: str, record: Mapping[str, Any]) -> Key | None:
    if stream in ("crossings", "inspections"):
        return (str(record["event_id"]),) if "event_id" in record else None
    if stream == "matched":
        if "exit_event_id" in record and "entry_event_id" in record:
            return str(record["exit_event_id"]), str(record["entry_event_id"])
        return None
    if "type" in record and "event_ids" in record:
        return (str(record["type"]), *sorted(str(i) for i in record["event_ids"]))
    return None


def agreements(border: BorderConfig, agencies: Iterable[str]
               ) -> dict[str, tuple[frozenset[str], dict[str, frozenset[str]]]]:
    """agency -> (its crossings, stream -> agreed fields)."""
    out = {}
    for name in agencies:
        agency = border.agency(name)
        streams = {s: frozenset(f) for s, f in agency.streams.items()}
        covered = NESTED_INSPECTION_FIELDS.issubset(streams.get("inspections", frozenset()))
        if "matched" in streams and not covered:
            streams["matched"] -= {"inspections"}
        out[name] = (frozenset(border.agency_crossings(agency)), streams)
    return out


def expected(events: Iterable[Mapping[str, Any]], truth: Mapping[str, Any], accepted: set[str],
             border: BorderConfig, agencies: Iterable[str]) -> dict[str, dict[str, set[Key]]]:
    """agency -> stream -> the keys the truth says it must hold (accepted events only)."""
    dropped = {d for p in truth.get("physical_duplicates", []) for d in p["dropped"]}
    crossing_of: dict[str, str] = {}
    kind_of: dict[str, str] = {}
    for e in events:
        eid = str(e["event_id"])
        if eid in accepted and eid not in dropped and eid not in kind_of:
            found = border.crossing_of_post(str(e["post"]))
            if found is not None:
                crossing_of[eid] = found.id
                kind_of[eid] = "crossings" if e["kind"] == "crossing" else "inspections"
    out: dict[str, dict[str, set[Key]]] = {}
    for agency, (crossings, streams) in agreements(border, agencies).items():
        want: dict[str, set[Key]] = {s: set() for s in STREAMS}
        for eid, stream in kind_of.items():
            if stream in streams and crossing_of[eid] in crossings:
                want[stream].add((eid,))
        if "matched" in streams:
            want["matched"] = {(str(p["exit_event_id"]), str(p["entry_event_id"]))
                               for p in truth["pairs"] if p["crossing"] in crossings}
        if "alerts" in streams:
            results = "result" in streams.get("inspections", frozenset())
            want["alerts"] = {(str(a["type"]), *sorted(str(i) for i in a["event_ids"]))
                              for a in truth["alerts"] if a["crossing"] in crossings
                              and (results or a["type"] not in RESULT_ALERTS)}
        out[agency] = want
    return out


def compare(want: Mapping[str, Mapping[str, set[Key]]], got: Mapping[str, Holding],
            truth: Mapping[str, Any]) -> dict[str, Any]:
    """Missing, extra (artefacts excepted), leaked fields and foreign records, per agency."""
    paired = {str(i) for p in truth["pairs"] for i in (p["exit_event_id"], p["entry_event_id"])}
    wrong, artefacts = 0, 0
    detail: dict[str, dict[str, Any]] = {}
    for agency, streams in want.items():
        holding = got.get(agency, Holding())
        row: dict[str, Any] = {}
        for stream, keys in streams.items():
            have = holding.keys.get(stream, set())
            extra = have - keys
            if stream == "alerts":
                allowed = {k for k in extra if k[0].startswith("UNMATCHED") and set(k[1:]) <= paired}
                artefacts += len(allowed)
                extra -= allowed
            missing = keys - have
            if missing or extra:
                row[stream] = {"missing": len(missing), "extra": len(extra),
                               "e.g.": sorted(missing or extra)[:2]}
            wrong += len(missing) + len(extra)
        if holding.leaks or holding.foreign:
            row["leaked_fields"], row["foreign"] = sorted(holding.leaks)[:5], holding.foreign
            wrong += len(holding.leaks) + holding.foreign
        if row:
            detail[agency] = row
    return {"wrong": wrong, "artefacts": artefacts, "detail": detail}


def complete(want: Mapping[str, Mapping[str, set[Key]]], got: Mapping[str, Holding]) -> bool:
    """Everything expected is there (extras are judged later, not waited for)."""
    return all(keys <= got.get(a, Holding()).keys.get(s, set())
               for a, streams in want.items() for s, keys in streams.items())
