"""Audit log of the agency API: who asked what, when, about which plate.

One Redis stream per agency (``bs:<tenant>:<agency>:audit``), beside its read model, trimmed to
about ``api_audit_max_entries``. Each query is written *before* its answer leaves the server:
when the entry cannot be written the query fails (503), so nothing is ever read unaudited. The
agency exports its own log through ``GET /v1/audit`` (scope ``audit``) or ``bordersync api
audit``, oldest first, in pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from bordersync.events import format_time
from consumers import paging
from consumers.auth import Principal
from consumers.readmodel import Keys

FIELDS = ("at", "agency", "officer", "method", "action", "plate", "query", "status")


@dataclass
class AuditLog:
    client: redis.Redis
    keys: Keys
    max_entries: int

    @property
    def key(self) -> str:
        return f"{self.keys.prefix}audit"

    def record(self, who: Principal, action: str, status: int, plate: str = "",
               query: str = "") -> str:
        entry = {"at": format_time(datetime.now(UTC)), "agency": who.agency,
                 "officer": who.officer, "method": who.method, "action": action,
                 "plate": plate, "query": query[:500], "status": str(status)}
        return str(self.client.xadd(self.key, entry,  # type: ignore[arg-type]
                                    maxlen=self.max_entries, approximate=True))

    def page(self, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """Entries after ``cursor``, oldest first, and the cursor of the next page (None at the
        end of the log as it stands; a later call with the last cursor gets newer entries)."""
        start = paging.stream_position(cursor, "audit")
        rows: list[tuple[str, dict[str, Any]]] = list(
            self.client.xrange(self.key, start, "+", count=limit + 1) or [])  # type: ignore[arg-type]
        entries = [_entry(str(i), f) for i, f in rows[:limit]]
        more = len(rows) > limit
        nxt = paging.encode({"k": "audit", "id": entries[-1]["id"]}) if more and entries else None
        return entries, nxt


def _entry(entry_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": entry_id}
    for name in FIELDS:
        value = fields.get(name, "")
        out[name] = int(value) if name == "status" and str(value).isdigit() else str(value)
    return out
