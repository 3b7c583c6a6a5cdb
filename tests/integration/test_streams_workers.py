"""Worker lifecycle against the real broker: restart with state recovery, and two workers."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bordersync.settings import Settings
from tests.conftest import Proc
from tests.helpers import crossing
from tests.integration.streams_support import Reader, pair_ids, publish

NOW = datetime.now(UTC).replace(microsecond=0)


def plate(i: int) -> str:
    return f"SK {1000 + i} AB"


def exits(n: int) -> list[dict[str, Any]]:
    return [crossing(event_id=f"x{i}", plate=plate(i), seals=[f"S{i}"],
                     event_time=(NOW - timedelta(minutes=30)).isoformat()) for i in range(n)]


def entries(n: int, seals: Callable[[int], str] = lambda i: f"S{i}") -> list[dict[str, Any]]:
    return [crossing(event_id=f"n{i}", plate=plate(i), admin="AL", post="ALQTH01",
                     direction="ENTRY", terminal_id="al-1", seals=[seals(i)],
                     event_time=(NOW - timedelta(minutes=10)).isoformat()) for i in range(n)]


def test_restarted_worker_recovers_pending_state(settings: Settings,
                                                 spawn: Callable[..., Proc]) -> None:
    n = 40  # several pending vehicles per partition: multi-record changelog batches
    publish(settings, exits(n))
    worker = spawn(["streams", "worker"], settings)
    reader = Reader(settings, ["crossings", "matched"])
    try:
        reader.wait(lambda g: len(g["crossings"]) >= n, 90, "the exits forwarded")
        time.sleep(4)  # let Faust commit the input offsets (commit interval ~2.8 s)
        assert worker.stop() == 0, worker.output()[-3000:]
        publish(settings, entries(n))
        again = spawn(["streams", "worker"], settings)
        got = reader.wait(lambda g: len(g["matched"]) >= n, 120, "the pairs after the restart")
        reader.poll(3)
        assert again.popen.poll() is None, again.output()[-3000:]
    finally:
        reader.close()
    # Matched across the restart: the pending exits came back from the changelog. Each exit was
    # forwarded once: the new worker did not lose its committed offsets and see them again.
    assert pair_ids(got) == {(f"x{i}", f"n{i}") for i in range(n)}
    assert len(got["matched"]) == n
    ids = [r["event_id"] for r in got["crossings"]]
    assert sorted(ids) == sorted({*ids}) and len(ids) == 2 * n


def outputs(got: dict[str, list[Any]]) -> dict[str, set[Any]]:
    return {
        "crossings": {r["event_id"] for r in got["crossings"]},
        "matched": pair_ids(got),
        "alerts": {a["alert_id"] for a in got["alerts"]},
        "share.al-customs": {(s["stream"], str(sorted(s["record"].items()))[:60])
                             for s in got["share.al-customs"] if s["stream"] != "alerts"},
    }


def test_two_workers_produce_the_same_outputs_as_one(make_settings: Callable[..., Settings],
                                                     spawn: Callable[..., Proc]) -> None:
    n = 150
    events = exits(n) + entries(n, seals=lambda i: f"S{i}" if i % 10 else "BROKEN")
    events += [crossing(event_id="x1", plate=plate(1), seals=["edited"],
                        event_time=(NOW - timedelta(minutes=30)).isoformat())]  # conflicting
    events += exits(20)  # exact re-sends
    streams = ["crossings", "matched", "alerts", "share.al-customs"]
    results = []
    for workers in (1, 2):
        settings = make_settings()
        publish(settings, events)
        for _ in range(workers):
            spawn(["streams", "worker"], settings)
        reader = Reader(settings, streams)
        try:
            got = reader.wait(lambda g: len(g["matched"]) >= n and len(g["alerts"]) >= n // 10 + 1,
                              150, f"all pairs with {workers} worker(s)")
            reader.poll(3)
        finally:
            reader.close()
        results.append(outputs(got))
    one, two = results
    assert one == two
    assert len(one["matched"]) == n and len(one["alerts"]) == n // 10 + 1
