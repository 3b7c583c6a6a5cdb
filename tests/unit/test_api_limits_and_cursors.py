"""The agency API's token buckets and opaque cursors (pure logic)."""

from __future__ import annotations

import pytest

from consumers import paging
from consumers.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=0.5, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == 2.0  # one token at 0.5/s
    assert limiter.take("b") == 0.0  # every client has its own bucket
    clock.now += 2.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") >= 1.0


def test_bucket_table_is_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=Clock(), max_clients=3)
    for name in "abcde":
        limiter.take(name)
    assert len(limiter._buckets) == 3
    assert limiter.take("a") == 0.0  # forgotten: a full bucket again


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    cursor = paging.score_cursor("enroute", 1764500000.123, "SK1234AB")
    assert paging.CURSOR.match(cursor)
    assert paging.score_position(cursor, "enroute") == (1764500000.123, "SK1234AB")
    assert paging.score_position(None, "enroute") is None
    with pytest.raises(paging.BadCursor):
        paging.score_position(cursor, "alerts")  # a cursor of another list
    for junk in ("0", "AAAA", "e30", paging.encode({"k": "enroute", "s": True, "m": "x"}),
                 paging.encode({"k": "enroute", "s": 1.0}), "!!!",
                 paging.encode({"k": "enroute", "s": float("nan"), "m": "x"}),
                 paging.encode({"k": "enroute", "s": float("-inf"), "m": "x"})):
        with pytest.raises(paging.BadCursor):
            paging.score_position(junk, "enroute")
    audit = paging.encode({"k": "audit", "id": "1764500000000-3"})
    assert paging.stream_position(audit, "audit") == "(1764500000000-3"
    assert paging.stream_position(None, "audit") == "-"
    with pytest.raises(paging.BadCursor):
        paging.stream_position(paging.encode({"k": "audit", "id": "+"}), "audit")
