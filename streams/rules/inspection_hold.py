"""Alert ``INSPECTION_HOLD``: an inspection held or seized the vehicle. Tells an inspection's
result, so sharing routes it only to agencies that may see results (streams.logic.sharing)."""

from __future__ import annotations

from typing import Any

from streams.logic.events import InspectionEvent
from streams.rules.base import Context, Finding, OracleView, expected

TYPE = "INSPECTION_HOLD"
SUMMARY = "an inspection with result HOLD or SEIZED"
RESULTS = ("HOLD", "SEIZED")


def check(ctx: Context) -> Finding | None:
    e = ctx.event
    if not isinstance(e, InspectionEvent) or e.result not in RESULTS:
        return None
    return Finding([e.event_id], f"{e.admin} {e.inspection_type} inspection at {e.post}: "
                                 f"{e.result}")


def expect(view: OracleView) -> list[dict[str, Any]]:
    return [expected(TYPE, o, [o.event["event_id"]]) for o in view.forwarded
            if o.event["kind"] == "inspection" and o.event["result"] in RESULTS]
