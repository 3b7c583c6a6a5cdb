"""Alert ``DISCREPANCY``: a matched pair on which the field rules found differences."""

from __future__ import annotations

from typing import Any

from streams.rules.base import Context, Finding, OracleView, expected

TYPE = "DISCREPANCY"
SUMMARY = ("a matched EXIT/ENTRY pair whose sides disagree on a discrepancy field "
           "(`event_ids`: exit, entry)")


def check(ctx: Context) -> Finding | None:
    if not ctx.discrepancies or ctx.exit_ is None or ctx.entry is None:
        return None
    fields = ", ".join(f"{d['field']} {d['exit_value']} -> {d['entry_value']}"
                       for d in ctx.discrepancies)
    return Finding([ctx.exit_.event_id, ctx.entry.event_id],
                   f"{ctx.exit_.admin} exit vs {ctx.entry.admin} entry: {fields}")


def expect(view: OracleView) -> list[dict[str, Any]]:
    return [expected(TYPE, p, [p.exit_event["event_id"], p.entry_event["event_id"]])
            for p in view.pairs if p.fields]
