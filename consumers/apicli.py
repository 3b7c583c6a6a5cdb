"""``bordersync api audit``: an agency's audit log as JSON lines, straight from Redis.

For the agency's operator on the host (no token needed: Redis access is the credential); remote
partners use ``GET /v1/audit`` or ``consumers.client.AgencyClient.audit``.
"""

from __future__ import annotations

import sys

import redis

from bordersync.output import emit, pairs
from bordersync.settings import Settings
from consumers.audit import AuditLog
from consumers.readmodel import Keys
from consumers.sink import connect


def export_audit(settings: Settings, agency: str, output: str = "json") -> int:
    """The agency's audit log, oldest first: JSON lines (``-o json``, the default, as it always
    printed) or ``name=value`` lines (``-o table``)."""
    log = AuditLog(connect(settings), Keys.of(settings, agency), settings.api_audit_max_entries)
    cursor: str | None = None
    try:
        while True:
            entries, cursor = log.page(cursor, 500)
            emit(entries, output, pairs)
            if cursor is None:
                return 0
    except redis.RedisError as exc:
        print(f"bordersync: audit log unavailable (Redis): {exc}", file=sys.stderr)
        return 1
