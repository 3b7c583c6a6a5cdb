"""Builders for valid contract events, shared by unit and integration tests."""

from __future__ import annotations

from typing import Any


def crossing(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "mk-kjf-0001", "kind": "crossing", "admin": "MK", "post": "MKKJF01",
        "event_time": "2026-11-25T10:00:00+01:00", "plate": "SK 1234 AB", "nationality": "MK",
        "terminal_id": "mk-kjf-booth-1", "direction": "EXIT", "vehicle_type": "TRUCK",
    }
    event.update(overrides)
    return event


def inspection(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "mk-kjf-i-0001", "kind": "inspection", "admin": "MK", "post": "MKKJF01",
        "event_time": "2026-11-25T09:55:00Z", "plate": "SK 1234 AB", "nationality": "MK",
        "terminal_id": "mk-kjf-xray-1", "inspection_type": "XRAY", "result": "CLEARED",
    }
    event.update(overrides)
    return event
