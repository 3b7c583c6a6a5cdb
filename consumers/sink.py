"""Redis side of the read model: one atomic Lua call per batch, and the lookups over it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import redis

from bordersync.endpoints import resolve_redis_url
from bordersync.settings import Settings
from consumers import metrics
from consumers.readmodel import AgencyContext, Keys, Op, Write
from consumers.views import alert_rows, enroute_row, vehicle_view

# One call applies a whole batch atomically (Lua scripts run without interleaving), so a crash
# leaves either all of a batch or none of it. ``seen`` keys make re-delivered records no-ops.
# The marker key tells the consumer that the read model still holds what it committed: if it
# vanished (Redis flushed or restarted empty), the batch is refused and the consumer rewinds.
_APPLY = """
local ttl = tonumber(ARGV[1])
if ARGV[3] == '1' and redis.call('EXISTS', ARGV[2]) == 0 then return {-1, 0} end
redis.call('SET', ARGV[2], '1')
local batch = cjson.decode(ARGV[4])
local applied, dups, pruned, hpruned, touched = 0, 0, {}, {}, {}
for _, rec in ipairs(batch) do
  if redis.call('EXISTS', rec[1]) == 0 then
    applied = applied + 1
    for _, op in ipairs(rec[2]) do
      local name, key = op[1], op[2]
      if name == 'hset' then
        redis.call('HSET', key, op[3], op[4]); touched[key] = true
      elseif name == 'set' then
        redis.call('SET', key, op[3], 'EX', ttl)
      elseif name == 'zadd' then
        redis.call('ZADD', key, op[3], op[4]); touched[key] = true
      elseif name == 'zrem_if_le' then
        local score = redis.call('ZSCORE', key, op[3])
        if score and tonumber(score) <= tonumber(op[4]) then redis.call('ZREM', key, op[3]) end
      elseif name == 'zprune' then
        if not pruned[key] then
          pruned[key] = true
          redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. op[3])
        end
      elseif name == 'hprune' then
        -- Entries of a vehicle hash older than the retention, by its time index (readmodel).
        if not hpruned[key] then
          hpruned[key] = true
          local index = key .. '|t'
          local old = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. op[3])
          for _, f in ipairs(old) do redis.call('HDEL', key, f) end
          if #old > 0 then redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. op[3]) end
        end
      elseif name == 'hincrby' then
        redis.call('HINCRBY', key, op[3], op[4])
      else
        return redis.error_reply('unknown read-model op ' .. tostring(name))
      end
    end
    -- Marked seen only once all its writes are done: a script that fails half-way (Redis does
    -- not roll back) leaves the record unmarked, so the retry applies it again in full.
    redis.call('SET', rec[1], '1', 'EX', ttl)
  else
    dups = dups + 1
  end
end
for key in pairs(touched) do redis.call('EXPIRE', key, ttl) end
return {applied, dups}
"""


def connect(settings: Settings) -> redis.Redis:
    client: redis.Redis = redis.Redis.from_url(
        resolve_redis_url(settings), decode_responses=True, socket_timeout=5,
        socket_connect_timeout=5, health_check_interval=10,
    )
    return client


def _arg(value: str | float) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _encode(ops: Sequence[Op]) -> list[list[str]]:
    return [[_arg(v) for v in op] for op in ops]


class RedisSink:
    """Applies planned writes; returns (applied, duplicates), or None if the model was lost."""

    def __init__(self, client: redis.Redis, keys: Keys, ttl: int) -> None:
        self.client = client
        self.keys = keys
        self.ttl = ttl
        self._script = client.register_script(_APPLY)

    def drop(self) -> int:
        """Deletes every key of this agency's read model (``--rebuild``); returns how many."""
        dropped = 0
        batch: list[str] = []
        for key in self.client.scan_iter(match=f"{self.keys.prefix}*", count=1000):
            batch.append(str(key))
            if len(batch) >= 1000:
                dropped += int(self.client.unlink(*batch))
                batch.clear()
        if batch:
            dropped += int(self.client.unlink(*batch))
        return dropped

    def has_marker(self) -> bool:
        return bool(self.client.exists(self.keys.marker()))

    def apply(self, writes: Sequence[Write], expect_marker: bool) -> tuple[int, int] | None:
        batch = [[self.keys.seen(w.idem), _encode(w.ops)] for w in writes]
        payload = json.dumps(batch, ensure_ascii=False, separators=(",", ":"))
        # An empty JSON array decodes as an object in cjson; ipairs handles it either way.
        result = self._script(args=[self.ttl, self.keys.marker(), "1" if expect_marker else "0",
                                    payload])
        applied, dups = int(result[0]), int(result[1])
        if applied < 0:
            return None
        return applied, dups


class Reader:
    """Lookups over one agency's read model (sync; the API calls it from a worker thread)."""

    def __init__(self, client: redis.Redis, ctx: AgencyContext, keys: Keys) -> None:
        self.client = client
        self.ctx = ctx
        self.keys = keys

    def vehicles(self, plates: Sequence[str]) -> list[dict[str, Any] | None]:
        pipe = self.client.pipeline(transaction=False)
        for plate in plates:
            pipe.hgetall(self.keys.crossings(plate))
            pipe.hgetall(self.keys.inspections(plate))
            pipe.hgetall(self.keys.matched(plate))
            pipe.hgetall(self.keys.alerts(plate))
            pipe.hgetall(self.keys.risk(plate))
        found = pipe.execute()
        return [vehicle_view(self.ctx, plate, *found[5 * i:5 * i + 5])
                for i, plate in enumerate(plates)]

    def vehicle(self, plate: str) -> dict[str, Any] | None:
        """``plate`` must already be normalised."""
        started = time.perf_counter()
        try:
            return self.vehicles([plate])[0]
        finally:
            metrics.LOOKUP_LATENCY.observe(time.perf_counter() - started)

    def enroute(self, limit: int = 100) -> list[dict[str, Any]]:
        """Vehicles that exited the other side towards this one and have not entered, newest first."""
        plates = [str(p) for p in self.client.zrevrange(self.keys.enroute(), 0, limit - 1)]
        views = self.vehicles(plates) if plates else []
        return [enroute_row(v) for v in views if v is not None and v["status"] == "en_route"]

    def alerts(self, crossing: str | None, limit: int = 100) -> list[dict[str, Any]]:
        """Alerts of one crossing (every crossing of the agency when None), newest first."""
        crossings = [crossing] if crossing else sorted(self.ctx.crossings)
        pipe = self.client.pipeline(transaction=False)
        for c in crossings:
            pipe.zrevrange(self.keys.alerts_by_crossing(c), 0, limit - 1, withscores=True)
        scored = sorted(((s, i) for ids in pipe.execute() for i, s in ids), reverse=True)[:limit]
        if not scored:
            return []
        found = self.client.mget([self.keys.alert(i) for _, i in scored])
        return alert_rows(None if v is None else str(v) for v in found)

    def stats(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.client.hgetall(self.keys.stats()).items()}
