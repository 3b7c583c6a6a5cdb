"""Alerts ``UNMATCHED_EXIT`` / ``UNMATCHED_ENTRY``: a crossing found no partner on the other side
by event time + window + grace on the wall clock. One module for the mirrored pair: the two
rules differ only in the direction they watch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.rules.base import Context, Finding, OracleView, expected

SUMMARY = {
    "EXIT": "an EXIT with no ENTRY on the other side by event time + window + grace",
    "ENTRY": "an ENTRY with no EXIT on the other side by event time + window + grace",
}


def check_for(direction: str) -> Callable[[Context], Finding | None]:
    partner = "ENTRY" if direction == "EXIT" else "EXIT"

    def check(ctx: Context) -> Finding | None:
        p = ctx.pending
        if p is None or p.direction != direction:
            return None
        return Finding([p.event_id], f"{p.direction} {p.event_id} at {p.post}: no {partner} on "
                                     "the other side within the window")
    return check


def expect_for(direction: str) -> Callable[[OracleView], list[dict[str, Any]]]:
    def expect(view: OracleView) -> list[dict[str, Any]]:
        return [expected(f"UNMATCHED_{direction}", o, [o.event["event_id"]])
                for o in view.unpaired if o.event["direction"] == direction]
    return expect
