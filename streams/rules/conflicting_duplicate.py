"""Alert ``CONFLICTING_DUPLICATE``: an event id re-sent with different content. The first version
stands; the later copy is not forwarded, so officers must learn that a terminal changed its story."""

from __future__ import annotations

from typing import Any

from streams.rules.base import Context, Finding, OracleView, expected

TYPE = "CONFLICTING_DUPLICATE"
SUMMARY = "an `event_id` re-sent with different content (the first version stands)"


def check(ctx: Context) -> Finding | None:
    if ctx.event is None:
        return None
    event_id = ctx.event.event_id
    return Finding([event_id], f"event {event_id} re-sent with different content; "
                               "the first version stands")


def expect(view: OracleView) -> list[dict[str, Any]]:
    return [expected(TYPE, o, [o.event["event_id"]]) for o in view.conflicting]
