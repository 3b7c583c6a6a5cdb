"""Retention of the read model (issue #16): a vehicle that keeps crossing kept every journey in
its hashes, since each write restarted the key's TTL; only the display was trimmed. Entries older
than ``BORDERSYNC_READMODEL_TTL_SECONDS`` (per agency consumer process, i.e. per read model) are
now deleted from the hashes themselves when the vehicle is written again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bordersync.border import load_border_config
from bordersync.settings import Settings
from consumers.readmodel import AgencyContext, Keys, Write, index_key, plan
from consumers.sink import RedisSink, connect

CTX = AgencyContext.of(load_border_config(), "al-customs")
DAY = 24 * 3600.0


def _crossing(event_id: str, when: datetime) -> dict[str, Any]:
    return {"stream": "crossings", "agency": "al-customs", "shared_at": when.isoformat(),
            "record": {"event_id": event_id, "kind": "crossing", "admin": "MK",
                       "post": "MKKJF01", "event_time": when.isoformat(), "plate": "SK 9 RR",
                       "nationality": "MK", "terminal_id": "t", "direction": "EXIT",
                       "vehicle_type": "CAR"}}


def _write(sink: RedisSink, keys: Keys, share: dict[str, Any], now: datetime, ttl: int) -> None:
    write = plan(share, b"SK9RR", CTX, keys, now.timestamp(), ttl)
    assert isinstance(write, Write)
    assert sink.apply([write], expect_marker=False) == (1, 0)


def test_read_model_kept_every_old_journey_of_a_returning_vehicle(settings: Settings) -> None:
    keys = Keys.of(settings, "al-customs")
    ttl = int(30 * DAY)
    sink = RedisSink(connect(settings), keys, ttl)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    _write(sink, keys, _crossing("old-1", t0), t0, ttl)
    _write(sink, keys, _crossing("old-2", t0 + timedelta(days=10)), t0 + timedelta(days=10), ttl)
    later = t0 + timedelta(days=35)
    _write(sink, keys, _crossing("new-1", later), later, ttl)
    client = connect(settings)
    hash_key = keys.crossings("SK9RR")
    assert sorted(client.hkeys(hash_key)) == ["new-1", "old-2"]  # old-1 is 35 days old
    assert sorted(client.zrange(index_key(hash_key), 0, -1)) == ["new-1", "old-2"]
    # An entry that is already older than the retention when it arrives is not kept either.
    _write(sink, keys, _crossing("ancient", t0 - timedelta(days=90)), later, ttl)
    assert "ancient" not in client.hkeys(hash_key)
    # Index and hash expire together with the vehicle.
    assert 0 < client.ttl(index_key(hash_key)) <= ttl
