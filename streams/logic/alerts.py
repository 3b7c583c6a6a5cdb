"""Alert records (docs/records.md) with ids that are the same every time the same alert is raised."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from streams.rules import alert_types

TYPES = alert_types()  # the rule table (streams.rules) is the one list of alert types


def alert_id(type_: str, event_ids: list[str]) -> str:
    """sha256 of the type and the sorted event ids, first 32 hex characters.

    Deterministic so an alert re-raised after a crash (at-least-once) dedupes downstream.
    """
    text = "|".join([type_, *sorted(event_ids)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def alert(type_: str, *, crossing: str, plate: str, event_ids: list[str], detail: str,
          raised_at: datetime) -> dict[str, Any]:
    if type_ not in TYPES:
        raise ValueError(f"unknown alert type {type_!r}")
    return {
        "alert_id": alert_id(type_, event_ids), "type": type_, "crossing": crossing,
        "plate": plate, "event_ids": sorted(event_ids), "detail": detail, "raised_at": raised_at,
    }
