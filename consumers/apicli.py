"""``bordersync api audit``: an agency's audit log as JSON lines, straight from Redis.

For the agency's operator on the host (no token needed: Redis access is the credential); remote
partners use ``GET /v1/audit`` or ``consumers.client.AgencyClient.audit``.
"""

from __future__ import annotations

import json
import sys

import redis

from bordersync.settings import Settings
from consumers.audit import AuditLog
from consumers.readmodel import Keys
from consumers.sink import connect


def export_audit(settings: Settings, agency: str) -> int:
    log = AuditLog(connect(settings), Keys.of(settings, agency), settings.api_audit_max_entries)
    cursor: str | None = None
    try:
        while True:
            entries, cursor = log.page(cursor, 500)
            for entry in entries:
                print(json.dumps(entry, ensure_ascii=False))
            if cursor is None:
                return 0
    except redis.RedisError as exc:
        print(f"bordersync: audit log unavailable (Redis): {exc}", file=sys.stderr)
        return 1
