"""The rule tables of docs/records.md and docs/streams.md, generated from ``streams.rules.RULES``.

Each table sits between ``<!-- rules:NAME -->`` and ``<!-- /rules:NAME -->`` markers; everything
else in those files is hand-written. ``python -m streams.rules --write-docs`` rewrites the tables,
``--check-docs`` exits 1 when they are stale (tests/unit/test_rules.py runs the same check).
"""

from __future__ import annotations

import re
from pathlib import Path

from streams.rules import ALERT_RULES, FIELD_RULES

DOCS = ("docs/records.md", "docs/streams.md")


def alert_table() -> str:
    rows = [f"| `{r.type}` | {r.trigger.value} | {r.summary} |" for r in ALERT_RULES]
    return "\n".join(["| alert type | raised on | when |", "|---|---|---|", *rows])


def field_table() -> str:
    rows = [f"| `{r.field}` | {r.summary} |" for r in FIELD_RULES]
    return "\n".join(["| discrepancy field | when |", "|---|---|", *rows])


TABLES = {"alerts": alert_table, "fields": field_table}
_BLOCK = re.compile(r"(<!-- rules:(\w+) -->\n)(.*?)(<!-- /rules:\2 -->)", re.S)


def render(text: str) -> str:
    """``text`` with every marked table replaced by the table generated from the registry."""
    return _BLOCK.sub(lambda m: f"{m.group(1)}{TABLES[m.group(2)]()}\n{m.group(4)}", text)


def stale(root: Path) -> list[str]:
    """Docs whose rule tables differ from the registry (or that carry none)."""
    out = []
    for name in DOCS:
        text = (root / name).read_text("utf-8")
        if not _BLOCK.search(text) or render(text) != text:
            out.append(name)
    return out


def write(root: Path) -> None:
    for name in DOCS:
        path = root / name
        path.write_text(render(path.read_text("utf-8")), "utf-8")
