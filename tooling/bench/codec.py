"""Codec throughput: ``python -m tooling.bench.codec [N]`` prints one JSON object of figures.

CPU time of this process (not wall time), best of 5 rounds, so other load on a shared machine
distorts less; the JSON codec the skeleton used is measured in the same run as the reference.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bordersync.events import to_json_dict
from bordersync.wire import codec

T = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CROSSING: dict[str, Any] = {
    "event_id": "mk-kjf-0001", "kind": "crossing", "admin": "MK", "post": "MKKJF01",
    "event_time": T, "plate": "SK 1234 AB", "nationality": "MK", "terminal_id": "mk-kjf-booth-1",
    "direction": "EXIT", "vehicle_type": "TRUCK", "seals": ["S-1", "S-2"],
    "container_ids": ["MSCU1234567"], "gross_mass_kg": 24150, "priority": "GREEN_LANE",
}
MATCHED: dict[str, Any] = {
    "exit_event_id": "e1", "entry_event_id": "e2", "crossing": "kjafasan-qafe-thane",
    "plate": "SK1234AB", "exit_admin": "MK", "entry_admin": "AL", "exit_post": "MKKJF01",
    "entry_post": "ALQTH01", "exit_time": T, "entry_time": T + timedelta(minutes=7),
    "transit_seconds": 420.0, "late": False, "vehicle_type": "TRUCK", "discrepancies": [],
    "inspections": [], "matched_at": T,
}


def _rate(n: int, fn: Callable[[], object]) -> float:
    best = 0.0
    for _ in range(5):
        start = time.process_time()
        for _ in range(n):
            fn()
        best = max(best, n / max(time.process_time() - start, 1e-9))
    return round(best)


def _roundtrip(stream: str, record: dict[str, Any]) -> object:
    return codec.decode(stream, codec.encode(stream, record))


def run(n: int = 20_000) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for stream, record in (("raw", CROSSING), ("matched", MATCHED)):
        data = codec.encode(stream, record)
        figures[f"{stream}_bytes"] = len(data)
        figures[f"{stream}_encode_per_s"] = _rate(n, partial(codec.encode, stream, record))
        figures[f"{stream}_decode_per_s"] = _rate(n, partial(codec.decode, stream, data))
        figures[f"{stream}_roundtrip_per_s"] = _rate(n, partial(_roundtrip, stream, record))
    as_json = to_json_dict(CROSSING)
    figures["json_raw_roundtrip_per_s"] = _rate(
        n, lambda: json.loads(json.dumps(as_json, separators=(",", ":"))))
    figures["json_raw_bytes"] = len(json.dumps(as_json, separators=(",", ":")))
    return figures


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)))
