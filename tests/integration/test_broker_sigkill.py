"""The broker is SIGKILLed in the middle of traffic and started again: nothing accepted is lost,
the worker and the agency consumer resume on their own, and the topics kept their data."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bordersync.settings import Settings
from bordersync.topics import create_topics
from consumers.api import reader_for
from producers.sdk import Terminal
from tests.conftest import Proc, wait_for
from tests.integration.streams_support import Reader, pair_ids
from tooling import stack

AGENCY = "al-customs"
PAIRS = 120


# The batch parameter is the regression test of issue #15's stall: after the only node's SIGKILL
# and restart, librdkafka's send_offsets_to_transaction never returned (its re-bootstrap
# decommissioned the cached group coordinator: librdkafka #5511, #5456) and nothing was
# committed again. Now the producer does not re-bootstrap, and one that hangs is replaced
# (streams/runtime_writer.py); exactly-once also means nothing is visible twice.
@pytest.fixture(params=["batch", "faust"])
def own_stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """A stack of our own: killing its broker disturbs no other test. Both engines."""
    base = Settings(home=tmp_path / "own", dev_broker_port=stack.free_port(),
                    dev_redis_port=stack.free_port(), topic_prefix="kill.",
                    stream_engine=request.param, api_admin_port=0)
    info, _ = stack.up(base)
    try:
        live = base.model_copy(update={"bootstrap": info.bootstrap, "redis_url": info.redis_url})
        create_topics(live)
        yield live
    finally:
        stack.down(base)


def _pair(mk: Terminal, al: Terminal, n: int) -> tuple[str, str]:
    when = datetime.now(UTC) - timedelta(minutes=30)
    plate = f"KL {1000 + n} AB"
    exit_id = mk.record_crossing(direction="EXIT", plate=plate, nationality="MK",
                                 vehicle_type="TRUCK", event_time=when, event_id=f"x-{n:04d}")
    entry_id = al.record_crossing(direction="ENTRY", plate=plate, nationality="MK",
                                  vehicle_type="TRUCK", event_time=when + timedelta(minutes=20),
                                  event_id=f"e-{n:04d}")
    return exit_id, entry_id


def test_broker_sigkill_mid_traffic_loses_nothing_and_everyone_resumes(
        own_stack: Settings, spawn: Callable[..., Proc]) -> None:
    settings = own_stack
    worker = spawn(["streams", "worker"], settings)
    consumer = spawn(["consume", "--agency", AGENCY], settings)
    mk = Terminal(settings, "mk-kjf-booth-1", admin="MK", post="MKKJF01", message_timeout_ms=120_000)
    al = Terminal(settings, "al-qth-booth-1", admin="AL", post="ALQTH01", message_timeout_ms=120_000)
    pairs: list[tuple[str, str]] = []
    reader = Reader(settings, ["crossings", "matched"])
    try:
        pairs += [_pair(mk, al, n) for n in range(PAIRS // 2)]
        reader.wait(lambda got: len(got["matched"]) >= 10, 120, "traffic flowing before the kill")

        info = stack.read_state(settings.home.resolve())
        assert info is not None
        os.killpg(info.broker_pids[0], signal.SIGKILL)
        # Accepted while the broker is dead: the terminals' outboxes keep them.
        pairs += [_pair(mk, al, n) for n in range(PAIRS // 2, PAIRS)]
        stack.start_node(settings, 1)

        wait_for(lambda: mk.depth() == 0 and al.depth() == 0, 180, "the outboxes drain by themselves")
        got = reader.wait(lambda got: pair_ids(got) >= set(pairs), 240,
                          "every pair matched after the restart")
        forwarded = {c["event_id"] for c in got["crossings"]}
        assert {i for p in pairs for i in p} <= forwarded
        if settings.stream_engine == "batch":  # exactly-once: no record visible twice
            assert len(got["crossings"]) == len(forwarded)
            assert len(got["matched"]) == len(pair_ids(got))
        assert worker.popen.poll() is None, worker.output()[-3000:]
        assert consumer.popen.poll() is None, consumer.output()[-3000:]

        def read_model_complete() -> bool:
            # Every pair reaches the agency's read model: the consumer resumed by itself.
            stats = reader_for(settings, AGENCY).stats()
            return stats.get("matched", 0) >= PAIRS

        wait_for(read_model_complete, 180, "the read model has every pair")
    finally:
        reader.close()
        mk.close(timeout=5)
        al.close(timeout=5)
    # The topics kept what was written before the kill (no re-creation happened).
    again = Reader(settings, ["crossings"])
    try:
        again.wait(lambda got: {c["event_id"] for c in got["crossings"]} >= {"x-0000", "e-0000"},
                   60, "records from before the kill still on the topic")
    finally:
        again.close()
