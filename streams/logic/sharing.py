"""Which partner agency receives which fields of which record: configuration, not code."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from bordersync.border import Agency, BorderConfig
from bordersync.catalogue import share_stream


def filter_fields(record: dict[str, Any], fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Only the agreed fields; a field the record lacks is simply absent."""
    return {name: record[name] for name in fields if name in record}


# The fields of one entry of ``matched.inspections`` (streams.logic.model.HeldInspection).
NESTED_INSPECTION_FIELDS = ("event_id", "admin", "inspection_type", "result", "event_time",
                            "findings", "seals_applied", "measured_mass_kg")
# Alerts whose type alone tells an inspection's result (HOLD or SEIZED).
RESULT_ALERTS = ("INSPECTION_HOLD",)


def alert_route(alert_type: str) -> str:
    """The routing name of an alert of this type: result-revealing alerts route apart."""
    return f"alerts/{alert_type}" if alert_type in RESULT_ALERTS else "alerts"


def _sees_results(agency: Agency) -> bool:
    return "result" in agency.streams.get("inspections", ())


def agreed_fields(agency: Agency, stream: str) -> tuple[str, ...]:
    """What an agency receives of a stream, after the rules that keep inspection results from
    agencies whose agreement does not grant them (docs/security.md, data protection): the
    nested ``matched.inspections`` only goes to an agency whose ``inspections`` agreement covers
    every field of such an entry (all or nothing: a partial entry would still tell the result)."""
    fields = tuple(agency.streams.get(stream, ()))
    if stream == "matched" and "inspections" in fields and not set(NESTED_INSPECTION_FIELDS) <= \
            set(agency.streams.get("inspections", ())):
        fields = tuple(f for f in fields if f != "inspections")
    return fields


class ShareRouter:
    """Precomputed routes: (stream, crossing) -> [(agency, agreed fields)].

    Besides the streams, ``alerts/<TYPE>`` routes the alert types that reveal an inspection's
    result (``alert_route``) to the agencies that may see results only."""

    def __init__(self, border: BorderConfig) -> None:
        routes: dict[tuple[str, str], list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        for agency in border.agencies:
            for crossing in sorted(border.agency_crossings(agency)):
                for stream in agency.streams:
                    routes[(stream, crossing)].append((agency.name, agreed_fields(agency, stream)))
                    if stream == "alerts" and _sees_results(agency):
                        for type_ in RESULT_ALERTS:
                            routes[(alert_route(type_), crossing)].append(
                                (agency.name, agreed_fields(agency, stream)))
        self._routes = dict(routes)
        grouped: dict[tuple[str, str], list[tuple[tuple[str, ...], list[str]]]] = {}
        for route, targets in self._routes.items():
            by_fields: dict[tuple[str, ...], list[str]] = defaultdict(list)
            for name, agreed in targets:
                by_fields[agreed].append(name)
            grouped[route] = list(by_fields.items())
        self._groups = grouped

    def groups(self, stream: str, crossing: str) -> list[tuple[tuple[str, ...], list[str]]]:
        """Agencies entitled to ``stream`` at ``crossing``, grouped by identical agreed fields."""
        return self._groups.get((stream, crossing), [])

    def routes(self, stream: str, crossing: str) -> list[tuple[str, tuple[str, ...]]]:
        return self._routes.get((stream, crossing), [])

    def share(self, stream: str, crossing: str, record: dict[str, Any],
              now: datetime) -> list[tuple[str, dict[str, Any]]]:
        """``(share.<agency> stream, share record)`` for every agency entitled to ``record``."""
        route = alert_route(str(record.get("type"))) if stream == "alerts" else stream
        return [
            (share_stream(agency), {"stream": stream, "agency": agency, "shared_at": now,
                                    "record": filter_fields(record, fields)})
            for agency, fields in self.routes(route, crossing)
        ]
