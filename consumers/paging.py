"""Opaque cursors and keyset paging over Redis sorted sets and streams, for the agency API.

A cursor is the position of the last row handed out (score and member, or a stream id), in
base64url JSON: clients must treat it as opaque, the server checks its shape and answers 400 to
anything else. Keyset paging (rather than offsets) means rows added or removed while an agency
walks the list neither repeat nor skip the rows it has not seen yet.
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

import redis

SCAN_STEP = 200
STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# What a cursor looks like on the wire (base64url, no padding); the OpenAPI document says so too.
CURSOR_PATTERN = "^[A-Za-z0-9_-]{1,512}$"
CURSOR = re.compile(CURSOR_PATTERN)


class BadCursor(ValueError):
    """The ``cursor`` parameter is not one this server handed out."""


def encode(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, kind: str) -> dict[str, Any]:
    """The position in ``cursor``; raises ``BadCursor`` unless it is a ``kind`` cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not one this API returned") from exc
    if not isinstance(found, dict) or found.get("k") != kind:
        raise BadCursor("cursor is not one this API returned for this list")
    return found


def score_cursor(kind: str, score: float, member: str) -> str:
    return encode({"k": kind, "s": score, "m": member})


def score_position(cursor: str | None, kind: str) -> tuple[float, str] | None:
    if cursor is None:
        return None
    found = decode(cursor, kind)
    score, member = found.get("s"), found.get("m")
    if (not isinstance(score, int | float) or isinstance(score, bool)
            or not math.isfinite(score) or not isinstance(member, str)):
        # json.loads reads NaN and Infinity, which Redis would refuse as a range bound.
        raise BadCursor("cursor is not one this API returned")
    return float(score), member


def after_desc(client: redis.Redis, key: str, position: tuple[float, str] | None,
               need: int) -> list[tuple[float, str]]:
    """Up to ``need`` members of a sorted set strictly after ``position`` in the order
    (score, member) descending — Redis's own ZREVRANGE order, ties by member descending."""
    out: list[tuple[float, str]] = []
    top: str = "+inf" if position is None else repr(position[0])
    offset = 0
    while len(out) < need:
        rows: list[tuple[str, float]] = list(client.zrevrangebyscore(  # type: ignore[arg-type]
            key, top, "-inf", start=offset, num=SCAN_STEP, withscores=True))
        for member, score in rows:
            m, s = str(member), float(score)
            if position is None or s < position[0] or (s == position[0] and m < position[1]):
                out.append((s, m))
        if len(rows) < SCAN_STEP:
            break
        offset += SCAN_STEP
    return sorted(out, reverse=True)[:need]


def stream_position(cursor: str | None, kind: str) -> str:
    """The exclusive start of an XRANGE for the stream cursor, ``-`` for the first page."""
    if cursor is None:
        return "-"
    found = decode(cursor, kind).get("id")
    if not isinstance(found, str) or not STREAM_ID.match(found):
        raise BadCursor("cursor is not one this API returned")
    return f"({found}"
