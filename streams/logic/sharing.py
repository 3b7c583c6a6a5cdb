"""Which partner agency receives which fields of which record: configuration, not code."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from bordersync.border import BorderConfig
from bordersync.catalogue import share_stream


def filter_fields(record: dict[str, Any], fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Only the agreed fields; a field the record lacks is simply absent."""
    return {name: record[name] for name in fields if name in record}


class ShareRouter:
    """Precomputed routes: (stream, crossing) -> [(agency, agreed fields)]."""

    def __init__(self, border: BorderConfig) -> None:
        routes: dict[tuple[str, str], list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        for agency in border.agencies:
            for crossing in sorted(border.agency_crossings(agency)):
                for stream, fields in agency.streams.items():
                    routes[(stream, crossing)].append((agency.name, tuple(fields)))
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
        return [
            (share_stream(agency), {"stream": stream, "agency": agency, "shared_at": now,
                                    "record": filter_fields(record, fields)})
            for agency, fields in self.routes(stream, crossing)
        ]
